/**
 * One virtual host: a Router (exchanges and bindings, the predeclared `amq.*` exchanges), its
 * queues (classic queues of the queue engine, and stream queues on WharfMQ streams), their
 * durable definitions, publish routing, dead-lettering and permission checks, with RabbitMQ's
 * semantics and wording (rabbit_channel.erl, rabbit_amqqueue.erl, rabbit_misc.erl).
 *
 * Durability of definitions: durable exchanges and queues, and the bindings between durable
 * things, are one document (`vhost-definitions.ts`). Every change rewrites it from the
 * in-memory state (`persist`), and changes that arrive while a write is in flight share the
 * next write (group commit), so declaring many queues costs few fsyncs. A queue's logs are
 * created before its definition is written and deleted after its definition is removed; logs
 * that no definition claims (a crash in between) are deleted on open, as are all transient
 * queues' logs.
 *
 * Ordering: configuration changes (declare, delete, bind, unbind) run one at a time
 * (`serial`), so that two channels declaring the same queue see one queue; publish, consume
 * and get are synchronous on the in-memory state and never wait for them. The wait for the
 * definitions write happens outside the serial section.
 *
 * Bindings to streams: binding to a stream queue is an ordinary queue binding (the router's
 * destination kind "queue"; publish sees the queue is a stream). In vhost "/" a queue.bind
 * whose queue name is not a queue but an existing Kafka topic binds to that topic (destination
 * kind "stream"): publishes append to its partition 0 as a stream queue does.
 */
import { randomBytes } from "node:crypto";
import { amqpResourceNameBytesMax, queuesPerVhostMax } from "../../config/limits.ts";
import { isWharfError } from "../../errors/index.ts";
import type { Logger } from "../../logging/logger.ts";
import type { LogStore } from "../../storage/log-store.ts";
import type { UserStore } from "../auth/user-store.ts";
import { DefinitionsStore } from "../definitions-store.ts";
import { type DeadLetter, Queue } from "../queues/queue.ts";
import {
  fieldTypeName,
  parseQueueArguments,
  type QueueSettings,
} from "../queues/queue-arguments.ts";
import type {
  ConsumerRegistration,
  InboundMessage,
  PropertiesCodec,
  QueueConsumer,
} from "../queues/queue-types.ts";
import { fieldEquals } from "../routing/field-values.ts";
import {
  createRouter,
  DEFAULT_EXCHANGE,
  type ExchangeInfo,
  PREDECLARED_EXCHANGES,
  type Router,
} from "../routing/router.ts";
import {
  type Binding,
  type Destination,
  type FieldTable,
  type FieldValue,
  isRoutingError,
  RoutingError,
} from "../routing/types.ts";
import type { StreamRegistry } from "../streams/stream-registry.ts";
import { validateTopicName } from "../streams/topic-name.ts";
import {
  type DeadLetterReason,
  deadLetterProperties,
  isDeadLetterCycle,
  routingKeysOf,
} from "./dead-letter.ts";
import { tableFromJson, tableToJson } from "./field-json.ts";
import { parseMaxAge, parseStreamOffset, StreamQueue } from "./stream-queue.ts";
import {
  type BindingDefinition,
  durableQueueLogPrefix,
  type ExchangeDefinition,
  emptyVhostDocument,
  type QueueDefinition,
  queueIdOfLog,
  transientQueueLogPrefix,
  type VhostDocument,
  validateVhostDocument,
} from "./vhost-definitions.ts";
import type {
  ConsumeOptions,
  ExchangeDeclareOptions,
  GetResult,
  PublishOptions,
  PublishResult,
  QueueDeclareOptions,
  QueueDeclareResult,
  QueueInfo,
  SessionIdentity,
  VirtualHostApi,
} from "./virtual-host-api.ts";

export interface VirtualHostContext {
  readonly name: string;
  /** Stable small integer naming the vhost's files and logs. */
  readonly id: number;
  readonly definitionsPath: string;
  readonly logStore: LogStore;
  readonly streams: StreamRegistry;
  readonly users: UserStore;
  readonly codec: PropertiesCodec | undefined;
  readonly logger: Logger;
  /** Every log name in the store at open (for orphan cleanup); null skips the cleanup. */
  readonly existingLogs: readonly string[] | null;
  readonly now?: () => number;
}

type QueueType = "classic" | "stream";

interface QueueEntry {
  readonly name: string;
  readonly type: QueueType;
  readonly durable: boolean;
  readonly autoDelete: boolean;
  /** The owning connection of an exclusive queue. */
  readonly owner: string | null;
  readonly arguments: FieldTable;
  /** Durable queues: the persisted id; transient: a process-local counter. */
  readonly id: number;
  readonly destination: Destination;
  readonly settings: QueueSettings | null;
  readonly classic: Queue | null;
  readonly stream: StreamQueue | null;
  readonly expiresMs: number | undefined;
  expiryTimer: NodeJS.Timeout | null;
  /** Last declare, consume, cancel or get (x-expires counts from here). */
  usedAt: number;
  deleted: boolean;
}

/** Arguments compared on redeclare (rabbit_amqqueue:declare_args/0 and the stream ones). */
const EQUIVALENCE_ARGUMENTS = [
  "x-expires",
  "x-message-ttl",
  "x-dead-letter-exchange",
  "x-dead-letter-routing-key",
  "x-max-length",
  "x-max-length-bytes",
  "x-max-priority",
  "x-overflow",
  "x-single-active-consumer",
  "x-queue-type",
  "x-delivery-limit",
  "x-max-age",
  "x-stream-max-segment-size-bytes",
];

const PREDECLARED = new Set<string>([DEFAULT_EXCHANGE, ...PREDECLARED_EXCHANGES.map(([n]) => n)]);
const ACK_UNROUTED: PublishResult = Object.freeze({ routed: false, outcome: "ack" });
const ACK_ROUTED: PublishResult = Object.freeze({ routed: true, outcome: "ack" });
const NACK_ROUTED: PublishResult = Object.freeze({ routed: true, outcome: "nack" });
const toAck = (): "ack" => "ack";
const toNack = (): "nack" => "nack";

/** How many queues open at once when a vhost starts (bounded so startup I/O stays sane). */
const OPEN_CONCURRENCY = 16;

let transientCounter = 0;

function quote(value: FieldValue): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("utf8");
  if (value instanceof Date) return String(Math.floor(value.getTime() / 1000));
  return String(value);
}

