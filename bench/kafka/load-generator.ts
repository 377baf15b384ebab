/**
 * The lean load generator: drives a broker as hard as the wire allows while spending as little
 * client CPU as possible, so the broker is what is measured. Runs in a child process of its own
 * (bench/kafka/client-process.ts) so it never shares an event loop with the broker or the
 * benchmark's bookkeeping.
 *
 * Produce: one RecordBatch v2 (`encodeBatch`, random values, no key, no compression) is built
 * once; every connection pre-encodes `depth` whole Produce v9 request frames around it (one per
 * pipelined slot, `encodeRequestFrame`), and from then on a request costs a 4-byte correlation
 * id patch and one `socket.write`. Connection i writes to partition i mod partitions. Each slot
 * sends its frame again as soon as its response arrives (`depth` requests always in flight per
 * connection). The broker assigns offsets, so the same batch bytes can be appended again and
 * again (no producer id: no sequence checks).
 *
 * Consume: ListOffsets finds each partition's end; one connection per partition fetches from
 * offset 0 with one Fetch v12 in flight (as a consumer does), counting records from the batch
 * headers only (no record decoding, no CRC check), until every partition's end is reached.
 *
 * Phases: a warm-up (not counted), then the measured window, bounded by seconds and by
 * records. The parent is told when the window opens and closes (`phase` callback) so it reads
 * the broker's CPU time at the same moments.
 */
import { randomBytes } from "node:crypto";
import {
  encodeBatch,
  readBaseOffset,
  readLastOffsetDelta,
} from "../../src/storage/record-batch.ts";
import { latencyHistogram, round, summarize } from "../harness.ts";
import { decodeResponse, WireConnection } from "./wire-client.ts";

export const produceVersion = 9;
export const fetchVersion = 12;
export const listOffsetsVersion = 4;
const batchHeaderBytes = 61;
const recordCountOffset = 57;

export type Phase = "measure-start" | "measure-end";

export interface ProduceLoadJob {
  tool: "produce-load";
  port: number;
  topic: string;
  partitions: number;
  connections: number;
  /** Requests in flight per connection. */
  depth: number;
  acks: number;
  recordBytes: number;
  batchRecords: number;
  warmupSeconds: number;
  seconds: number;
  recordsMax: number;
}

export interface ConsumeLoadJob {
  tool: "consume-load";
  port: number;
  topic: string;
  partitions: number;
  partitionMaxBytes: number;
  seconds: number;
  recordsMax: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function produceLoad(job: ProduceLoadJob, phase: (phase: Phase) => void) {
  const records = Array.from({ length: job.batchRecords }, () => ({
    value: randomBytes(job.recordBytes),
  }));
  const batch = encodeBatch(records);
  const connections = await Promise.all(
    Array.from({ length: job.connections }, () => WireConnection.connect("127.0.0.1", job.port)),
  );
  let measuring = false;
  let stopping = false;
  let measuredRecords = 0;
  let measuredRequests = 0;
  let warmupRecords = 0;
  let errors = 0;
  let firstError: string | null = null;
  const latency = latencyHistogram();
  let startNs = 0n;
  let endNs = 0n;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });

  const endWindow = () => {
    if (!measuring) return;
    measuring = false;
    stopping = true;
    endNs = process.hrtime.bigint();
    phase("measure-end");
    finish();
  };

  const lane = async (connection: WireConnection, frame: Buffer) => {
    while (!stopping) {
      const sent = process.hrtime.bigint();
      const response = await connection.sendFrame(frame);
      const now = process.hrtime.bigint();
      const body = decodeResponse(0, produceVersion, response);
      const partition = body.responses[0]?.partitionResponses[0];
      if (partition?.errorCode !== 0) {
        errors++;
        firstError ??= `error code ${partition?.errorCode} ${partition?.errorMessage ?? ""}`;
        if (errors > 100) {
          stopping = true;
          finish();
        }
        continue;
      }
      if (measuring) {
        measuredRecords += job.batchRecords;
        measuredRequests++;
        latency.recordValue(Math.max(1, Math.round(Number(now - sent) / 1000)));
        if (measuredRecords >= job.recordsMax) endWindow();
      } else if (!stopping) {
        warmupRecords += job.batchRecords;
      }
    }
  };

  const lanes: Promise<void>[] = [];
  connections.forEach((connection, index) => {
    const partition = index % job.partitions;
    for (let slot = 0; slot < job.depth; slot++) {
      const frame = WireConnection.encodeFrame(0, produceVersion, {
        transactionalId: null,
        acks: job.acks,
        timeoutMs: 30_000,
        topicData: [{ name: job.topic, partitionData: [{ index: partition, records: batch }] }],
      });
      lanes.push(lane(connection, frame));
    }
  });
  const laneFailure = Promise.all(lanes).then(
    () => undefined,
    (error: unknown) => error,
  );

  await Promise.race([sleep(job.warmupSeconds * 1000), laneFailure]);
  let timer: NodeJS.Timeout | undefined;
  if (!stopping) {
    measuring = true;
    startNs = process.hrtime.bigint();
    phase("measure-start");
    timer = setTimeout(endWindow, job.seconds * 1000);
  }
  // Ends when the window closes (then the lanes drain their requests in flight) or a lane fails.
  const failure = await Promise.race([finished.then(() => laneFailure), laneFailure]);
  clearTimeout(timer);
  endWindow();
  stopping = true;
  for (const connection of connections) connection.close();
  if (failure instanceof Error) throw failure;
  if (errors > 0)
    throw new Error(`${errors} produce requests failed, the first with ${firstError}`);
  const seconds = Number(endNs - startNs) / 1e9;
  return {
    records: measuredRecords,
    requests: measuredRequests,
    seconds: round(seconds, 3),
    warmup_records: warmupRecords,
    batch_bytes: batch.length,
    errors,
    first_error: firstError,
    request_latency: summarize(latency),
  };
}

