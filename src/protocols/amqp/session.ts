/**
 * AmqpSession: one AMQP 0-9-1 connection. The connection state machine (spec 2.2.4, RabbitMQ's
 * rabbit_reader), the frame pump, heartbeats and the output batching; channels do the rest.
 *
 *   header ──AMQP0091──▶ start-sent ──start-ok──▶ tune-sent ──tune-ok──▶ tuned ──open──▶ open
 *     │ other bytes: reply our header, close            │ auth failed: 403 close (or drop)
 *     ▼                                                  ▼
 *   closed ◀── close-ok / timeout ── closing ◀── any hard error: connection.close(code)
 *
 * Faults: every frame error is answered in AMQP's terms. Framing errors (501), undecodable
 * methods (502), unknown methods (503) or classes (540), frames out of sequence (505), frames
 * on a channel that is not open (504) and channel ids above channel_max (530) close the
 * connection with connection.close; soft errors (403/404/405/406) close only the channel.
 * After sending connection.close the session ignores everything but close-ok (or a crossing
 * close) and drops the socket after `closeOkTimeoutMs`. A defect inside a handler is logged
 * with its stack and answered with 541; nothing escapes to the event loop.
 *
 * Output: frames go into a FrameOutput; one flush per tick (process.nextTick) resumes
 * consumers whose windows opened, writes due publisher confirms, and writes everything in one
 * corked write. Deliveries stop (consumers' canTake) while the socket holds more than
 * `outputBytesMax`; 'drain' resumes them.
 *
 * Input back-pressure: reading pauses while the socket's output is congested, while more than
 * `publishInFlightBytesMax` of publishes wait for their outcome (fsync), while a channel's
 * command backlog is at its bound, or while the broker is blocked (resource alarm) and this
 * connection publishes. Buffered frames stay in the splitter; TCP pushes back on the client.
 */
import type { Duplex } from "node:stream";
import { amqpFrameMinBytes } from "../../config/limits.ts";
import type { SessionIdentity, VirtualHostApi } from "../../core/vhosts/virtual-host-api.ts";
import type { Logger } from "../../logging/logger.ts";
import { snippet } from "../../logging/logger.ts";
import { AmqpChannel, type ChannelHost, type ClientCapabilities } from "./channel.ts";
import { AmqpDecodeError } from "./codec/decode-error.ts";
import type { AmqpFieldTable } from "./codec/field-value.ts";
import {
  type AmqpFrame,
  AmqpFrameSplitter,
  amqpFrameOverheadBytes,
  amqpFrameType,
  amqpHeartbeatFrame,
  checkProtocolHeader,
  frameNeedMore,
} from "./codec/frame.ts";
import { type AmqpMethod, amqpMethodsByName } from "./codec/generated/methods.ts";
import { decodeMethodPayload } from "./codec/payload.ts";
import { AmqpReader } from "./codec/reader.ts";
import type { DirectReplyRegistry } from "./direct-reply-to.ts";
import { AmqpError, toAmqpError } from "./errors.ts";
import { FrameOutput } from "./output.ts";

export interface AmqpSessionLimits {
  channelMax: number;
  frameBytesMax: number;
  heartbeatSeconds: number;
  handshakeTimeoutMs: number;
  closeOkTimeoutMs: number;
  messageBytesMax: number;
  outputBytesMax: number;
  publishInFlightBytesMax: number;
  channelBacklogMax: number;
  /** Input bytes processed per event-loop turn before yielding (fairness; see limits.ts). */
  inputBytesPerTurn: number;
  outputChunkBytes: number;
  debugFrameBytesMax: number;
}

/** What the adapter needs from the broker: authentication and virtual hosts. */
export interface AmqpBrokerPort {
  /** Checks a password; throws (a WharfError) when it does not match. */
  authenticate(user: string, password: string, remoteAddress: string): { user: string };
  vhost(name: string): VirtualHostApi | undefined;
  canAccessVhost(user: string, vhost: string): boolean;
}