/** rabbit_misc:val/1: how an argument is shown in an inequivalence message. */
function shownArgument(value: FieldValue): string {
  if (value === undefined) return "none";
  return `the value '${quote(value)}' of type '${fieldTypeName(value)}'`;
}

function nameBytesOk(name: string): boolean {
  return Buffer.byteLength(name) <= amqpResourceNameBytesMax;
}

export class VirtualHost implements VirtualHostApi {
  readonly name: string;
  readonly router: Router;
  private readonly queues = new Map<string, QueueEntry>();
  /** connection id → names of the exclusive queues it owns */
  private readonly exclusives = new Map<string, Set<string>>();
  /** Reused by publish (routing is synchronous, so one array serves every publish). */
  private readonly routed: Destination[] = [];
  /** user → exchange → may publish (see `mayPublish`). */
  private readonly publishAllowed = new Map<string, Map<string, boolean>>();
  private publishGeneration = -1;
  private serialTail: Promise<unknown> = Promise.resolve();
  private persistRunning: Promise<void> | null = null;
  private persistQueued: Promise<void> | null = null;
  private nextQueueId: number;
  private closed = false;
  private readonly now: () => number;

  private constructor(
    private readonly context: VirtualHostContext,
    private readonly definitions: DefinitionsStore<VhostDocument>,
  ) {
    this.name = context.name;
    this.now = context.now ?? Date.now;
    this.nextQueueId = definitions.current.nextQueueId;
    this.router = createRouter({ queueExists: (name) => this.queues.has(name) });
  }

  static async open(context: VirtualHostContext): Promise<VirtualHost> {
    const definitions = await DefinitionsStore.open<VhostDocument>(
      context.definitionsPath,
      emptyVhostDocument(),
      validateVhostDocument(context.definitionsPath),
    );
    const vhost = new VirtualHost(context, definitions);
    await vhost.restore();
    return vhost;
  }

  get id(): number {
    return this.context.id;
  }

  // ---- restore ---------------------------------------------------------------------------

  private async restore(): Promise<void> {
    const document = this.definitions.current;
    const logger = this.context.logger;
    for (const x of document.exchanges) {
      try {
        this.router.declareExchange(
          x.name,
          x.type,
          {
            durable: true,
            autoDelete: x.autoDelete,
            internal: x.internal,
            arguments: tableFromJson(x.arguments),
          },
          true,
        );
      } catch (error) {
        logger.error({ err: error, exchange: x.name }, "stored exchange not restored");
      }
    }
    const claimed = new Set<number>();
    for (const q of document.queues) claimed.add(q.id);
    if (this.context.existingLogs !== null) await this.removeOrphanLogs(claimed);
    const queue = [...document.queues];
    const workers: Promise<void>[] = [];
    for (let i = 0; i < OPEN_CONCURRENCY; i++) {
      workers.push(
        (async () => {
          for (let q = queue.shift(); q !== undefined; q = queue.shift()) {
            try {
              await this.restoreQueue(q);
            } catch (error) {
              logger.error({ err: error, queue: q.name }, "stored queue not restored");
            }
          }
        })(),
      );
    }
    await Promise.all(workers);
    for (const b of document.bindings) {
      const destination =
        b.kind === "queue" && !this.queues.has(b.destination)
          ? null
          : b.kind === "stream" && this.context.streams.get(b.destination) === undefined
            ? null
            : this.router.destination(b.kind, b.destination);
      if (destination === null) continue;
      try {
        this.router.bind(b.source, destination, b.routingKey, tableFromJson(b.arguments));
      } catch (error) {
        logger.warn({ err: error, binding: b }, "stored binding not restored");
      }
    }
    // Restored queues with x-expires start their clock now (RabbitMQ does the same).
    for (const entry of this.queues.values()) this.scheduleExpiry(entry);
  }

  private async removeOrphanLogs(claimed: Set<number>): Promise<void> {
    for (const logName of this.context.existingLogs ?? []) {
      const id = queueIdOfLog(this.context.id, logName);
      if (id === null || claimed.has(id)) continue;
      this.context.logger.warn({ log: logName }, "deleting a queue log that no queue claims");
      await this.context.logStore.deleteLog(logName);
    }
  }

  private async restoreQueue(q: QueueDefinition): Promise<void> {
    const args = tableFromJson(q.arguments);
    if (q.type === "stream") {
      const topic = q.topic ?? q.name;
      const partition = this.context.streams.get(topic)?.partitions[0];
      if (partition === undefined) {
        this.context.logger.warn(
          { queue: q.name, topic },
          "stream queue's topic is gone; queue dropped",
        );
        return;
      }
      this.addEntry(q.name, "stream", true, q.autoDelete, null, args, q.id, null, null, partition);
      return;
    }
    const settings = parseQueueArguments(q.name, this.name, args);
    const classic = await this.openClassic(
      q.name,
      durableQueueLogPrefix(this.context.id, q.id),
      true,
      settings,
    );
    this.addEntry(q.name, "classic", true, q.autoDelete, null, args, q.id, settings, classic, null);
  }

  private openClassic(
    name: string,
    logPrefix: string,
    durable: boolean,
    settings: QueueSettings,
  ): Promise<Queue> {
    return Queue.open({
      name,
      vhost: this.name,
      logStore: this.context.logStore,
      logPrefix,
      durable,
      settings,
      logger: this.context.logger,
      onDeadLetter: (dl: DeadLetter) => this.deadLetter(dl),
      onUnused: () => this.queueUnused(name),
      now: this.context.now,
    });
  }

  private addEntry(
    name: string,
    type: QueueType,
    durable: boolean,
    autoDelete: boolean,
    owner: string | null,
    args: FieldTable,
    id: number,
    settings: QueueSettings | null,
    classic: Queue | null,
    partition: import("../streams/partition.ts").Partition | null,
  ): QueueEntry {
    const stream =
      partition === null
        ? null
        : new StreamQueue({
            name,
            partition,
            codec: this.context.codec,
            logger: this.context.logger,
            onUnused: () => this.queueUnused(name),
          });
    const expires = args["x-expires"];
    const entry: QueueEntry = {
      name,
      type,
      durable,
      autoDelete,
      owner,
      arguments: args,
      id,
      destination: this.router.destination("queue", name),
      settings,
      classic,
      stream,
      expiresMs:
        settings?.expiresMs ??
        (typeof expires === "number" || typeof expires === "bigint" ? Number(expires) : undefined),
      expiryTimer: null,
      usedAt: this.now(),
      deleted: false,
    };
    this.queues.set(name, entry);
    if (owner !== null) {
      let set = this.exclusives.get(owner);
      if (set === undefined) this.exclusives.set(owner, (set = new Set()));
      set.add(name);
    }
    return entry;
  }

