/**
 * The file-system boundary of the storage layer.
 *
 * Every byte the log reads or writes goes through `FileSystem` and `FileHandle`, so that tests
 * can inject faults (ENOSPC, EIO, EROFS) and count system calls (fdatasync per group commit)
 * without touching a real disk's failure modes. The default implementation is node:fs/promises;
 * its `FileHandle` already has the shape below, so the hot path adds no wrapper.
 *
 * Fault model: any call may reject with a Node system error (`error.code` is an errno name).
 * `storageError` maps such an error to the catalog code that producers see.
 */
import { constants, writevSync } from "node:fs";
import * as fs from "node:fs/promises";
import { WharfError } from "../errors/index.ts";

/** The open modes the storage layer uses (fopen-style, as node:fs takes them). */
export type OpenFlags = "r" | "r+" | "w" | "w+" | "wx" | "wx+";

/** What the storage layer needs of an open file. Positions are always explicit (pread/pwrite). */
export interface FileHandle {
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
  /** May write fewer bytes than given (ENOSPC after a partial write); callers loop. */
  writev(buffers: Buffer[], position: number): Promise<{ bytesWritten: number }>;
  /**
   * Optional: the same write on the calling thread (returns the bytes written, may be short
   * like `writev`, throws a Node system error). A write into the page cache takes
   * microseconds, less than the thread-pool round trip of `writev`, so the log's group commit
   * uses it for its rounds and leaves only the fdatasync to the thread pool: one hop per round
   * instead of two. Implementations that intercept writes (fault injection, counting) leave it
   * out, and the log then uses `writev`.
   */
  writevSync?(buffers: Buffer[], position: number): number;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<{ size: number; mtimeMs: number }>;
  close(): Promise<void>;
}

export interface FileStats {
  size: number;
  mtimeMs: number;
  isFile(): boolean;
  isDirectory(): boolean;
}

export interface FileSystem {
  open(path: string, flags: OpenFlags): Promise<FileHandle>;
  /** Rejects with ENOENT when the file does not exist. */
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string): Promise<void>;
  /** Removes a file or a directory tree; a missing path is not an error. */
  removeTree(path: string): Promise<void>;
  stat(path: string): Promise<FileStats>;
  /** Throws when the calling process may not write into `path`. */
  checkWritable(path: string): Promise<void>;
  /**
   * Makes the directory's entries durable (fsync on the directory). A file created, renamed or
   * removed is only certain to survive power loss after this.
   */
  syncDirectory(path: string): Promise<void>;
}

/** node:fs/promises, unchanged, plus `writevSync` on the handle's descriptor. */
export const nodeFileSystem: FileSystem = {
  open: async (path, flags) => withSyncWrite(await fs.open(path, flags)),
  readFile: (path) => fs.readFile(path),
  rename: (from, to) => fs.rename(from, to),
  unlink: (path) => fs.unlink(path),
  readdir: (path) => fs.readdir(path),
  mkdir: async (path) => {
    await fs.mkdir(path, { recursive: true });
  },
  removeTree: (path) => fs.rm(path, { recursive: true, force: true }),
  stat: (path) => fs.stat(path),
  checkWritable: (path) => fs.access(path, constants.W_OK),
  syncDirectory: async (path) => {
    const handle = await fs.open(path, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};

/** Adds `writevSync` to a node:fs/promises handle (same descriptor, so the same file position rules). */
function withSyncWrite(handle: fs.FileHandle): FileHandle {
  const fd = handle.fd;
  return Object.assign(handle, {
    writevSync: (buffers: Buffer[], position: number) => writevSync(fd, buffers, position),
  });
}

/** The errno name of a Node system error, or undefined. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return errorCode(error) === "ENOENT";
}

/**
 * Maps a failed file operation to the catalog: out of space, read-only (or not permitted), or
 * any other I/O failure. A `WharfError` passes through unchanged.
 */
export function storageError(error: unknown, what: string): WharfError {
  if (error instanceof WharfError) return error;
  const code = errorCode(error);
  const detail = `${what}: ${code ?? (error as Error)?.message ?? String(error)}`;
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return new WharfError("WHARF_STORAGE_FULL", detail, { cause: error });
    case "EROFS":
    case "EACCES":
    case "EPERM":
      return new WharfError("WHARF_STORAGE_READ_ONLY", detail, { cause: error });
    default:
      return new WharfError("WHARF_STORAGE_IO", detail, { cause: error });
  }
}

/**
 * Writes all of `buffers` at `position`, looping over short writes. libuv already loops over
 * partial writes, but it reports the bytes written so far instead of the error that stopped it
 * (ENOSPC half-way through), so the next call here surfaces that error.
 */
export async function writeFully(
  handle: FileHandle,
  buffers: Buffer[],
  position: number,
  totalBytes: number,
): Promise<void> {
  let written = 0;
  let pending = buffers;
  while (written < totalBytes) {
    const { bytesWritten } = await handle.writev(pending, position + written);
    if (bytesWritten <= 0)
      throw Object.assign(new Error("writev made no progress"), { code: "EIO" });
    written += bytesWritten;
    if (written < totalBytes) pending = remainingBuffers(pending, bytesWritten);
  }
}

/** `writeFully` with `handle.writevSync` (which the caller checked is present). */
export function writeFullySync(
  handle: FileHandle,
  buffers: Buffer[],
  position: number,
  totalBytes: number,
): void {
  let written = 0;
  let pending = buffers;
  while (written < totalBytes) {
    const bytesWritten = handle.writevSync!(pending, position + written);
    if (bytesWritten <= 0)
      throw Object.assign(new Error("writev made no progress"), { code: "EIO" });
    written += bytesWritten;
    if (written < totalBytes) pending = remainingBuffers(pending, bytesWritten);
  }
}

function remainingBuffers(buffers: Buffer[], consumed: number): Buffer[] {
  let index = 0;
  while (index < buffers.length && consumed >= buffers[index]!.length) {
    consumed -= buffers[index]!.length;
    index++;
  }
  const rest = buffers.slice(index);
  if (consumed > 0) rest[0] = rest[0]!.subarray(consumed);
  return rest;
}

/**
 * Reads up to `length` bytes at `position` into a new buffer, looping over short reads; the
 * result is shorter only at the end of the file.
 */
export async function readAt(
  handle: FileHandle,
  position: number,
  length: number,
): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}
