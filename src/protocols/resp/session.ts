/**
 * RespSession: one RESP connection. Bytes in → parser → commands → handlers → replies out, in
 * request order; and pub/sub deliveries out, as this connection is also a channel subscriber.
 *
 * Ordering. Clients pipeline and match replies by position, so replies leave in request
 * order. Most handlers answer synchronously and their reply is encoded at once. A handler
 * that returns a promise (a blocking XREAD, an XADD waiting for fsync) takes a slot in a FIFO;
 * every reply and message produced after it is queued behind it, and the FIFO is written from
 * the head as slots fill. Later commands keep being read and run meanwhile, so pipelined
 * XADDs share one group commit (bounded by `respPendingCommandsMax`). A pub/sub message is
 * queued at the position it was produced: after the replies of the commands already read.
 * As in Redis, a message a client receives because of its own PUBLISH comes before the
 * PUBLISH reply.
 *
 * Batching. Output produced by received bytes is flushed by one `setImmediate` after the poll
 * phase that read them, as Redis writes its replies before it sleeps: every connection that
 * was readable in this turn of the event loop is read and run first, then every reply and
 * message leaves in one corked write per connection, in one burst of writes. (Writing each
 * connection's reply as soon as its bytes were run interleaves reads and writes; the burst
 * measured 19.3 -> 15.6 us median server CPU per unpipelined PUBLISH, 4 runs each of
 * redis-benchmark -c 50.) Output produced elsewhere (a promise settling) is flushed on
 * `process.nextTick`. Sessions with output due share one queue, flushed newest first as
 * Redis does, so a publisher's reply leaves before its subscribers' messages (`flushQueued`).
 *
 * PUBLISH fast path. A publisher's requests are almost all `*3 $7 PUBLISH ...`: `pump` asks
 * the parser for one first (`RespParser.nextPublish`: channel and message as ranges of the
 * input, no argument vector), publishes it with `ChannelRegistry.publishRange` (no argument
 * views unless someone receives it) and writes the `:n` reply directly; the command lookup,
 * arity and subscribed-context checks of `execute` are known outcomes for it (a RESP2
 * subscriber's PUBLISH takes the general path and gets its error). Pub/sub messages are
 * encoded by the first subscriber of each wire format straight into its output
 * (`RespWriter.delivery`); the other subscribers copy those bytes.
 *
 * Back-pressure. Reading stops (socket.pause) while the bytes queued on the socket exceed
 * `respOutputBytesMax` (until 'drain') or `respPendingCommandsMax` commands wait behind an
 * unfinished one. Deliveries to a subscriber are not paused: the channel registry applies the
 * pub/sub output-buffer limits and disconnects a subscriber that does not keep up.
 *
 * Faults. A protocol error gets Redis's `-ERR Protocol error: ...` reply after the replies
 * already due, a log line with a bounded escaped snippet, a counter, and the connection is
 * closed (Redis's CLIENT_CLOSE_AFTER_REPLY). A handler that throws something other than a
 * `WharfError` is a defect: logged with its stack, this connection is closed, others keep
 * being served. Nothing here lets an exception reach the event loop.
 */
import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { respCloseGraceMs } from "../../config/limits.ts";
import type {
  ChannelDelivery,
  ChannelRegistry,
  ChannelSink,
  ChannelSubscriber,
} from "../../core/channels/channel-registry.ts";
import { reserveEncodingSlot } from "../../core/channels/channel-registry.ts";
import { isWharfError } from "../../errors/index.ts";
import type { Logger } from "../../logging/logger.ts";
import { snippet } from "../../logging/logger.ts";
import { startReading } from "../direct-reads.ts";
import { needMore, RespParser, type RespParserLimits, RespProtocolError } from "./codec/parser.ts";
import { errorReply, RespErrorReply, type RespValue, wrongArity } from "./codec/reply.ts";
import { type RespProtocolVersion, RespWriter } from "./codec/writer.ts";
import {
  arityHolds,
  findSubcommand,
  type RespClient,
  type RespCommand,
  type RespCommandContext,
  type RespServerView,
} from "./commands/command.ts";
import { publishHandler } from "./commands/pubsub.ts";

export interface RespSessionLimits extends RespParserLimits {
  outputBytesMax: number;
  pendingCommandsMax: number;
}

/** What every session of a listener shares. */
export interface RespSessionShared {
  readonly context: Omit<RespCommandContext, "client" | "logger">;
  readonly channels: ChannelRegistry;
  readonly server: RespServerView;
  readonly limits: RespSessionLimits;
  readonly logger: Logger;
  /** Counts a closing reason (protocol errors, defects) for metrics. */
  readonly onProtocolError?: (reason: string) => void;
}