/** What every session of a listener shares. */
export interface AmqpSessionShared {
  readonly broker: AmqpBrokerPort;
  readonly logger: Logger;
  readonly limits: AmqpSessionLimits;
  readonly replyRegistry: DirectReplyRegistry;
  readonly serverProperties: AmqpFieldTable;
  readonly debugFrames: boolean;
  /** The reason of the broker's resource alarm, or null. */
  readonly blockedReason: () => string | null;
  /** Counts a protocol error by reply code (metrics). */
  readonly onProtocolError?: (replyCode: number) => void;
}

type SessionState = "header" | "start-sent" | "tune-sent" | "tuned" | "open" | "closing" | "closed";

const mechanisms = Buffer.from("PLAIN AMQPLAIN");
const locales = Buffer.from("en_US");

export class AmqpSession implements ChannelHost {
  readonly closed: Promise<void>;
  readonly output: FrameOutput;
  readonly logger: Logger;
  readonly replyRegistry: DirectReplyRegistry;
  readonly messageBytesMax: number;
  readonly txBytesMax: number;
  identity: SessionIdentity;
  capabilities: ClientCapabilities = {
    consumerCancelNotify: false,
    connectionBlocked: false,
    authenticationFailureClose: false,
  };
  frameBytesMax: number;
  private vhostValue: VirtualHostApi | undefined;
  private state: SessionState = "header";
  private headerBytes: Buffer = Buffer.alloc(0);
  private readonly splitter = new AmqpFrameSplitter(amqpFrameMinBytes);
  private readonly channels = new Map<number, AmqpChannel>();
  private channelMax: number;
  private heartbeatSeconds = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private readSinceTick = false;
  private wroteSinceTick = false;
  private silentTicks = 0;
  private flushScheduled = false;
  private readonly flushCallback = () => this.flush();
  private readonly resumeChannels = new Set<AmqpChannel>();
  private readonly confirmChannels = new Set<AmqpChannel>();
  /** Channels whose backlog was not empty when last reported (shouldRead looks at these). */
  private readonly backlogChannels = new Set<AmqpChannel>();
  private publishInFlightBytes = 0;
  private outputCongested = false;
  /** A delivery was refused for lack of output room since the last flush. */
  private deliveryRefused = false;
  private blockedPaused = false;
  private reading = true;
  private pumping = false;
  /** Frame bytes processed in this event-loop turn (reset by `turnEnd`). */
  private turnBytes = 0;
  /** Over this turn's input budget: reading waits for the next turn. */
  private turnExhausted = false;
  private readonly turnEnd = (): void => {
    this.turnBytes = 0;
    if (!this.turnExhausted) return;
    this.turnExhausted = false;
    this.pump();
  };
  private mechanism = "PLAIN";

