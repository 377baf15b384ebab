/**
 * A raw RESP client for conformance tests: sends one command as a multibulk and returns the
 * server's reply as it came off the wire (latin1 text, so every byte is kept), one complete
 * reply at a time. It knows only where a reply ends (RESP2 and RESP3 types), nothing of what
 * it means: comparisons are byte for byte.
 */
import { connect, type Socket } from "node:net";

const lineTypes = new Set(["+", "-", ":", "_", "#", ",", "("]);
const blobTypes = new Set(["$", "=", "!"]);
const aggregateTypes = new Set(["*", "~", ">"]);
const pairTypes = new Set(["%", "|"]);

/** The index just past the reply starting at `start`, or -1 while it is incomplete. */
export function replyEnd(buffer: Buffer, start: number): number {
  if (start >= buffer.length) return -1;
  const type = String.fromCharCode(buffer[start]!);
  const lineEnd = buffer.indexOf("\r\n", start);
  if (lineEnd < 0) return -1;
  const head = Number(buffer.toString("latin1", start + 1, lineEnd));
  let at = lineEnd + 2;
  if (lineTypes.has(type)) return at;
  if (blobTypes.has(type)) {
    if (head < 0) return at;
    return buffer.length >= at + head + 2 ? at + head + 2 : -1;
  }
  if (aggregateTypes.has(type) || pairTypes.has(type)) {
    if (head < 0) return at;
    const elements = pairTypes.has(type) ? head * 2 : head;
    for (let i = 0; i < elements; i++) {
      at = replyEnd(buffer, at);
      if (at < 0) return -1;
    }
    return at;
  }
  throw new Error(`not a RESP reply type: ${JSON.stringify(type)}`);
}

export function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, "latin1");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

export class RawRespClient {
  private input = Buffer.alloc(0);
  private closed = false;
  private wake: (() => void) | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.input = Buffer.concat([this.input, chunk]);
      this.wake?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on("error", () => {});
  }

  static connect(port: number): Promise<RawRespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => resolve(new RawRespClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends `args` and returns the next reply; `<closed>` or `<timeout>` when none came. */
  command(args: readonly string[], timeoutMs = 2000): Promise<string> {
    this.socket.write(encodeCommand(args));
    return this.next(timeoutMs);
  }

  next(timeoutMs = 2000): Promise<string> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish("<timeout>"), timeoutMs);
      const finish = (reply: string) => {
        clearTimeout(timer);
        this.wake = null;
        resolve(reply);
      };
      const check = () => {
        const end = replyEnd(this.input, 0);
        if (end >= 0) {
          const reply = this.input.toString("latin1", 0, end);
          this.input = this.input.subarray(end);
          finish(reply);
        } else if (this.closed) {
          finish("<closed>");
        }
      };
      this.wake = check;
      check();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface RawExchange {
  /** Everything the server sent, latin1. */
  output: string;
  /** True when the server closed the connection within the wait. */
  closed: boolean;
}

/**
 * Sends `input` (a string as latin1) on a fresh connection and collects what comes back until
 * the server closes it or `waitMs` pass: for inline commands and malformed input, where a reply
 * may be several replies, a protocol error and a close, or nothing.
 */
export function rawExchange(
  port: number,
  input: string | Buffer,
  waitMs = 400,
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let output = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ output, closed: false });
    }, waitMs);
    socket.on("connect", () =>
      socket.write(typeof input === "string" ? Buffer.from(input, "latin1") : input),
    );
    socket.on("data", (chunk: Buffer) => {
      output += chunk.toString("latin1");
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ output, closed: true });
    });
  });
}