  // ---- helpers ---------------------------------------------------------------------------

  private rs(kind: "queue" | "exchange", name: string): string {
    return `${kind} '${name}' in vhost '${this.name}'`;
  }

  private queueOrDie(name: string): QueueEntry {
    const entry = this.queues.get(name);
    if (entry === undefined) throw new RoutingError("NOT_FOUND", `no ${this.rs("queue", name)}`);
    return entry;
  }

  private exchangeOrDie(name: string): void {
    if (!this.router.hasExchange(name))
      throw new RoutingError("NOT_FOUND", `no ${this.rs("exchange", name)}`);
  }

  /** rabbit_amqqueue:check_exclusive_access/2 (non-strict): another connection's exclusive queue. */
  private checkExclusive(who: SessionIdentity, entry: QueueEntry): void {
    if (entry.owner !== null && entry.owner !== who.connectionId) this.lockedError(entry.name);
  }

  private lockedError(name: string): never {
    throw new RoutingError(
      "RESOURCE_LOCKED",
      `cannot obtain exclusive access to locked ${this.rs("queue", name)}. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.`,
    );
  }

  private checkNotDefault(name: string): void {
    if (name === DEFAULT_EXCHANGE)
      throw new RoutingError("ACCESS_REFUSED", "operation not permitted on the default exchange");
  }

  private checkName(kind: "queue" | "exchange", name: string): void {
    if (!nameBytesOk(name))
      throw new RoutingError(
        "PRECONDITION_FAILED",
        `${kind} name too long: ${Buffer.byteLength(name)} bytes`,
      );
    if (name.startsWith("amq."))
      throw new RoutingError(
        "ACCESS_REFUSED",
        `${kind} name '${name}' contains reserved prefix 'amq.*'`,
      );
  }

  private notClosed(): void {
    if (this.closed) throw new RoutingError("NOT_ALLOWED", `vhost '${this.name}' is closed`);
  }