export interface RespEndpoint {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

interface ReplySlot {
  chunks: Buffer[] | null;
  bytes: number;
}

/** Each wire format caches its encoding of a delivery in its own slot. */
const resp2FrameSlot = reserveEncodingSlot();
const resp3FrameSlot = reserveEncodingSlot();

const subscribedContextError = (name: string) =>
  errorReply(
    `Can't execute '${name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
  );

export class RespSession implements ChannelSink, RespClient {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly createdAt = Date.now();
  lastCommandAt = Date.now();
  lastCommand = "NULL";
  protocol: RespProtocolVersion = 2;
  name: string | null = null;
  libName: string | null = null;
  libVersion: string | null = null;
  user = "default";
  noEvict = false;
  blocked = false;
  readonly subscriber: ChannelSubscriber;
  readonly closed: AbortSignal;
  /** Resolves when the socket has closed. */
  readonly whenClosed: Promise<void>;

  private readonly parser: RespParser;
  private readonly writer = new RespWriter();
  private readonly abort = new AbortController();
  private readonly logger: Logger;
  private readonly context: RespCommandContext;
  /** Chunks to write before the slots (output produced while no slot was pending). */
  private ready: Buffer[] = [];
  private readyBytes = 0;
  private readonly slots: ReplySlot[] = [];
  private slotBytes = 0;
  private reading = true;
  private outputBlocked = false;
  private flushScheduled = false;
  /** No more commands are read; the connection ends once the output is written. */
  private closing = false;
  private endAfterFlush = false;
  private closeRequested = false;
  /** The last command name looked up and what it found (see `execute`). */
  private lastName: Buffer | null = null;
  private lastFound: RespCommand | undefined = undefined;
  /** PUBLISH runs through `publishFast` (false when a test table replaces PUBLISH). */
  private readonly fastPublish: boolean;
  /** The time of the commands `pump` runs: `Date.now()` at the first of them; -1 before. */
  private pumpNow = -1;
  /** The stream is a TCP socket: a write it completes at once was copied by the kernel. */
  private readonly kernelCopies: boolean;

  constructor(
    private readonly socket: Duplex,
    endpoint: RespEndpoint,
    id: number,
    private readonly shared: RespSessionShared,
  ) {
    this.id = id;
    this.remoteAddress = endpoint.remoteAddress;
    this.remotePort = endpoint.remotePort;
    this.localAddress = endpoint.localAddress;
    this.localPort = endpoint.localPort;
    this.parser = new RespParser(shared.limits);
    this.kernelCopies = socket instanceof Socket;
    this.fastPublish = shared.server.commands.findByName("publish")?.handler === publishHandler;
    this.closed = this.abort.signal;
    this.logger = shared.logger.child({ session: id, remote: endpoint.remoteAddress });
    this.subscriber = shared.channels.createSubscriber(this);
    this.context = { ...shared.context, client: this, logger: this.logger };
    this.whenClosed = new Promise((resolve) => {
      socket.once("close", () => {
        this.closing = true;
        this.abort.abort();
        shared.channels.removeSubscriber(this.subscriber);
        this.ready = [];
        this.slots.length = 0;
        resolve();
      });
    });
    startReading(socket, (chunk) => this.onData(chunk)); // accepted paused (RespServer)
    socket.on("drain", () => this.onDrain());
    socket.on("error", (error: Error) => {
      this.logger.debug({ err: error }, "resp connection error");
    });
  }

  // RespClient ---------------------------------------------------------------------------------

  outputBytes(): number {
    return this.socket.writableLength + this.readyBytes + this.slotBytes + this.writer.pendingBytes;
  }

  inputBytes(): number {
    return this.parser.bufferedBytes;
  }

  closeAfterReply(): void {
    this.closeRequested = true;
  }

  kill(reason: string): void {
    this.close(reason);
  }

  // ChannelSink --------------------------------------------------------------------------------

  deliver(delivery: ChannelDelivery): void {
    if (this.closing) return;
    const slot = this.protocol === 3 ? resp3FrameSlot : resp2FrameSlot;
    const frame = delivery.encodings[slot];
    // The first subscriber of a wire format encodes into its own output; the others copy that.
    if (frame === undefined) {
      const share = delivery.recipients !== 1;
      delivery.encodings[slot] = this.writer.delivery(delivery, this.protocol, share);
    } else {
      this.writer.frame(frame);
    }
    this.produced();
  }

  pendingBytes(): number {
    return this.outputBytes();
  }

  disconnect(reason: string): void {
    this.close(reason);
  }

  describe(): Record<string, unknown> {
    return {
      session: this.id,
      remote: `${this.remoteAddress}:${this.remotePort}`,
      name: this.name,
    };
  }

  // Connection -------------------------------------------------------------------------------

  /** True when no command is waiting for its reply. */
  get idle(): boolean {
    return this.slots.length === 0;
  }

  /** Closes the connection now: blocking commands end, unwritten replies are dropped. */
  close(reason: string): void {
    if (this.socket.destroyed) return;
    if (reason !== "shutdown") this.logger.info({ reason }, "closing resp connection");
    this.closing = true;
    this.abort.abort();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    reading++;
    try {
      this.parser.push(chunk);
      this.pump();
    } catch (error) {
      this.internalError(error, "reading commands");
    } finally {
      reading--;
    }
    // The output of this chunk (replies, deliveries to subscribers) leaves after the poll phase.
    if (reading === 0 && flushQueue.length > 0 && !flushImmediate) {
      flushImmediate = setImmediate(flushAfterPoll);
    }
  }

  private onDrain(): void {
    if (!this.outputBlocked) return;
    this.outputBlocked = false;
    try {
      this.pump();
    } catch (error) {
      this.internalError(error, "reading commands");
    }
  }

  /** Runs commands from the parser while the bounds allow, then pauses or resumes reading. */
  private pump(): void {
    const limits = this.shared.limits;
    const parser = this.parser;
    this.pumpNow = -1;
    while (!this.closing) {
      if (this.outputBlocked || this.slots.length >= limits.pendingCommandsMax) {
        this.setReading(false);
        return;
      }
      // PUBLISH without an argument vector; RESP2 subscribers get their error from `execute`.
      if (
        this.fastPublish &&
        (this.protocol === 3 || !this.subscriber.subscribed) &&
        parser.nextPublish()
      ) {
        this.publishFast();
        continue;
      }
      const command = parser.next();
      if (command === needMore) {
        this.setReading(true);
        return;
      }
      if (command instanceof RespProtocolError) {
        this.protocolError(command);
        return;
      }
      this.execute(command);
    }
  }

  private setReading(reading: boolean): void {
    if (reading === this.reading) return;
    this.reading = reading;
    if (reading) this.socket.resume();
    else this.socket.pause();
  }

  private execute(args: Buffer[]): void {
    const server = this.shared.server;
    // The parser hands out the same name Buffer while a client repeats a command.
    const name = args[0]!;
    let command: RespCommand | undefined;
    if (name === this.lastName) {
      command = this.lastFound;
    } else {
      command = server.commands.find(name);
      this.lastName = name;
      this.lastFound = command;
    }
    if (command === undefined) {
      this.reply(unknownCommand(args));
      return;
    }
    let fullName = command.name;
    if (command.subcommands !== undefined && args.length >= 2) {
      const subcommand = findSubcommand(command, args[1]!);
      if (subcommand === undefined) {
        this.reply(
          errorReply(
            `unknown subcommand '${cString(args[1]!, 128)}'. Try ${command.name.toUpperCase()} HELP.`,
          ),
        );
        return;
      }
      fullName = `${command.name}|${subcommand.name}`;
      command = subcommand;
    }
    if (!arityHolds(command.arity, args.length) || command.handler === undefined) {
      this.reply(wrongArity(fullName));
      return;
    }
    if (this.protocol === 2 && !command.allowedWhileSubscribed && this.subscriber.subscribed) {
      this.reply(subscribedContextError(fullName));
      return;
    }
    server.stats.commandsProcessed++;
    this.lastCommand = fullName;
    this.lastCommandAt = this.pumpNow < 0 ? (this.pumpNow = Date.now()) : this.pumpNow;
    this.run(command, fullName, args);
  }

  /** PUBLISH read by `RespParser.nextPublish`: `execute` and `run` of PUBLISH, inlined. */
  private publishFast(): void {
    const parser = this.parser;
    this.shared.server.stats.commandsProcessed++;
    this.lastCommand = "publish";
    this.lastCommandAt = this.pumpNow < 0 ? (this.pumpNow = Date.now()) : this.pumpNow;
    let receivers: number;
    try {
      receivers = this.shared.channels.publishRange(
        parser.publishInput,
        parser.publishChannelStart,
        parser.publishChannelEnd,
        parser.publishMessageStart,
        parser.publishMessageEnd,
      );
    } catch (error) {
      this.handlerFailed(error, "publish");
      return;
    }
    this.writer.protocol = this.protocol;
    this.writer.integer(receivers);
    this.produced();
  }

  private run(command: RespCommand, fullName: string, args: Buffer[]): void {
    let result: RespValue | Promise<RespValue>;
    try {
      result = command.handler!(this.context, args);
    } catch (error) {
      this.handlerFailed(error, fullName);
      return;
    }
    if (result instanceof Promise) {
      const slot = this.openSlot();
      const closeAfter = this.takeCloseRequest();
      result.then(
        (value) => this.completeSlot(slot, value, closeAfter),
        (error: unknown) => {
          if (this.socket.destroyed) return;
          const reply = catalogReply(error);
          if (reply === null) this.handlerFailed(error, fullName);
          else this.completeSlot(slot, reply, closeAfter);
        },
      );
      return;
    }
    this.reply(result);
    if (this.takeCloseRequest()) this.endAfterOutput();
  }

  private takeCloseRequest(): boolean {
    const requested = this.closeRequested;
    this.closeRequested = false;
    return requested;
  }

  /** Encodes a reply at the current position of the output. */
  private reply(value: RespValue): void {
    if (value instanceof RespErrorReply) this.shared.server.stats.errorReplies++;
    this.writer.protocol = this.protocol;
    this.writer.value(value);
    this.produced();
  }

  /** Output was encoded: queue it behind pending slots if any, and schedule a flush. */
  private produced(): void {
    if (this.slots.length > 0) {
      const bytes = this.writer.pendingBytes;
      this.slots.push({ chunks: this.writer.take(), bytes });
      this.slotBytes += bytes;
    }
    this.scheduleFlush();
  }

  private openSlot(): ReplySlot {
    if (this.slots.length === 0 && this.writer.pendingBytes > 0) {
      this.readyBytes += this.writer.pendingBytes;
      for (const chunk of this.writer.take()) this.ready.push(chunk);
    }
    const slot: ReplySlot = { chunks: null, bytes: 0 };
    this.slots.push(slot);
    return slot;
  }

  private completeSlot(slot: ReplySlot, value: RespValue, closeAfter: boolean): void {
    // Not `closing`: after QUIT or a protocol error the replies due are still written.
    if (this.socket.destroyed) return;
    try {
      if (value instanceof RespErrorReply) this.shared.server.stats.errorReplies++;
      this.writer.protocol = this.protocol;
      this.writer.value(value);
      slot.bytes = this.writer.pendingBytes;
      slot.chunks = this.writer.take();
      this.slotBytes += slot.bytes;
      if (closeAfter) this.endAfterOutput();
      this.scheduleFlush();
    } catch (error) {
      this.internalError(error, "encoding a reply");
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    flushQueue.push(this);
    if (flushQueue.length === 1 && reading === 0 && !flushImmediate) process.nextTick(flushQueued);
  }

  /** Writes everything that is due, in order, corked (called by `flushQueued`). */
  flush(): void {
    this.flushScheduled = false;
    if (this.socket.destroyed) return;
    try {
      if (this.ready.length === 0 && this.slots.length === 0) {
        // The usual case: only output encoded since the last flush, one write, no arrays.
        const single = this.writer.takeSingle();
        if (single !== null) this.socket.write(single);
        else if (this.writer.pendingBytes > 0) this.write(this.writer.take());
        // A TCP socket with nothing queued handed every byte to the kernel (a copy): no chunk
        // of the writer is held any more, so its scratch is written again, not a new one.
        // (Another duplex, such as a test's in-memory pair, may still hold the chunks.)
        if (this.kernelCopies && this.socket.writableLength === 0) this.writer.recycle();
        this.afterFlush();
        return;
      }
      const out = this.ready;
      this.ready = [];
      this.readyBytes = 0;
      while (this.slots.length > 0 && this.slots[0]!.chunks !== null) {
        const slot = this.slots.shift()!;
        this.slotBytes -= slot.bytes;
        for (const chunk of slot.chunks!) out.push(chunk);
      }
      if (this.slots.length === 0 && this.writer.pendingBytes > 0) {
        for (const chunk of this.writer.take()) out.push(chunk);
      }
      this.write(out);
      this.afterFlush();
    } catch (error) {
      this.internalError(error, "writing replies");
    }
  }

  /** After a flush: end after QUIT, pause on a full socket, or read on. */
  private afterFlush(): void {
    if (this.endAfterFlush && this.slots.length === 0) {
      this.socket.end();
      // A peer that does not read would keep the socket open: destroy it after a grace.
      setTimeout(() => this.socket.destroy(), respCloseGraceMs).unref();
      return;
    }
    if (this.socket.writableLength > this.shared.limits.outputBytesMax) {
      this.outputBlocked = true;
    }
    if (!this.closing) this.pump();
  }

  private write(chunks: Buffer[]): void {
    if (chunks.length === 0) return;
    const socket = this.socket;
    if (chunks.length === 1) {
      socket.write(chunks[0]);
      return;
    }
    socket.cork();
    for (const chunk of chunks) socket.write(chunk);
    socket.uncork();
  }

  /** Stops reading; the connection ends once the output due is written. */
  private endAfterOutput(): void {
    this.closing = true;
    this.endAfterFlush = true;
    this.setReading(false);
    this.scheduleFlush();
  }

  /** Bad input: Redis's error reply after the replies due, a log line, then close. */
  private protocolError(error: RespProtocolError): void {
    this.shared.onProtocolError?.(error.reason);
    this.logger.warn(
      {
        reason: error.reason,
        detail: error.message,
        snippet: snippet(error.input, error.offset),
      },
      "resp protocol error; closing the connection",
    );
    this.reply(new RespErrorReply(`ERR ${error.message}`));
    this.endAfterOutput();
  }

  private handlerFailed(error: unknown, fullName: string): void {
    const reply = catalogReply(error);
    if (reply !== null) {
      this.reply(reply);
      return;
    }
    this.internalError(error, `handling '${fullName}'`);
  }

  /** A defect (not bad input): log it with its stack and close this connection only. */
  private internalError(error: unknown, what: string): void {
    this.shared.onProtocolError?.("internal-error");
    this.logger.error(
      { err: error, what },
      "internal error in a resp session; closing the connection",
    );
    this.close("internal-error");
  }
}

/**
 * Sessions with output due in this turn of the event loop, flushed by one `process.nextTick`
 * for all of them (a publisher's pipeline reaching 100 subscribers schedules one tick, not
 * 100). A flush may run commands (reading resumes) that queue more sessions: they are
 * flushed in the same pass.
 */
const flushQueue: RespSession[] = [];
/** Nonzero while a session handles received bytes (its output waits for `flushAfterPoll`). */
let reading = 0;
/** The `setImmediate` that flushes the output of this poll phase's reads, while one is due. */
let flushImmediate: NodeJS.Immediate | null = null;

function flushAfterPoll(): void {
  flushImmediate = null;
  flushQueued();
}

/**
 * Flushes the queued sessions newest first, as Redis writes its clients (new ones join the
 * head of `clients_pending_write`): the session whose command gave the others output (a
 * publisher, its subscribers) queues last, so its reply leaves first and its next command can
 * be on its way while the deliveries are written. Measured with 1 ioredis publisher
 * (pipelines of 100) and 10 subscribers in one process: oldest first, a subscriber's read
 * found 100 messages (one pipeline's worth) and the run took 2.47 s; newest first, 160-168
 * and 2.26 s (Redis: 173-177, 2.05-2.16 s). (With the subscribers in a process of their own,
 * as in bench/resp.ts, that process is the bound either way and reads ~450 per read.)
 * Sessions queued while flushing are flushed in the same call.
 */
function flushQueued(): void {
  let start = 0;
  let end = flushQueue.length;
  while (start < end) {
    for (let i = end - 1; i >= start; i--) flushQueue[i]!.flush();
    start = end;
    end = flushQueue.length;
  }
  // pop, not `length = 0`: the queue holds a session or two, and V8's length setter is a
  // slow builtin next to a few pops (measured: 1.4% of the CPU of a non-pipelined PUBLISH).
  for (let n = flushQueue.length; n > 0; n--) flushQueue.pop();
}

/** A catalog error as Redis-style error reply (`WRONGPASS ...`, `ERR ...`); null otherwise. */
function catalogReply(error: unknown): RespErrorReply | null {
  if (!isWharfError(error)) return null;
  return new RespErrorReply(`${error.entry.resp ?? "ERR"} ${error.message}`);
}

/** A C string view of an argument: up to the first zero byte, at most `max` bytes (latin1). */
export function cString(bytes: Buffer, max: number): string {
  let end = bytes.indexOf(0);
  if (end < 0) end = bytes.length;
  return bytes.toString("latin1", 0, Math.min(end, max));
}

/** Redis's `unknown command '%.128s', with args beginning with: '%.*s' ...` (128 bytes). */
function unknownCommand(args: Buffer[]): RespErrorReply {
  let quoted = "";
  for (let i = 1; i < args.length && quoted.length < 128; i++) {
    quoted += `'${cString(args[i]!, 128 - quoted.length)}' `;
  }
  return errorReply(
    `unknown command '${cString(args[0]!, 128)}', with args beginning with: ${quoted}`,
  );
}
