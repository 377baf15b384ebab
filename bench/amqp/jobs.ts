/**
 * The jobs bench/amqp.ts gives its client child processes (bench/amqp/client-process.ts) and the
 * messages they exchange over the IPC channel. Both brokers get the same jobs, so the same
 * amqplib code runs against each.
 */

/** Publishes to `exchange` with `routingKey` until stopped or `maxMessages` are sent. */
export interface PublisherJob {
  role: "publisher";
  url: string;
  exchange: string;
  routingKey: string;
  /** A ConfirmChannel with at most `window` unconfirmed messages; a plain channel otherwise. */
  confirm: boolean;
  window: number;
  /** deliveryMode 2 (persistent) or 1 (transient). */
  persistent: boolean;
  bodyBytes: number;
  maxMessages: number;
  /** Messages per second, paced on a 1 ms tick; null = as fast as the channel takes them. */
  rate: number | null;
  /**
   * Writes the message's due time (process.hrtime.bigint(), ns, CLOCK_MONOTONIC, shared by all
   * processes of the machine) in the first 8 bytes of the body, for end-to-end latency.
   */
  stampDueTime: boolean;
}

/** One connection and one channel per queue, one consumer on each. */
export interface ConsumerJob {
  role: "consumer";
  url: string;
  queues: string[];
  /** Auto-ack (`noAck: true`) or manual acks, one basic.ack per message. */
  noAck: boolean;
  /** basic.qos prefetch count per channel (manual acks only). */
  prefetch: number;
  /** Record due time → delivery of stamped bodies into a latency histogram. */
  latency: boolean;
}

export type ClientJob = PublisherJob | ConsumerJob;

export type ParentCommand =
  | { cmd: "start" }
  /** Counts so far; `resetLatency` restarts the histogram (opens the measured window). */
  | { cmd: "mark"; resetLatency: boolean }
  | { cmd: "stop" };

export interface Counts {
  /** Publisher: messages handed to the channel. Consumer: messages delivered. */
  count: number;
  /** Publisher with confirms: messages acknowledged by the broker (basic.ack). */
  confirmed: number;
  nacked: number;
}

export type ChildMessage =
  | { type: "ready" }
  | ({ type: "mark" } & Counts)
  /** A publisher reached maxMessages and every confirm came back. */
  | ({ type: "done" } & Counts)
  | { type: "result"; result: Counts & Record<string, unknown> }
  | { type: "error"; message: string };