  /** Runs configuration changes one at a time. */
  private serial<T>(work: () => Promise<T> | T): Promise<T> {
    const run = this.serialTail.then(work, work);
    this.serialTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Makes the current durable state durable: one write carries every change made before it
   * starts; changes during a write share the next one.
   */
  private persist(): Promise<void> {
    if (this.persistQueued !== null) return this.persistQueued;
    const previous = this.persistRunning ?? Promise.resolve();
    const next: Promise<void> = previous
      .catch(() => undefined)
      .then(() => {
        this.persistQueued = null;
        this.persistRunning = next;
        return this.definitions.update((draft) => {
          const snapshot = this.snapshot();
          draft.nextQueueId = snapshot.nextQueueId;
          draft.exchanges = snapshot.exchanges;
          draft.queues = snapshot.queues;
          draft.bindings = snapshot.bindings;
        });
      })
      .finally(() => {
        if (this.persistRunning === next) this.persistRunning = null;
      });
    this.persistQueued = next;
    return next;
  }

  private isDurableQueue(entry: QueueEntry): boolean {
    return entry.durable && entry.owner === null;
  }

  private isDurableDestination(destination: Destination): boolean {
    if (destination.kind === "stream") return true;
    if (destination.kind === "exchange")
      return this.router.getExchange(destination.name)?.durable === true;
    const entry = this.queues.get(destination.name);
    return entry !== undefined && this.isDurableQueue(entry);
  }

  private durableExchangeCount(): number {
    let count = 0;
    for (const name of this.router.exchangeNames())
      if (this.router.getExchange(name)!.durable) count++;
    return count;
  }

  private snapshot(): VhostDocument {
    const exchanges: ExchangeDefinition[] = [];
    for (const name of this.router.exchangeNames()) {
      if (PREDECLARED.has(name)) continue;
      const x = this.router.getExchange(name)!;
      if (!x.durable) continue;
      exchanges.push({
        name,
        type: x.type,
        autoDelete: x.autoDelete,
        internal: x.internal,
        arguments: tableToJson(x.arguments),
      });
    }
    const queues: QueueDefinition[] = [];
    for (const entry of this.queues.values()) {
      if (!this.isDurableQueue(entry)) continue;
      const q: QueueDefinition = {
        name: entry.name,
        id: entry.id,
        type: entry.type,
        autoDelete: entry.autoDelete,
        arguments: tableToJson(entry.arguments),
      };
      if (entry.stream !== null) q.topic = entry.stream.topic;
      queues.push(q);
    }
    const bindings: BindingDefinition[] = [];
    for (const b of this.router.bindings()) {
      if (this.router.getExchange(b.source)?.durable !== true) continue;
      if (!this.isDurableDestination(b.destination)) continue;
      bindings.push({
        source: b.source,
        kind: b.destination.kind,
        destination: b.destination.name,
        routingKey: b.routingKey,
        arguments: tableToJson(b.arguments),
      });
    }
    return { version: 1, nextQueueId: this.nextQueueId, exchanges, queues, bindings };
  }

  private check(
    who: SessionIdentity,
    kind: "configure" | "write" | "read",
    resource: "queue" | "exchange",
    name: string,
  ): void {
    this.context.users.check(who.user, this.name, kind, resource, name);
  }

  // ---- exchanges -------------------------------------------------------------------------

  async declareExchange(
    who: SessionIdentity,
    name: string,
    type: string,
    options: ExchangeDeclareOptions,
  ): Promise<void> {
    this.notClosed();
    if (options.passive) {
      this.checkNotDefault(name);
      this.exchangeOrDie(name);
      return;
    }
    if (!["direct", "fanout", "topic", "headers"].includes(type))
      throw new RoutingError("COMMAND_INVALID", `unknown exchange type '${type}'`);
    this.checkNotDefault(name);
    this.check(who, "configure", "exchange", name);
    const durable = options.durable ?? false;
    const autoDelete = options.autoDelete ?? false;
    const internal = options.internal ?? false;
    const args = options.arguments ?? {};
    const changed = await this.serial(() => {
      const existing = this.router.getExchange(name);
      if (existing === undefined) {
        this.checkName("exchange", name);
        const ae = args["alternate-exchange"];
        if (ae !== undefined) {
          if (typeof ae !== "string")
            throw new RoutingError(
              "PRECONDITION_FAILED",
              `invalid type '${fieldTypeName(ae)}' for arg 'alternate-exchange'`,
            );
          this.check(who, "read", "exchange", name);
          this.check(who, "write", "exchange", ae);
        }
        this.router.declareExchange(name, type, { durable, autoDelete, internal, arguments: args });
        return durable;
      }
      const rs = this.rs("exchange", name);
      const field = (key: string, current: string | boolean, received: string | boolean) =>
        requireEquivalent(rs, key, current, received);
      field("type", existing.type, type);
      field("durable", existing.durable, durable);
      field("auto_delete", existing.autoDelete, autoDelete);
      field("internal", existing.internal, internal);
      const current = existing.arguments["alternate-exchange"];
      const received = args["alternate-exchange"];
      if (!fieldEquals(current, received))
        throw new RoutingError(
          "PRECONDITION_FAILED",
          `inequivalent arg 'alternate-exchange' for ${rs}: received ${shownArgument(received)} but current is ${shownArgument(current)}`,
        );
      return false;
    });
    if (changed) await this.persist();
  }

  async deleteExchange(
    who: SessionIdentity,
    name: string,
    options: { ifUnused?: boolean },
  ): Promise<void> {
    this.notClosed();
    this.checkNotDefault(name);
    this.check(who, "configure", "exchange", name);
    if (PREDECLARED.has(name))
      throw new RoutingError(
        "ACCESS_REFUSED",
        `deletion of system ${this.rs("exchange", name)} refused`,
      );
    const durable = await this.serial(() => {
      const x = this.router.getExchange(name);
      if (x === undefined) return false; // RabbitMQ 3.x: deleting a missing exchange is ok
      if (options.ifUnused && this.router.bindings(name).next().done !== true)
        throw new RoutingError("PRECONDITION_FAILED", `${this.rs("exchange", name)} in use`);
      this.router.deleteExchange(name);
      return x.durable;
    });
    if (durable) await this.persist();
  }

  async bindExchange(
    who: SessionIdentity,
    destination: string,
    source: string,
    routingKey: string,
    args: FieldTable,
  ): Promise<void> {
    await this.exchangeBinding(who, destination, source, routingKey, args, true);
  }

  async unbindExchange(
    who: SessionIdentity,
    destination: string,
    source: string,
    routingKey: string,
    args: FieldTable,
  ): Promise<void> {
    await this.exchangeBinding(who, destination, source, routingKey, args, false);
  }

  private async exchangeBinding(
    who: SessionIdentity,
    destination: string,
    source: string,
    routingKey: string,
    args: FieldTable,
    add: boolean,
  ): Promise<void> {
    this.notClosed();
    this.checkNotDefault(source);
    this.checkNotDefault(destination);
    this.check(who, "write", "exchange", destination);
    this.check(who, "read", "exchange", source);
    const durable = await this.serial(() => {
      this.exchangeOrDie(source);
      this.exchangeOrDie(destination);
      const target = this.router.destination("exchange", destination);
      const durableBinding =
        this.router.getExchange(source)!.durable && this.router.getExchange(destination)!.durable;
      const exchangesBefore = this.durableExchangeCount();
      const changed = add
        ? this.router.bind(source, target, routingKey, args)
        : this.router.unbind(source, target, routingKey, args);
      return (changed && durableBinding) || this.durableExchangeCount() !== exchangesBefore;
    });
    if (durable) await this.persist();
  }

  // ---- queues ----------------------------------------------------------------------------

  async declareQueue(
    who: SessionIdentity,
    name: string,
    options: QueueDeclareOptions,
  ): Promise<QueueDeclareResult> {
    this.notClosed();
    if (options.passive) {
      const entry = this.queueOrDie(name);
      this.checkExclusive(who, entry);
      this.touch(entry); // a passive declare is a use (x-expires), as in RabbitMQ
      return this.declareResult(entry);
    }
    const queueName = name === "" ? `amq.gen-${randomBytes(16).toString("base64url")}` : name;
    if (name !== "") this.checkName("queue", name);
    this.check(who, "configure", "queue", queueName);
    const { entry, created } = await this.serial(() => this.declareSerial(who, queueName, options));
    if (created && this.isDurableQueue(entry)) {
      try {
        await this.persist();
      } catch (error) {
        await this.removeQueue(entry).catch(() => undefined);
        throw error;
      }
    }
    return this.declareResult(entry);
  }

  private declareResult(entry: QueueEntry): QueueDeclareResult {
    return {
      queue: entry.name,
      messageCount: this.readyCount(entry),
      consumerCount: this.consumerCount(entry),
    };
  }

  private readyCount(entry: QueueEntry): number {
    return entry.classic?.messagesReady ?? entry.stream?.messagesReady ?? 0;
  }

  private consumerCount(entry: QueueEntry): number {
    return entry.classic?.consumerCount ?? entry.stream?.consumerCount ?? 0;
  }

  private async declareSerial(
    who: SessionIdentity,
    name: string,
    options: QueueDeclareOptions,
  ): Promise<{ entry: QueueEntry; created: boolean }> {
    const durable = options.durable ?? false;
    const autoDelete = options.autoDelete ?? false;
    const exclusive = options.exclusive ?? false;
    const args = options.arguments ?? {};
    const existing = this.queues.get(name);
    if (existing !== undefined) {
      this.assertEquivalent(existing, durable, autoDelete, exclusive, who, args);
      this.touch(existing);
      return { entry: existing, created: false };
    }
    if (this.queues.size >= queuesPerVhostMax)
      throw new RoutingError(
        "PRECONDITION_FAILED",
        `cannot declare ${this.rs("queue", name)}: queue limit in vhost '${this.name}' (${queuesPerVhostMax}) is reached`,
      );
    const type = this.queueType(name, args);
    const dlx = args["x-dead-letter-exchange"];
    if (typeof dlx === "string") {
      this.check(who, "read", "queue", name);
      this.check(who, "write", "exchange", dlx);
    }
    const owner = exclusive ? who.connectionId : null;
    if (type === "stream") {
      if (!durable || exclusive || autoDelete) {
        const property = !durable ? "non-durable" : exclusive ? "exclusive" : "auto-delete";
        throw new RoutingError(
          "PRECONDITION_FAILED",
          `invalid property '${property}' for ${this.rs("queue", name)}`,
        );
      }
      const partition = await this.streamPartition(name, args);
      const id = this.nextQueueId++;
      const entry = this.addEntry(
        name,
        "stream",
        true,
        false,
        null,
        args,
        id,
        null,
        null,
        partition,
      );
      return { entry, created: true };
    }
    const settings = parseQueueArguments(name, this.name, args);
    const persistent = durable && !exclusive;
    const id = persistent ? this.nextQueueId++ : ++transientCounter;
    const prefix = persistent
      ? durableQueueLogPrefix(this.context.id, id)
      : transientQueueLogPrefix(this.context.id, id);
    const classic = await this.openClassic(name, prefix, persistent, settings);
    const entry = this.addEntry(
      name,
      "classic",
      durable,
      autoDelete,
      owner,
      args,
      id,
      settings,
      classic,
      null,
    );
    this.scheduleExpiry(entry);
    return { entry, created: true };
  }

  private queueType(name: string, args: FieldTable): QueueType {
    const value = args["x-queue-type"];
    if (value === undefined || value === null) return "classic";
    const text =
      typeof value === "string"
        ? value
        : value instanceof Uint8Array
          ? Buffer.from(value).toString()
          : null;
    // Quorum queues run as durable classic queues here: same client-visible semantics on one node.
    if (text === "classic" || text === "quorum") return "classic";
    if (text === "stream") return "stream";
    throw new RoutingError(
      "PRECONDITION_FAILED",
      `invalid arg 'x-queue-type' for ${this.rs("queue", name)}: {unsupported_queue_type,${quote(value)}}`,
    );
  }

  /** The topic of a stream queue: created (1 partition) unless it already exists. */
  private async streamPartition(name: string, args: FieldTable) {
    const topic = this.name === "/" ? name : `${this.name}.${name}`;
    try {
      validateTopicName(topic);
    } catch {
      throw new RoutingError(
        "PRECONDITION_FAILED",
        `stream ${this.rs("queue", name)}: '${topic}' is not a valid stream name (use [A-Za-z0-9._-])`,
      );
    }
    const existing = this.context.streams.get(topic);
    if (existing !== undefined) return existing.partitions[0]!;
    const config: Record<string, string> = {};
    const maxAge = args["x-max-age"];
    if (maxAge !== undefined) {
      const ms = typeof maxAge === "string" ? parseMaxAge(maxAge) : null;
      if (ms === null)
        throw new RoutingError(
          "PRECONDITION_FAILED",
          `invalid arg 'x-max-age' for ${this.rs("queue", name)}: {invalid_max_age,${quote(maxAge)}}`,
        );
      config["retention.ms"] = String(ms);
    }
    for (const [arg, key] of [
      ["x-max-length-bytes", "retention.bytes"],
      ["x-stream-max-segment-size-bytes", "segment.bytes"],
    ] as const) {
      const value = args[arg];
      if (value === undefined) continue;
      if ((typeof value !== "number" && typeof value !== "bigint") || Number(value) < 0)
        throw new RoutingError(
          "PRECONDITION_FAILED",
          `invalid arg '${arg}' for ${this.rs("queue", name)}: {unacceptable_type,${fieldTypeName(value)}}`,
        );
      config[key] = String(value);
    }
    try {
      const created = await this.context.streams.create(topic, 1, config);
      return created!.partitions[0]!;
    } catch (error) {
      if (isWharfError(error))
        throw new RoutingError(
          "PRECONDITION_FAILED",
          `stream ${this.rs("queue", name)}: ${error.message}`,
        );
      throw error;
    }
  }

  /** rabbit_amqqueue:assert_equivalence/5. */
  private assertEquivalent(
    entry: QueueEntry,
    durable: boolean,
    autoDelete: boolean,
    exclusive: boolean,
    who: SessionIdentity,
    args: FieldTable,
  ): void {
    const rs = this.rs("queue", entry.name);
    const field = (key: string, current: boolean, received: boolean) =>
      requireEquivalent(rs, key, current, received);
    field("durable", entry.durable, durable);
    field("auto_delete", entry.autoDelete, autoDelete);
    // Strict exclusive access: the owner must match, "no owner" included.
    const owner = exclusive ? who.connectionId : null;
    if (entry.owner !== owner) this.lockedError(entry.name);
    for (const key of EQUIVALENCE_ARGUMENTS) {
      const current = entry.arguments[key];
      const received = args[key];
      if (current === undefined && received === undefined) continue;
      if (current !== undefined && received !== undefined && fieldEquals(current, received))
        continue;
      throw new RoutingError(
        "PRECONDITION_FAILED",
        `inequivalent arg '${key}' for ${rs}: received ${shownArgument(received)} but current is ${shownArgument(current)}`,
      );
    }
  }

  async bindQueue(
    who: SessionIdentity,
    queue: string,
    exchange: string,
    routingKey: string,
    args: FieldTable,
  ): Promise<void> {
    await this.queueBinding(who, queue, exchange, routingKey, args, true);
  }

  async unbindQueue(
    who: SessionIdentity,
    queue: string,
    exchange: string,
    routingKey: string,
    args: FieldTable,
  ): Promise<void> {
    await this.queueBinding(who, queue, exchange, routingKey, args, false);
  }

  private async queueBinding(
    who: SessionIdentity,
    queue: string,
    exchange: string,
    routingKey: string,
    args: FieldTable,
    add: boolean,
  ): Promise<void> {
    this.notClosed();
    this.checkNotDefault(exchange);
    this.check(who, "write", "queue", queue);
    this.check(who, "read", "exchange", exchange);
    const durable = await this.serial(() => {
      const entry = this.queues.get(queue);
      let destination: Destination;
      if (entry !== undefined) {
        destination = entry.destination;
      } else if (this.name === "/" && this.context.streams.get(queue) !== undefined) {
        destination = this.router.destination("stream", queue);
      } else {
        throw new RoutingError("NOT_FOUND", `no ${this.rs("queue", queue)}`);
      }
      this.exchangeOrDie(exchange);
      if (entry !== undefined) this.checkExclusive(who, entry);
      const exchangesBefore = this.durableExchangeCount();
      const durableBinding =
        this.router.getExchange(exchange)?.durable === true &&
        this.isDurableDestination(destination);
      const changed = add
        ? this.router.bind(exchange, destination, routingKey, args)
        : this.router.unbind(exchange, destination, routingKey, args);
      return (changed && durableBinding) || this.durableExchangeCount() !== exchangesBefore;
    });
    if (durable) await this.persist();
  }

  async purgeQueue(who: SessionIdentity, queue: string): Promise<number> {
    this.notClosed();
    this.check(who, "read", "queue", queue);
    const entry = this.queueOrDie(queue);
    this.checkExclusive(who, entry);
    if (entry.classic === null)
      throw new RoutingError(
        "PRECONDITION_FAILED",
        `purge not supported by stream ${this.rs("queue", queue)}`,
      );
    return entry.classic.purge();
  }

  async deleteQueue(
    who: SessionIdentity,
    queue: string,
    options: { ifUnused?: boolean; ifEmpty?: boolean },
  ): Promise<number> {
    this.notClosed();
    this.check(who, "configure", "queue", queue);
    const entry = this.queues.get(queue);
    if (entry === undefined) return 0; // RabbitMQ 3.x: deleting a missing queue is ok
    this.checkExclusive(who, entry);
    if (options.ifUnused && this.consumerCount(entry) > 0)
      throw new RoutingError("PRECONDITION_FAILED", `${this.rs("queue", queue)} in use`);
    if (options.ifEmpty && this.readyCount(entry) > 0)
      throw new RoutingError("PRECONDITION_FAILED", `${this.rs("queue", queue)} is not empty`);
    return this.serial(() => this.removeQueue(entry));
  }

  /** Removes a queue: bindings, definition (made durable), then its data. */
  private async removeQueue(entry: QueueEntry): Promise<number> {
    if (entry.deleted) return 0;
    entry.deleted = true;
    const ready = this.readyCount(entry);
    if (this.queues.get(entry.name) === entry) this.queues.delete(entry.name);
    if (entry.owner !== null) {
      const set = this.exclusives.get(entry.owner);
      set?.delete(entry.name);
      if (set?.size === 0) this.exclusives.delete(entry.owner);
    }
    if (entry.expiryTimer !== null) clearTimeout(entry.expiryTimer);
    entry.expiryTimer = null;
    const exchangesBefore = this.durableExchangeCount();
    // Drops its bindings; auto-delete exchanges that lose their last binding go too.
    this.router.removeDestination(entry.destination);
    const changed = this.isDurableQueue(entry) || this.durableExchangeCount() !== exchangesBefore;
    if (changed && !this.closed) await this.persist();
    if (entry.classic !== null) await entry.classic.delete();
    if (entry.stream !== null) {
      entry.stream.close("queue-deleted");
      const topic = entry.stream.topic;
      if (this.context.streams.get(topic) !== undefined) await this.context.streams.delete(topic);
    }
    return ready;
  }

  // ---- auto-delete and x-expires ---------------------------------------------------------

  private touch(entry: QueueEntry): void {
    entry.usedAt = this.now();
    entry.classic?.touch();
    this.scheduleExpiry(entry);
  }

  /** The queue's last consumer left (or it expired in the engine's view). */
  private queueUnused(name: string): void {
    const entry = this.queues.get(name);
    if (entry === undefined || entry.deleted) return;
    if (entry.autoDelete && this.consumerCount(entry) === 0) {
      void this.serial(() => this.removeQueue(entry)).catch((error: unknown) =>
        this.context.logger.error({ err: error, queue: name }, "auto-delete failed"),
      );
      return;
    }
    this.touch(entry);
  }

  private scheduleExpiry(entry: QueueEntry): void {
    const expires = entry.expiresMs;
    if (expires === undefined || entry.deleted || this.closed) return;
    if (entry.expiryTimer !== null) clearTimeout(entry.expiryTimer);
    const delay = Math.max(0, entry.usedAt + expires - this.now());
    entry.expiryTimer = setTimeout(() => this.expiryDue(entry), delay);
    entry.expiryTimer.unref();
  }

  private expiryDue(entry: QueueEntry): void {
    entry.expiryTimer = null;
    if (entry.deleted || this.closed) return;
    const expires = entry.expiresMs!;
    if (this.consumerCount(entry) > 0) return; // rescheduled when the last consumer leaves
    const engineUsed = entry.classic?.lastUsedAt ?? entry.stream?.lastUsedAt ?? 0;
    const usedAt = Math.max(entry.usedAt, engineUsed);
    if (this.now() - usedAt < expires) {
      entry.usedAt = usedAt;
      this.scheduleExpiry(entry);
      return;
    }
    this.context.logger.debug({ queue: entry.name, vhost: this.name }, "queue expired (x-expires)");
    void this.serial(() => this.removeQueue(entry)).catch((error: unknown) =>
      this.context.logger.error({ err: error, queue: entry.name }, "x-expires delete failed"),
    );
  }

  // ---- publish ---------------------------------------------------------------------------

  publish(who: SessionIdentity, message: InboundMessage, _options: PublishOptions): PublishResult {
    const exchange = message.exchange;
    if (!this.mayPublish(who.user, exchange)) this.check(who, "write", "exchange", exchange);
    const headers = message.properties.headers;
    if (headers !== undefined && (headers.CC !== undefined || headers.BCC !== undefined))
      return this.publishSenderSelected(message);
    const out = this.routed;
    out.length = 0;
    try {
      this.router.routeInto(exchange, message.routingKey, headers, out);
    } catch (error) {
      throw this.vhostRoutingError(error, exchange);
    }
    return this.deliverAll(out, message, message.propertiesBytes);
  }

  /**
   * RabbitMQ's sender-selected distribution: the `CC` and `BCC` headers (arrays of strings)
   * are extra routing keys; `BCC` is removed from the stored message. The rare path: it
   * decodes and re-encodes properties when BCC is present.
   */
  private publishSenderSelected(message: InboundMessage): PublishResult {
    const properties = message.properties;
    const headers = properties.headers!;
    const keys = [message.routingKey];
    for (const name of ["CC", "BCC"]) {
      const list = headers[name];
      if (!Array.isArray(list)) continue;
      for (const key of list) {
        if (typeof key === "string") keys.push(key);
        else if (key instanceof Uint8Array) keys.push(Buffer.from(key).toString("utf8"));
      }
    }
    const out: Destination[] = [];
    const seen = new Set<Destination>();
    const each: Destination[] = [];
    for (const key of keys) {
      each.length = 0;
      try {
        this.router.routeInto(message.exchange, key, headers, each);
      } catch (error) {
        throw this.vhostRoutingError(error, message.exchange);
      }
      for (const destination of each) {
        if (seen.has(destination)) continue;
        seen.add(destination);
        out.push(destination);
      }
    }
    let propertiesBytes = message.propertiesBytes;
    const codec = this.context.codec;
    if (headers.BCC !== undefined && codec !== undefined && out.length > 0) {
      const { BCC: _removed, ...kept } = headers;
      propertiesBytes = codec.encode({ ...properties, headers: kept });
    }
    return this.deliverAll(out, message, propertiesBytes);
  }

  /** Enqueues into every routed destination and combines the outcomes. Empties `out`. */
  private deliverAll(
    out: Destination[],
    message: InboundMessage,
    propertiesBytes: Buffer,
  ): PublishResult {
    const count = out.length;
    if (count === 0) return ACK_UNROUTED;
    const properties = message.properties;
    const persistent = properties.deliveryMode === 2;
    const priority = properties.priority ?? 0;
    const expirationMs = parseExpiration(properties.expiration);
    if (count === 1) {
      const destination = out[0]!;
      out.length = 0;
      const outcome = this.deliverTo(
        destination,
        message.exchange,
        message.routingKey,
        propertiesBytes,
        message.body,
        persistent,
        priority,
        expirationMs,
      );
      if (outcome === "ack") return ACK_ROUTED;
      if (outcome === "nack") return NACK_ROUTED;
      return { routed: true, outcome };
    }
    let refused = false;
    let waits: Promise<"ack" | "nack">[] | null = null;
    for (let i = 0; i < count; i++) {
      const outcome = this.deliverTo(
        out[i]!,
        message.exchange,
        message.routingKey,
        propertiesBytes,
        message.body,
        persistent,
        priority,
        expirationMs,
      );
      if (outcome === "nack") refused = true;
      else if (outcome !== "ack") (waits ??= []).push(outcome);
    }
    out.length = 0;
    if (refused) return NACK_ROUTED;
    if (waits === null) return ACK_ROUTED;
    return { routed: true, outcome: allAck(waits) };
  }

  /**
   * Write permission on an exchange, memoized per (user, exchange) until users or
   * permissions change (the store's generation), so a publish costs two map lookups.
   */
  private mayPublish(user: string, exchange: string): boolean {
    const users = this.context.users;
    if (this.publishGeneration !== users.generation) {
      this.publishAllowed.clear();
      this.publishGeneration = users.generation;
    }
    let byExchange = this.publishAllowed.get(user);
    if (byExchange === undefined) {
      byExchange = new Map();
      this.publishAllowed.set(user, byExchange);
    }
    let allowed = byExchange.get(exchange);
    if (allowed === undefined) {
      allowed = users.allows(user, this.name, "write", "exchange", exchange);
      // Bounded: a client publishing to ever new exchange names must not grow memory.
      if (byExchange.size >= 1024) byExchange.clear();
      byExchange.set(exchange, allowed);
    }
    return allowed;
  }

  /** A routing error from the router, worded with the vhost as RabbitMQ does. */
  private vhostRoutingError(error: unknown, exchange: string): unknown {
    if (isRoutingError(error, "NOT_FOUND"))
      return new RoutingError("NOT_FOUND", `no ${this.rs("exchange", exchange)}`);
    if (isRoutingError(error, "ACCESS_REFUSED"))
      return new RoutingError(
        "ACCESS_REFUSED",
        `cannot publish to internal ${this.rs("exchange", exchange)}`,
      );
    return error;
  }

  /** Enqueues into one destination: "ack", "nack", or the durable outcome to wait for. */
  private deliverTo(
    destination: Destination,
    exchange: string,
    routingKey: string,
    propertiesBytes: Buffer,
    body: Buffer,
    persistent: boolean,
    priority: number,
    expirationMs: number | undefined,
  ): "ack" | "nack" | Promise<"ack" | "nack"> {
    if (destination.kind === "stream") {
      const partition = this.context.streams.get(destination.name)?.partitions[0];
      if (partition === undefined) return "ack"; // topic deleted since: as an unroutable message
      return this.topicAppender(destination.name, partition)
        .append(exchange, routingKey, propertiesBytes, body)
        .then(toAck, toNack);
    }
    const entry = this.queues.get(destination.name);
    if (entry === undefined) return "ack";
    if (entry.stream !== null)
      return entry.stream.append(exchange, routingKey, propertiesBytes, body).then(toAck, toNack);
    const result = entry.classic!.enqueue({
      exchange,
      routingKey,
      propertiesBytes,
      body,
      persistent,
      priority,
      expirationMs,
    });
    if (!result.accepted) return "nack";
    if (result.durable === null) return "ack";
    return result.durable.then(toAck, toNack);
  }

  /** Appenders for bare topics bound from exchanges (vhost "/"), batched as stream queues. */
  private readonly topicAppenders = new Map<string, StreamQueue>();

  private topicAppender(
    topic: string,
    partition: import("../streams/partition.ts").Partition,
  ): StreamQueue {
    let appender = this.topicAppenders.get(topic);
    if (appender === undefined || appender.readPartition() !== partition) {
      appender = new StreamQueue({
        name: topic,
        partition,
        codec: this.context.codec,
        logger: this.context.logger,
      });
      this.topicAppenders.set(topic, appender);
    }
    return appender;
  }

  // ---- dead-lettering --------------------------------------------------------------------

  /** A queue dead-lettered a message: republish it to the queue's dead-letter exchange. */
  private deadLetter(dl: DeadLetter): void {
    const entry = this.queues.get(dl.queue);
    const settings = entry?.settings;
    const dlx = settings?.deadLetterExchange;
    if (dlx === undefined || this.closed) return;
    if (!this.router.hasExchange(dlx)) {
      this.context.logger.debug(
        { queue: dl.queue, dlx },
        "dead-letter exchange missing; message dropped",
      );
      return;
    }
    const codec = this.context.codec;
    let propertiesBytes = dl.propertiesBytes;
    let persistent = false;
    let priority = 0;
    let headers: FieldTable | undefined;
    let deaths: readonly FieldValue[] = [];
    const reason = dl.reason as DeadLetterReason;
    const routingKey = settings?.deadLetterRoutingKey ?? dl.routingKey;
    if (codec !== undefined) {
      try {
        const properties = codec.decode(dl.propertiesBytes);
        const updated = deadLetterProperties(properties, {
          queue: dl.queue,
          reason,
          exchange: dl.exchange,
          routingKeys: routingKeysOf(dl.routingKey, properties),
          now: this.now(),
        });
        propertiesBytes = codec.encode(updated);
        persistent = updated.deliveryMode === 2;
        priority = updated.priority ?? 0;
        headers = updated.headers;
        deaths = (updated.headers?.["x-death"] as FieldValue[] | undefined) ?? [];
      } catch (error) {
        // Stored properties that do not decode: a corrupt message, not worth a crash.
        this.context.logger.warn(
          { err: error, queue: dl.queue },
          "dead letter with bad properties dropped",
        );
        return;
      }
    }
    const out: Destination[] = [];
    try {
      this.router.routeInto(dlx, routingKey, headers, out);
    } catch (error) {
      this.context.logger.debug({ err: error, queue: dl.queue, dlx }, "dead-letter routing failed");
      return;
    }
    for (const destination of out) {
      if (destination.kind === "queue" && isDeadLetterCycle(reason, destination.name, deaths)) {
        this.context.logger.debug(
          { queue: destination.name },
          "dead-letter cycle; message dropped there",
        );
        continue;
      }
      const outcome = this.deliverTo(
        destination,
        dlx,
        routingKey,
        propertiesBytes,
        dl.body,
        persistent,
        priority,
        undefined,
      );
      if (outcome !== "ack" && outcome !== "nack") void outcome;
    }
  }

  // ---- consume and get ---------------------------------------------------------------------

  consume(
    who: SessionIdentity,
    queue: string,
    consumer: QueueConsumer,
    options: ConsumeOptions,
  ): ConsumerRegistration {
    this.notClosed();
    this.check(who, "read", "queue", queue);
    const entry = this.queueOrDie(queue);
    this.checkExclusive(who, entry);
    let registration: ConsumerRegistration;
    if (entry.stream !== null) {
      if (consumer.noAck)
        throw new RoutingError(
          "PRECONDITION_FAILED",
          `stream ${this.rs("queue", queue)} requires manual acknowledgement (no-ack is not supported)`,
        );
      const value = options.arguments?.["x-stream-offset"];
      const spec = parseStreamOffset(value, this.now());
      if (spec === null)
        throw new RoutingError(
          "PRECONDITION_FAILED",
          `invalid x-stream-offset ${shownArgument(value)} for ${this.rs("queue", queue)}`,
        );
      registration = entry.stream.consume(consumer, spec);
    } else {
      registration = entry.classic!.consume(consumer, { exclusive: options.exclusive ?? false });
    }
    if (entry.expiryTimer !== null) clearTimeout(entry.expiryTimer);
    entry.expiryTimer = null;
    entry.usedAt = this.now();
    return {
      cancel: () => {
        registration.cancel();
        if (!entry.deleted && this.consumerCount(entry) === 0) this.touch(entry);
      },
      resume: () => registration.resume(),
    };
  }

  async get(who: SessionIdentity, queue: string, noAck: boolean): Promise<GetResult | null> {
    this.notClosed();
    this.check(who, "read", "queue", queue);
    const entry = this.queueOrDie(queue);
    this.checkExclusive(who, entry);
    if (entry.classic === null)
      throw new RoutingError(
        "PRECONDITION_FAILED",
        `basic.get not supported by stream queues ${this.rs("queue", queue)}`,
      );
    this.touch(entry);
    return entry.classic.get(noAck);
  }

  connectionClosed(connectionId: string): void {
    const names = this.exclusives.get(connectionId);
    if (names === undefined) return;
    this.exclusives.delete(connectionId);
    for (const name of names) {
      const entry = this.queues.get(name);
      if (entry === undefined) continue;
      void this.serial(() => this.removeQueue(entry)).catch((error: unknown) =>
        this.context.logger.error({ err: error, queue: name }, "exclusive queue delete failed"),
      );
    }
  }

  listQueues(): QueueInfo[] {
    const out: QueueInfo[] = [];
    for (const entry of this.queues.values()) {
      out.push({
        name: entry.name,
        durable: entry.durable,
        exclusive: entry.owner !== null,
        autoDelete: entry.autoDelete,
        arguments: entry.arguments,
        type: entry.type,
        messagesReady: this.readyCount(entry),
        messagesUnacknowledged: entry.classic?.messagesUnacknowledged ?? 0,
        consumers: this.consumerCount(entry),
      });
    }
    return out;
  }

  /** Every exchange, the predeclared ones included (management API). */
  listExchanges(): ExchangeInfo[] {
    const out: ExchangeInfo[] = [];
    for (const name of this.router.exchangeNames()) out.push(this.router.getExchange(name)!);
    return out;
  }

  /** Every binding (management API). */
  listBindings(): Binding[] {
    return [...this.router.bindings()];
  }

  /** Whether the queue exists (for adapters and the management API). */
  hasQueue(name: string): boolean {
    return this.queues.has(name);
  }

  /** Resolves when every configuration change so far (and its definitions write) is done. */
  async settled(): Promise<void> {
    await this.serial(() => undefined);
    await (this.persistQueued ?? this.persistRunning);
  }

  /** Closes every queue (their data stays); the vhost serves nothing afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.settled().catch(() => undefined);
    this.closed = true;
    const closing: Promise<void>[] = [];
    for (const entry of this.queues.values()) {
      if (entry.expiryTimer !== null) clearTimeout(entry.expiryTimer);
      entry.expiryTimer = null;
      if (entry.classic !== null) closing.push(entry.classic.close());
      if (entry.stream !== null) entry.stream.close("queue-unavailable");
    }
    await Promise.all(closing);
  }

  /** Deletes every queue and its data (the vhost is being deleted). */
  async destroy(): Promise<void> {
    await this.settled().catch(() => undefined);
    this.closed = true;
    for (const entry of [...this.queues.values()]) await this.removeQueue(entry);
  }
}

/**
 * AMQP `expiration`: milliseconds as a decimal string. RabbitMQ refuses anything else with a
 * channel error (rabbit_basic:parse_expiration/1).
 */
function parseExpiration(expiration: string | undefined): number | undefined {
  if (expiration === undefined) return undefined;
  const ms = /^\d{1,16}$/.test(expiration) ? Number(expiration) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms > 4_294_967_295)
    throw new RoutingError("PRECONDITION_FAILED", `invalid expiration '${expiration}'`);
  return ms;
}

/** "ack" once every outcome is "ack"; "nack" as soon as one is not. No Promise.all. */
function allAck(waits: Promise<"ack" | "nack">[]): Promise<"ack" | "nack"> {
  return new Promise((resolve) => {
    let left = waits.length;
    const settle = (outcome: "ack" | "nack") => {
      if (outcome === "nack") {
        left = -1;
        resolve("nack");
        return;
      }
      if (--left === 0) resolve("ack");
    };
    for (const wait of waits) wait.then(settle);
  });
}

/** RabbitMQ's 406 for a redeclaration whose flag or type differs from the existing one. */
function requireEquivalent(
  resource: string,
  key: string,
  current: string | boolean,
  received: string | boolean,
): void {
  if (current !== received) {
    throw new RoutingError(
      "PRECONDITION_FAILED",
      `inequivalent arg '${key}' for ${resource}: received '${received}' but current is '${current}'`,
    );
  }
}