/** Walks the complete batches of a Fetch response's records; returns [records, next offset]. */
function countBatches(records: Buffer, fetchOffset: number): [number, number] {
  let pos = 0;
  let count = 0;
  let next = fetchOffset;
  while (pos + batchHeaderBytes <= records.length) {
    const size = records.readInt32BE(pos + 8) + 12;
    if (pos + size > records.length) break;
    const base = readBaseOffset(records, pos);
    const last = base + readLastOffsetDelta(records, pos);
    if (last >= next) {
      // A batch that starts before the fetch offset counts only its records from there on
      // (Kafka returns whole batches); the record count of the header covers the whole batch.
      count += base >= next ? records.readInt32BE(pos + recordCountOffset) : last - next + 1;
      next = last + 1;
    }
    pos += size;
  }
  return [count, next];
}

export async function consumeLoad(job: ConsumeLoadJob, phase: (phase: Phase) => void) {
  const control = await WireConnection.connect("127.0.0.1", job.port);
  const offsets = await control.request(2, listOffsetsVersion, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name: job.topic,
        partitions: Array.from({ length: job.partitions }, (_, index) => ({
          partitionIndex: index,
          currentLeaderEpoch: -1,
          timestamp: -1,
        })),
      },
    ],
  });
  control.close();
  const ends = new Map<number, number>();
  for (const partition of offsets.topics[0]?.partitions ?? []) {
    if (partition.errorCode !== 0) {
      throw new Error(
        `ListOffsets partition ${partition.partitionIndex}: error ${partition.errorCode}`,
      );
    }
    ends.set(partition.partitionIndex, partition.offset ?? 0);
  }
  const totalAvailable = [...ends.values()].reduce((sum, end) => sum + end, 0);
  const connections = await Promise.all(
    Array.from({ length: job.partitions }, () => WireConnection.connect("127.0.0.1", job.port)),
  );
  let records = 0;
  let bytes = 0;
  let fetches = 0;
  let stopping = false;
  const deadline = Date.now() + job.seconds * 1000;
  const startNs = process.hrtime.bigint();
  phase("measure-start");
  const reader = async (connection: WireConnection, partition: number) => {
    let offset = 0;
    const end = ends.get(partition) ?? 0;
    while (!stopping && offset < end) {
      const response = await connection.request(1, fetchVersion, {
        replicaId: -1,
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: 64 * 1024 * 1024,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic: job.topic,
            partitions: [
              {
                partition,
                currentLeaderEpoch: -1,
                fetchOffset: offset,
                lastFetchedEpoch: -1,
                logStartOffset: -1,
                partitionMaxBytes: job.partitionMaxBytes,
              },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: "",
      });
      fetches++;
      if (response.errorCode) throw new Error(`Fetch: error ${response.errorCode}`);
      const data = response.responses[0]?.partitions[0];
      if (!data) throw new Error("Fetch: no partition in the response");
      if (data.errorCode !== 0)
        throw new Error(`Fetch partition ${partition}: error ${data.errorCode}`);
      const buffer = data.records;
      if (buffer === null || buffer.length === 0) continue;
      const [count, next] = countBatches(buffer, offset);
      if (next === offset) {
        throw new Error(`Fetch partition ${partition}: no whole batch in ${buffer.length} bytes`);
      }
      records += count;
      bytes += buffer.length;
      offset = next;
      if (records >= job.recordsMax || Date.now() > deadline) stopping = true;
    }
  };
  await Promise.all(connections.map((connection, index) => reader(connection, index)));
  const endNs = process.hrtime.bigint();
  phase("measure-end");
  for (const connection of connections) connection.close();
  return {
    records,
    wire_bytes: bytes,
    fetches,
    seconds: round(Number(endNs - startNs) / 1e9, 3),
    records_available: totalAvailable,
  };
}