  constructor(
    private readonly socket: Duplex,
    readonly remoteAddress: string,
    readonly id: number,
    private readonly shared: AmqpSessionShared,
  ) {
    const limits = shared.limits;
    this.logger = shared.logger.child({ session: id, remote: remoteAddress });
    this.output = new FrameOutput(limits.outputChunkBytes);
    this.replyRegistry = shared.replyRegistry;
    this.messageBytesMax = limits.messageBytesMax;
    this.txBytesMax = limits.publishInFlightBytesMax;
    this.frameBytesMax = limits.frameBytesMax;
    this.channelMax = limits.channelMax;
    this.identity = { connectionId: `amqp-${id}`, user: "" };
    this.closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.onSocketClosed();
        resolve();
      });
    });
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.onDrain());
    socket.on("error", (error: Error) => {
      this.logger.debug({ err: error }, "amqp connection error");
    });
    this.handshakeTimer = setTimeout(() => {
      if (this.state !== "open" && this.state !== "closed") {
        this.logger.info("amqp handshake timed out; closing");
        this.socket.destroy();
      }
    }, limits.handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  get vhost(): VirtualHostApi {
    if (this.vhostValue === undefined) throw new Error("amqp session has no virtual host yet");
    return this.vhostValue;
  }

  get isOpen(): boolean {
    return this.state === "open";
  }

  // --- input ------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.state === "closed") return;
    this.readSinceTick = true;
    try {
      if (this.state === "header") {
        chunk = this.readProtocolHeader(chunk);
        if (this.state === "header" || this.state === "closed") return;
      }
      this.splitter.push(chunk);
      this.pump();
    } catch (error) {
      this.internalError(error, "reading frames");
    }
  }

  /** Answers the bytes after the header (frames pipelined with it). */
  private readProtocolHeader(chunk: Buffer): Buffer {
    const bytes = this.headerBytes.length === 0 ? chunk : Buffer.concat([this.headerBytes, chunk]);
    const result = checkProtocolHeader(bytes);
    if (result.kind === "need-more") {
      this.headerBytes = Buffer.from(bytes);
      return Buffer.alloc(0);
    }
    if (result.kind === "rejected") {
      // Spec 4.2.2: answer with the protocol header we speak, then close the socket.
      this.shared.onProtocolError?.(0);
      this.logger.info(
        { snippet: snippet(bytes.subarray(0, 8)) },
        "not an AMQP 0-9-1 protocol header; answering ours and closing",
      );
      this.state = "closed";
      this.socket.end(result.reply);
      this.destroyLater();
      return Buffer.alloc(0);
    }
    this.headerBytes = Buffer.alloc(0);
    this.state = "start-sent";
    this.writeMethod(0, {
      name: "connection.start",
      args: {
        versionMajor: 0,
        versionMinor: 9,
        serverProperties: this.shared.serverProperties,
        mechanisms,
        locales,
      },
    });
    return result.rest;
  }

  private shouldRead(): boolean {
    if (this.outputCongested || this.blockedPaused || this.turnExhausted) return false;
    if (this.publishInFlightBytes > this.shared.limits.publishInFlightBytesMax) return false;
    if (this.backlogChannels.size === 0) return true;
    let backlogBytes = 0;
    for (const channel of this.backlogChannels) {
      if (channel.backlogLength >= this.shared.limits.channelBacklogMax) return false;
      backlogBytes += channel.backlogBytes;
    }
    // Publishes queued behind slow methods count against the same budget as in-flight ones.
    if (backlogBytes > this.shared.limits.publishInFlightBytesMax) return false;
    return true;
  }

  /** Takes frames from the splitter while reading is allowed. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.state !== "closed") {
        if (!this.shouldRead()) {
          this.setReading(false);
          return;
        }
        const frame = this.splitter.next();
        if (frame === frameNeedMore) {
          this.setReading(true);
          return;
        }
        if (frame instanceof AmqpDecodeError) {
          if (this.state === "closing") {
            // A peer that talks garbage after we closed: nothing more to say.
            this.socket.destroy();
            return;
          }
          this.connectionError(new AmqpError(frame.replyCode, frame.message), 0, 0);
          return;
        }
        if (this.shared.debugFrames) this.debugFrame("in", frame, undefined);
        this.handleFrame(frame);
        // Fairness: a publisher that keeps its socket full must not hold the event loop for
        // the whole of libuv's read burst; past the budget, go on next turn.
        if (this.turnBytes === 0) setImmediate(this.turnEnd);
        this.turnBytes += frame.payload.length + amqpFrameOverheadBytes;
        if (this.turnBytes >= this.shared.limits.inputBytesPerTurn) this.turnExhausted = true;
      }
    } finally {
      this.pumping = false;
    }
  }

  private setReading(reading: boolean): void {
    if (reading === this.reading) return;
    this.reading = reading;
    if (reading) this.socket.resume();
    else this.socket.pause();
  }

  private handleFrame(frame: AmqpFrame): void {
    if (frame.type === amqpFrameType.heartbeat) return;
    switch (this.state) {
      case "open":
        this.handleOpenFrame(frame);
        return;
      case "closing":
        this.handleClosingFrame(frame);
        return;
      case "start-sent":
      case "tune-sent":
      case "tuned":
        this.handleHandshakeFrame(frame);
        return;
      default:
        return;
    }
  }

  private handleOpenFrame(frame: AmqpFrame): void {
    const channelId = frame.channel;
    if (channelId === 0) {
      this.handleChannelZero(frame);
      return;
    }
    const channel = this.channels.get(channelId);
    if (channel !== undefined) {
      try {
        channel.handleFrame(frame);
      } catch (error) {
        this.commandFailed(channel, error, 0, 0, frame);
      }
      return;
    }
    if (channelId > this.channelMax) {
      this.connectionError(
        new AmqpError(530, `channel ${channelId} exceeds channel_max ${this.channelMax}`),
        0,
        0,
      );
      return;
    }
    let method: AmqpMethod | undefined;
    if (frame.type === amqpFrameType.method) {
      try {
        method = decodeMethodPayload(frame.payload).method;
      } catch (error) {
        this.connectionError(toAmqpError(error), 0, 0, frame);
        return;
      }
    }
    if (method?.name !== "channel.open") {
      this.connectionError(
        new AmqpError(504, `expected 'channel.open' on channel ${channelId}`),
        method ? classOf(method) : 0,
        method ? methodOf(method) : 0,
        frame,
      );
      return;
    }
    const opened = new AmqpChannel(channelId, this);
    this.channels.set(channelId, opened);
    this.writeMethod(channelId, { name: "channel.open-ok", args: { channelId: Buffer.alloc(0) } });
  }

  private handleChannelZero(frame: AmqpFrame): void {
    if (frame.type !== amqpFrameType.method) {
      this.connectionError(new AmqpError(505, "content frame on channel 0"), 0, 0, frame);
      return;
    }
    let method: AmqpMethod;
    try {
      method = decodeMethodPayload(frame.payload).method;
    } catch (error) {
      this.connectionError(toAmqpError(error), 0, 0, frame);
      return;
    }
    switch (method.name) {
      case "connection.close":
        this.clientClosed(method.args.replyCode, method.args.replyText);
        return;
      case "connection.close-ok":
        return;
      case "connection.update-secret":
        this.writeMethod(0, { name: "connection.update-secret-ok", args: {} });
        return;
      case "connection.blocked":
      case "connection.unblocked":
        return;
      default:
        this.connectionError(
          new AmqpError(503, `unexpected method ${method.name} on channel 0`),
          classOf(method),
          methodOf(method),
        );
    }
  }

  private handleClosingFrame(frame: AmqpFrame): void {
    if (frame.channel !== 0 || frame.type !== amqpFrameType.method) return;
    let name: string;
    try {
      name = decodeMethodPayload(frame.payload).method.name;
    } catch {
      return;
    }
    if (name === "connection.close-ok") {
      this.terminate();
    } else if (name === "connection.close") {
      this.writeMethod(0, { name: "connection.close-ok", args: {} });
      this.endAfterFlush();
    }
  }

  // --- handshake -----------------------------------------------------------------------------

  private handleHandshakeFrame(frame: AmqpFrame): void {
    if (frame.channel !== 0 || frame.type !== amqpFrameType.method) {
      this.connectionError(
        new AmqpError(505, "frame before the connection was opened"),
        0,
        0,
        frame,
      );
      return;
    }
    let method: AmqpMethod;
    try {
      method = decodeMethodPayload(frame.payload).method;
    } catch (error) {
      this.connectionError(toAmqpError(error), 0, 0, frame);
      return;
    }
    const expected =
      this.state === "start-sent"
        ? "connection.start-ok"
        : this.state === "tune-sent"
          ? "connection.tune-ok"
          : "connection.open";
    if (method.name === "connection.close") {
      this.clientClosed(method.args.replyCode, method.args.replyText);
      return;
    }
    if (method.name !== expected) {
      this.connectionError(
        new AmqpError(503, `expected '${expected}', got '${method.name}'`),
        classOf(method),
        methodOf(method),
      );
      return;
    }
    switch (method.name) {
      case "connection.start-ok":
        this.startOk(method.args.clientProperties, method.args.mechanism, method.args.response);
        return;
      case "connection.tune-ok":
        this.tuneOk(method.args.channelMax, method.args.frameMax, method.args.heartbeat);
        return;
      case "connection.open":
        this.open(method.args.virtualHost);
        return;
    }
  }

  private startOk(clientProperties: AmqpFieldTable, mechanism: string, response: Buffer): void {
    const capabilities = clientProperties.get("capabilities");
    if (capabilities?.type === "F") {
      const flag = (name: string) => {
        const value = capabilities.value.get(name);
        return value?.type === "t" && value.value;
      };
      this.capabilities = {
        consumerCancelNotify: flag("consumer_cancel_notify"),
        connectionBlocked: flag("connection.blocked"),
        authenticationFailureClose: flag("authentication_failure_close"),
      };
    }
    this.mechanism = mechanism;
    let credentials: { user: string; password: string } | null;
    if (mechanism === "PLAIN") credentials = parsePlain(response);
    else if (mechanism === "AMQPLAIN") credentials = parseAmqplain(response);
    else {
      this.connectionError(
        new AmqpError(503, `unknown authentication mechanism '${mechanism}'`),
        10,
        11,
      );
      return;
    }
    let user: string;
    try {
      if (credentials === null) throw new Error(`malformed ${mechanism} response`);
      user = this.shared.broker.authenticate(
        credentials.user,
        credentials.password,
        this.remoteAddress,
      ).user;
    } catch (error) {
      this.authenticationFailed(credentials?.user ?? "", error);
      return;
    }
    this.identity = { connectionId: this.identity.connectionId, user };
    this.state = "tune-sent";
    const limits = this.shared.limits;
    this.writeMethod(0, {
      name: "connection.tune",
      args: {
        channelMax: limits.channelMax,
        frameMax: limits.frameBytesMax,
        heartbeat: limits.heartbeatSeconds,
      },
    });
  }

  private authenticationFailed(user: string, error: unknown): void {
    this.shared.onProtocolError?.(403);
    this.logger.warn(
      { user, mechanism: this.mechanism, reason: error instanceof Error ? error.message : error },
      "amqp authentication failed",
    );
    if (this.capabilities.authenticationFailureClose) {
      this.connectionError(
        new AmqpError(
          403,
          `Login was refused using authentication mechanism ${this.mechanism}. For details see the broker logfile.`,
        ),
        10,
        11,
      );
      return;
    }
    // Clients that did not announce authentication_failure_close expect the socket to close.
    this.state = "closed";
    this.socket.destroy();
  }

  private tuneOk(channelMax: number, frameMax: number, heartbeat: number): void {
    const limits = this.shared.limits;
    if (frameMax !== 0 && frameMax < amqpFrameMinBytes) {
      this.connectionError(
        new AmqpError(530, `frame_max=${frameMax} < ${amqpFrameMinBytes} min size`),
        10,
        31,
      );
      return;
    }
    if (frameMax > limits.frameBytesMax) {
      this.connectionError(
        new AmqpError(530, `frame_max=${frameMax} > ${limits.frameBytesMax} max size`),
        10,
        31,
      );
      return;
    }
    if (channelMax > limits.channelMax) {
      this.connectionError(
        new AmqpError(530, `channel_max=${channelMax} > ${limits.channelMax} max size`),
        10,
        31,
      );
      return;
    }
    // 0 means "no limit" on the client's side: ours applies.
    this.frameBytesMax = frameMax === 0 ? limits.frameBytesMax : frameMax;
    this.channelMax = channelMax === 0 ? limits.channelMax : channelMax;
    this.splitter.frameBytesMax = this.frameBytesMax;
    this.heartbeatSeconds = heartbeat;
    this.state = "tuned";
    this.startHeartbeats();
  }

  private open(virtualHost: string): void {
    const vhost = this.shared.broker.vhost(virtualHost);
    if (vhost === undefined) {
      this.connectionError(new AmqpError(530, `vhost ${virtualHost} not found`), 10, 40);
      return;
    }
    if (!this.shared.broker.canAccessVhost(this.identity.user, virtualHost)) {
      this.connectionError(
        new AmqpError(
          530,
          `access to vhost '${virtualHost}' refused for user '${this.identity.user}'`,
        ),
        10,
        40,
      );
      return;
    }
    this.vhostValue = vhost;
    this.state = "open";
    clearTimeout(this.handshakeTimer);
    this.writeMethod(0, { name: "connection.open-ok", args: { knownHosts: "" } });
    const reason = this.shared.blockedReason();
    if (reason !== null) this.setBlocked(reason);
  }

  // --- heartbeats --------------------------------------------------------------------------

  private startHeartbeats(): void {
    if (this.heartbeatSeconds === 0) return;
    // Ticks at half the interval: a heartbeat goes out when nothing else did during a tick,
    // and the peer is dead after 2 intervals (4 ticks) without a byte from it.
    this.heartbeatTimer = setInterval(() => this.heartbeatTick(), this.heartbeatSeconds * 500);
    this.heartbeatTimer.unref();
  }

  private heartbeatTick(): void {
    if (this.state === "closed") return;
    if (this.readSinceTick) {
      this.readSinceTick = false;
      this.silentTicks = 0;
    } else if (++this.silentTicks >= 4) {
      this.shared.onProtocolError?.(0);
      this.logger.warn(
        { timeoutSeconds: this.heartbeatSeconds },
        "missed heartbeats from client; closing the connection",
      );
      this.terminate();
      return;
    }
    if (!this.wroteSinceTick && this.state !== "closing") {
      this.output.bytes(amqpHeartbeatFrame);
      this.scheduleFlush();
    }
    this.wroteSinceTick = false;
  }

  // --- output ------------------------------------------------------------------------------

  private writeMethod(channel: number, method: AmqpMethod): void {
    this.output.method(channel, method);
    this.scheduleFlush();
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    process.nextTick(this.flushCallback);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.state === "closed" && this.socket.destroyed) return;
    try {
      if (this.resumeChannels.size > 0) {
        for (const channel of this.resumeChannels) channel.resumeConsumers();
        this.resumeChannels.clear();
      }
      if (this.confirmChannels.size > 0) {
        for (const channel of this.confirmChannels) channel.drainConfirms();
        this.confirmChannels.clear();
      }
      const pieces = this.output.take();
      if (pieces.length === 0 || this.socket.destroyed) return;
      this.wroteSinceTick = true;
      if (this.shared.debugFrames) this.debugFrame("out", undefined, pieces);
      if (pieces.length === 1) {
        this.socket.write(pieces[0]);
      } else {
        this.socket.cork();
        for (const piece of pieces) this.socket.write(piece);
        this.socket.uncork();
      }
      if (this.socket.writableLength > this.shared.limits.outputBytesMax) {
        this.outputCongested = true;
        this.setReading(false);
      } else if (this.deliveryRefused) {
        // A consumer was refused for bytes that are now written (no 'drain' will come, the
        // socket took them): ask the queues again.
        this.deliveryRefused = false;
        for (const channel of this.channels.values()) this.resumeChannels.add(channel);
        this.scheduleFlush();
      }
    } catch (error) {
      this.internalError(error, "writing frames");
    }
  }

  private onDrain(): void {
    if (!this.outputCongested) return;
    this.outputCongested = false;
    this.deliveryRefused = false;
    for (const channel of this.channels.values()) this.resumeChannels.add(channel);
    this.scheduleFlush();
    this.pump();
  }

  outputHasRoom(): boolean {
    const room =
      !this.outputCongested &&
      this.socket.writableLength + this.output.pendingBytes <= this.shared.limits.outputBytesMax;
    if (!room) this.deliveryRefused = true;
    return room;
  }

  // --- ChannelHost -------------------------------------------------------------------------

  requestResume(channel: AmqpChannel): void {
    this.resumeChannels.add(channel);
    this.scheduleFlush();
  }

  requestConfirms(channel: AmqpChannel): void {
    this.confirmChannels.add(channel);
    this.scheduleFlush();
  }

  publishStarted(bytes: number): void {
    this.publishInFlightBytes += bytes;
  }

  publishSettled(bytes: number): void {
    const wasOver = this.publishInFlightBytes > this.shared.limits.publishInFlightBytesMax;
    this.publishInFlightBytes -= bytes;
    if (wasOver && this.state === "open") this.pump();
  }

  publishWhileBlocked(): void {
    if (this.shared.blockedReason() !== null) this.blockedPaused = true;
  }

  backlogChanged(channel: AmqpChannel): void {
    if (channel.backlogLength > 0) this.backlogChannels.add(channel);
    else this.backlogChannels.delete(channel);
    if (this.state === "open" && !this.pumping) this.pump();
  }

  channelGone(channel: AmqpChannel): void {
    if (this.channels.get(channel.id) === channel) this.channels.delete(channel.id);
    this.resumeChannels.delete(channel);
    this.confirmChannels.delete(channel);
    this.backlogChannels.delete(channel);
  }

  commandFailed(
    channel: AmqpChannel,
    error: unknown,
    classId: number,
    methodId: number,
    frame?: AmqpFrame,
  ): void {
    const amqpError = toAmqpError(error);
    if (amqpError.internal) {
      this.logger.error({ err: error, channel: channel.id }, "internal error in an amqp channel");
    }
    if (amqpError.hard) {
      this.connectionError(amqpError, classId, methodId, frame);
      return;
    }
    this.shared.onProtocolError?.(amqpError.replyCode);
    this.logger.info(
      { channel: channel.id, replyCode: amqpError.replyCode, text: amqpError.message },
      "closing amqp channel",
    );
    channel.closeWith(amqpError, classId, methodId);
  }

  /** The broker's resource alarm (e.g. disk full) started (reason) or ended (null). */
  setBlocked(reason: string | null): void {
    if (this.state !== "open") return;
    if (this.capabilities.connectionBlocked) {
      this.writeMethod(
        0,
        reason === null
          ? { name: "connection.unblocked", args: {} }
          : { name: "connection.blocked", args: { reason } },
      );
    }
    if (reason === null && this.blockedPaused) {
      this.blockedPaused = false;
      this.pump();
    }
  }

  // --- closing -------------------------------------------------------------------------------

  /** A hard error: connection.close with the reply code, then wait for close-ok. */
  connectionError(error: AmqpError, classId: number, methodId: number, frame?: AmqpFrame): void {
    if (this.state === "closing" || this.state === "closed") return;
    this.shared.onProtocolError?.(error.replyCode);
    this.logger.warn(
      {
        replyCode: error.replyCode,
        text: error.message,
        channel: frame?.channel,
        frameType: frame?.type,
        snippet: frame ? snippet(frame.payload) : undefined,
      },
      "amqp connection error; closing the connection",
    );
    this.releaseChannels();
    this.state = "closing";
    this.writeMethod(0, {
      name: "connection.close",
      args: { replyCode: error.replyCode, replyText: error.message, classId, methodId },
    });
    this.closeTimer = setTimeout(() => this.terminate(), this.shared.limits.closeOkTimeoutMs);
    this.closeTimer.unref();
  }

  /** The client sent connection.close: release everything, answer close-ok, end. */
  private clientClosed(replyCode: number, text: string): void {
    if (replyCode !== 200) this.logger.info({ replyCode, text }, "amqp client closed with error");
    this.releaseChannels();
    this.writeMethod(0, { name: "connection.close-ok", args: {} });
    this.endAfterFlush();
  }

  private endAfterFlush(): void {
    this.state = "closed";
    this.flushNow();
    this.socket.end();
    this.destroyLater();
  }

  private flushNow(): void {
    const pieces = this.output.take();
    if (this.socket.destroyed) return;
    for (const piece of pieces) this.socket.write(piece);
  }

  /** A peer that does not read would keep the socket open: destroy it after a grace period. */
  private destroyLater(): void {
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private terminate(): void {
    this.state = "closed";
    this.socket.destroy();
  }

  /** Closes the connection from the server side (shutdown: 320 CONNECTION_FORCED). */
  close(reason: "shutdown" | "internal-error"): void {
    if (this.state === "closed") return;
    if (this.state === "open" && reason === "shutdown") {
      this.connectionError(new AmqpError(320, "broker shutdown"), 0, 0);
      this.flushNow();
    }
    this.terminate();
  }

  private releaseChannels(): void {
    for (const channel of this.channels.values()) {
      try {
        channel.release();
      } catch (error) {
        this.logger.error({ err: error, channel: channel.id }, "releasing an amqp channel failed");
      }
    }
    this.channels.clear();
    this.resumeChannels.clear();
    this.confirmChannels.clear();
  }

  private onSocketClosed(): void {
    const wasOpen = this.vhostValue !== undefined;
    this.state = "closed";
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.closeTimer);
    clearInterval(this.heartbeatTimer);
    this.releaseChannels();
    if (wasOpen) {
      try {
        this.vhostValue!.connectionClosed(this.identity.connectionId);
      } catch (error) {
        this.logger.error({ err: error }, "virtual host failed to release a connection");
      }
    }
  }

  /** A defect (not bad input): log it with its stack, answer 541, keep the process serving. */
  private internalError(error: unknown, what: string): void {
    this.shared.onProtocolError?.(541);
    this.logger.error({ err: error, what }, "internal error in an amqp session");
    if (this.state === "open") {
      this.connectionError(new AmqpError(541, "internal error", true), 0, 0);
    } else {
      this.terminate();
    }
  }

  private debugFrame(
    direction: "in" | "out",
    frame: AmqpFrame | undefined,
    pieces: Buffer[] | undefined,
  ): void {
    if (!this.shared.debugFrames) return;
    const max = this.shared.limits.debugFrameBytesMax;
    if (frame !== undefined) {
      this.logger.info(
        {
          direction,
          type: frame.type,
          channel: frame.channel,
          bytes: frame.payload.length,
          hex: frame.payload.subarray(0, max).toString("hex"),
        },
        "amqp frame",
      );
      return;
    }
    if (pieces !== undefined) {
      let total = 0;
      for (const piece of pieces) total += piece.length;
      const head = pieces[0]!.subarray(0, max).toString("hex");
      this.logger.info({ direction, bytes: total, hex: head }, "amqp frames");
    }
  }
}

