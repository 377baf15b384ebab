/**
 * A `FileSystem` for tests: delegates to another file system (the real one by default), counts
 * every call by operation, and lets a test inject errors or delays into chosen operations.
 *
 * A fault is a function consulted before each call; it may throw (the call then fails without
 * reaching the disk), return a promise (the call waits for it: a slow disk), or return nothing.
 * Errors are made with `systemError("ENOSPC")` so they look like Node's own.
 */
import { basename } from "node:path";
import { type FileHandle, type FileSystem, nodeFileSystem, type OpenFlags } from "./file-system.ts";

export type FileOperation =
  | "open"
  | "read"
  | "writev"
  | "datasync"
  | "sync"
  | "truncate"
  | "fstat"
  | "close"
  | "readFile"
  | "rename"
  | "unlink"
  | "readdir"
  | "mkdir"
  | "removeTree"
  | "stat"
  | "checkWritable"
  | "syncDirectory";

/** Consulted before each call; `path` is the file the call concerns. */
export type Fault = (operation: FileOperation, path: string) => void | Promise<void>;

export function systemError(code: string, message = code): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

export class FaultyFileSystem implements FileSystem {
  readonly calls = new Map<FileOperation, number>();
  fault: Fault | null = null;
  /**
   * A disk that fills up: when set, writes consume it, a writev larger than what is left
   * writes the part that fits (as a real disk does), and a writev with nothing left fails
   * with ENOSPC. null means unlimited.
   */
  spaceLeftBytes: number | null = null;
  /**
   * A disk that takes writes in pieces: when set, a writev writes at most this many bytes and
   * reports a short write after yielding to the event loop, so the caller loops, and a process
   * killed meanwhile leaves a torn batch behind. null writes whole.
   */
  writeChunkBytes: number | null = null;

  constructor(private readonly inner: FileSystem = nodeFileSystem) {}

  count(operation: FileOperation): number {
    return this.calls.get(operation) ?? 0;
  }

  resetCounts(): void {
    this.calls.clear();
  }

  /** Fails `operation` on files whose name ends with `suffix` with errno `code`, while active. */
  failWhen(operation: FileOperation, code: string, suffix = ""): void {
    this.fault = (op, path) => {
      if (op === operation && basename(path).endsWith(suffix)) throw systemError(code, path);
    };
  }

  async before(operation: FileOperation, path: string): Promise<void> {
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
    const pending = this.fault?.(operation, path);
    if (pending) await pending;
  }

  async open(path: string, flags: OpenFlags): Promise<FileHandle> {
    await this.before("open", path);
    return new FaultyFileHandle(this, path, await this.inner.open(path, flags));
  }
  async readFile(path: string): Promise<Buffer> {
    await this.before("readFile", path);
    return this.inner.readFile(path);
  }
  async rename(from: string, to: string): Promise<void> {
    await this.before("rename", to);
    return this.inner.rename(from, to);
  }
  async unlink(path: string): Promise<void> {
    await this.before("unlink", path);
    return this.inner.unlink(path);
  }
  async readdir(path: string): Promise<string[]> {
    await this.before("readdir", path);
    return this.inner.readdir(path);
  }
  async mkdir(path: string): Promise<void> {
    await this.before("mkdir", path);
    return this.inner.mkdir(path);
  }
  async removeTree(path: string): Promise<void> {
    await this.before("removeTree", path);
    return this.inner.removeTree(path);
  }
  async stat(path: string) {
    await this.before("stat", path);
    return this.inner.stat(path);
  }
  async checkWritable(path: string): Promise<void> {
    await this.before("checkWritable", path);
    return this.inner.checkWritable(path);
  }
  async syncDirectory(path: string): Promise<void> {
    await this.before("syncDirectory", path);
    return this.inner.syncDirectory(path);
  }
}

/** The first `bytes` bytes of `buffers` (views, no copy). */
function prefix(buffers: Buffer[], bytes: number): Buffer[] {
  const out: Buffer[] = [];
  for (const buffer of buffers) {
    if (bytes <= 0) break;
    out.push(buffer.length <= bytes ? buffer : buffer.subarray(0, bytes));
    bytes -= buffer.length;
  }
  return out;
}

class FaultyFileHandle implements FileHandle {
  constructor(
    private readonly owner: FaultyFileSystem,
    private readonly path: string,
    private readonly inner: FileHandle,
  ) {}

  async read(buffer: Buffer, offset: number, length: number, position: number) {
    await this.owner.before("read", this.path);
    return this.inner.read(buffer, offset, length, position);
  }
  async writev(buffers: Buffer[], position: number) {
    await this.owner.before("writev", this.path);
    const chunk = this.owner.writeChunkBytes;
    if (chunk !== null) {
      const result = await this.inner.writev(prefix(buffers, chunk), position);
      await new Promise((resolve) => setImmediate(resolve));
      return result;
    }
    const space = this.owner.spaceLeftBytes;
    if (space === null) return this.inner.writev(buffers, position);
    if (space <= 0) throw systemError("ENOSPC", this.path);
    const fitting = prefix(buffers, space);
    const result = await this.inner.writev(fitting, position);
    this.owner.spaceLeftBytes = space - result.bytesWritten;
    return result;
  }
  async datasync(): Promise<void> {
    await this.owner.before("datasync", this.path);
    return this.inner.datasync();
  }
  async sync(): Promise<void> {
    await this.owner.before("sync", this.path);
    return this.inner.sync();
  }
  async truncate(length: number): Promise<void> {
    await this.owner.before("truncate", this.path);
    return this.inner.truncate(length);
  }
  async stat() {
    await this.owner.before("fstat", this.path);
    return this.inner.stat();
  }
  async close(): Promise<void> {
    // Closing never fails here: a test that fails `close` would leak descriptors.
    this.owner.calls.set("close", this.owner.count("close") + 1);
    return this.inner.close();
  }
}