function classOf(method: AmqpMethod): number {
  return methodKey(method)[0];
}

function methodOf(method: AmqpMethod): number {
  return methodKey(method)[1];
}

function methodKey(method: AmqpMethod): [number, number] {
  const info = amqpMethodsByName[method.name];
  return [info.classId, info.methodId];
}

/** SASL PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd. */
export function parsePlain(response: Buffer): { user: string; password: string } | null {
  const first = response.indexOf(0);
  if (first < 0) return null;
  const second = response.indexOf(0, first + 1);
  if (second < 0) return null;
  return {
    user: response.subarray(first + 1, second).toString("utf8"),
    password: response.subarray(second + 1).toString("utf8"),
  };
}

/** RabbitMQ's AMQPLAIN: a field table without its length prefix, with LOGIN and PASSWORD. */
export function parseAmqplain(response: Buffer): { user: string; password: string } | null {
  try {
    const reader = new AmqpReader(response);
    let user: string | undefined;
    let password: string | undefined;
    while (reader.remaining > 0) {
      const key = reader.shortstr();
      const value = reader.fieldValue(0);
      const text =
        value.type === "S" ? value.value : value.type === "x" ? value.value.toString() : undefined;
      if (key === "LOGIN") user = text;
      else if (key === "PASSWORD") password = text;
    }
    return user === undefined || password === undefined ? null : { user, password };
  } catch {
    return null;
  }
}
