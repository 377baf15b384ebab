/**
 * Storage benchmark: `Log.append` with fsync durability against the raw disk, in one run.
 *
 * What it measures, in order (each result a JSON line; bench/README.md describes every field):
 *   1. `fdatasync_latency`: one small write then fdatasync, timed, many times: the cost a
 *      single durable append cannot avoid, and the yardstick for group commit.
 *   2. for each record size × batch size × appender count, an `append` line and its
 *      `raw_fdatasync` references. The log (N appenders, each awaiting its append before the
 *      next, on batches encoded before the clock starts, as producers send them) and plain
 *      write + fdatasync loops over the same bytes (chunks of one batch, of one group-commit
 *      round = batch × appenders, and that round through node:fs/promises) run in alternating
 *      slices over the same stretch of time: the machine is shared, and a neighbour's test
 *      run must slow both sides of a ratio, not one.
 *   3. `read`: the log of each 256-record, 16-appender case read sequentially with `Log.read`
 *      in 1 MiB chunks, first from the page cache, then after evicting its pages.
 *   4. `target`: the two checks of DESIGN.md "Storage" (batched appends ≥ 80% of the raw
 *      fdatasync'd bandwidth; group commit with single-record batches).
 *
 * Fault model: none; the benchmark writes only below its own temporary directory and removes
 * it at the end (`--keep` leaves it). Each case is bounded by time and by bytes.
 */
import { execFileSync } from "node:child_process";
import {
  closeSync,
  fdatasyncSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statfsSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Histogram } from "hdr-histogram-js";
import { crc32c } from "../src/storage/crc32c.ts";
import {
  type FileHandle,
  type FileSystem,
  nodeFileSystem,
  writeFully as writeFullyAt,
} from "../src/storage/file-system.ts";
import { Log } from "../src/storage/log.ts";
import { defaultLogConfig, type LogConfig } from "../src/storage/log-config.ts";
import {
  encodeBatch,
  Offset,
  readBaseOffset,
  readBatchSize,
  readLastOffsetDelta,
} from "../src/storage/record-batch.ts";
import {
  type BenchContext,
  elapsedMicros,
  type LatencySummary,
  latencyHistogram,
  megabytesPerSecond,
  numberFlag,
  recordSince,
  round,
  stringFlag,
  summarize,
} from "./harness.ts";

export const description =
  "Log.append with fsync durability (group commit) against raw fdatasync'd writes; Log.read.";

export const flags: Record<string, string> = {
  seconds: "time limit of each append case in seconds (default 5, quick 0.3)",
  dir: "parent of the temporary directory (default os.tmpdir(); keep it on the repo's disk)",
  repeat: "run every case this many times, to see the noise (default 1)",
  only: "run only append cases whose name contains this text, e.g. 'r100-b256-a16' ('cpu': append_cpu)",
  keep: "keep the temporary directory at the end",
};

const KiB = 1024;
const MiB = 1024 * KiB;
const recordSizes = [100, 1 * KiB];
const batchSizes = [1, 16, 256];
const appenderCounts = [1, 4, 16];
const readChunkBytes = 1 * MiB;
/** Distinct copies of the batch each appender cycles through (see `appendPool`). */
const poolCopies = 4;
/** The batched-append target of DESIGN.md "Storage": group commit costs latency, not throughput. */
const batchedTargetRatio = 0.8;
/**
 * Records per fsync-latency with 1-record batches and 16 appenders above which group commit
 * is shown to work. Without it the figure is at most 1; perfect grouping approaches 16.
 */
const groupCommitTargetRecords = 4;

interface Bounds {
  appendSeconds: number;
  rawSeconds: number;
  warmupSeconds: number;
  /** Each append case alternates log and raw loops this many times (see `runAppendCase`). */
  slices: number;
  caseBytesMax: number;
  caseRecordsMax: number;
  latencySamplesMax: number;
  latencySeconds: number;
}

function bounds(context: BenchContext): Bounds {
  const appendSeconds = numberFlag(context, "seconds", context.quick ? 0.3 : 5);
  return {
    appendSeconds,
    // A raw loop has no start-up to amortise; half the append time is plenty.
    rawSeconds: round(appendSeconds * 0.5, 2),
    warmupSeconds: round(Math.min(0.5, appendSeconds * 0.1), 2),
    slices: context.quick ? 2 : 6,
    caseBytesMax: context.quick ? 16 * MiB : 1024 * MiB,
    caseRecordsMax: context.quick ? 200_000 : 20_000_000,
    latencySamplesMax: context.quick ? 200 : 5000,
    latencySeconds: context.quick ? 0.3 : 3,
  };
}

// ---------------------------------------------------------------------------------------------
// Environment: where the data goes, so that a figure can be traced to a disk.

interface Mount {
  device: string;
  mountPoint: string;
  fsType: string;
  options: string;
}

function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/** The mount holding `path`: the longest mount point that is a prefix of it. */
function mountOf(path: string): Mount | undefined {
  let best: Mount | undefined;
  let text: string;
  try {
    text = readFileSync("/proc/self/mounts", "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const [device, rawMountPoint, fsType, options] = line.split(" ");
    if (!device || !rawMountPoint || !fsType) continue;
    const mountPoint = unescapeMount(rawMountPoint);
    const inside =
      path === mountPoint ||
      mountPoint === "/" ||
      path.startsWith(mountPoint.endsWith("/") ? mountPoint : `${mountPoint}/`);
    if (inside && (!best || mountPoint.length >= best.mountPoint.length)) {
      best = { device, mountPoint, fsType, options: options ?? "" };
    }
  }
  return best;
}

function tryCommand(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return undefined;
  }
}

function blockDevice(device: string): Record<string, unknown> {
  const name = device.replace(/^\/dev\//, "");
  const sys = (file: string) => {
    try {
      return readFileSync(`/sys/block/${name}/${file}`, "utf8").trim();
    } catch {
      return undefined;
    }
  };
  const lsblk = tryCommand("lsblk", ["-dno", "NAME,SIZE,ROTA,TYPE,MODEL", device])?.trim();
  return {
    device,
    lsblk,
    rotational: sys("queue/rotational"),
    scheduler: sys("queue/scheduler"),
    write_cache: sys("queue/write_cache"),
  };
}

function environment(dir: string, repoRoot: string, bounds: Bounds, context: BenchContext) {
  const mount = mountOf(dir);
  const fs = statfsSync(dir);
  return {
    case: "environment",
    params: { quick: context.quick, ...bounds },
    dir,
    fs_type: mount?.fsType,
    mount_point: mount?.mountPoint,
    mount_options: mount?.options,
    same_filesystem_as_repo: statSync(dir).dev === statSync(repoRoot).dev,
    fs_size_bytes: fs.blocks * fs.bsize,
    fs_free_bytes: fs.bavail * fs.bsize,
    ...(mount ? blockDevice(mount.device) : {}),
    nproc: cpus().length,
    cpu_model: cpus()[0]?.model,
    memory_bytes: totalmem(),
    kernel: release(),
    node: process.version,
    loadavg_at_start: loadavg().map((value) => round(value, 2)),
    git_head: tryCommand("git", ["-C", repoRoot, "rev-parse", "--short", "HEAD"])?.trim(),
    git_dirty: (tryCommand("git", ["-C", repoRoot, "status", "--porcelain"]) ?? "") !== "",
  };
}

// ---------------------------------------------------------------------------------------------
// Raw disk: the ceiling the log is compared with.

function writeFully(fd: number, chunk: Buffer): void {
  let written = 0;
  while (written < chunk.length) written += writeSync(fd, chunk, written);
}

/**
 * fdatasync latency after a small append; both the sync and the libuv-threadpool call. For the
 * latter, `call` is the time spent in the `datasync()` call itself, on the main thread, before
 * it returns its promise: handing the work to a pool thread.
 */
async function measureFsyncLatency(dir: string, writeBytes: number, bounds: Bounds) {
  const path = join(dir, "fdatasync-latency.dat");
  const chunk = Buffer.alloc(writeBytes, 0x5a);
  const syncHistogram = latencyHistogram();
  const fd = openSync(path, "w");
  try {
    const deadline = performance.now() + bounds.latencySeconds * 1000;
    while (syncHistogram.totalCount < bounds.latencySamplesMax && performance.now() < deadline) {
      writeFully(fd, chunk);
      const start = process.hrtime.bigint();
      fdatasyncSync(fd);
      recordSince(syncHistogram, start);
    }
  } finally {
    closeSync(fd);
  }
  const asyncHistogram = latencyHistogram();
  const callHistogram = latencyHistogram();
  const handle = await open(path, "a");
  try {
    const deadline = performance.now() + bounds.latencySeconds * 1000;
    while (asyncHistogram.totalCount < bounds.latencySamplesMax && performance.now() < deadline) {
      await handle.write(chunk);
      const start = process.hrtime.bigint();
      const synced = handle.datasync();
      recordSince(callHistogram, start);
      await synced;
      recordSince(asyncHistogram, start);
    }
  } finally {
    await handle.close();
    unlinkSync(path);
  }
  return {
    sync: summarize(syncHistogram),
    promises: { ...summarize(asyncHistogram), call: summarize(callHistogram) },
  };
}

interface RawResult {
  chunk_bytes: number;
  mb_per_s: number;
  chunks_per_s: number;
  duration_s: number;
  bytes: number;
  cpu_percent: number;
  fdatasync: LatencySummary;
}

/**
 * How a raw loop writes:
 * - `batch`: one batch per write + fdatasync, sync calls (every append fsync'd alone);
 * - `round`: one batch × appenders per write + fdatasync, sync calls: the disk's ceiling for
 *   rounds of that size, and the figure the targets use;
 * - `round_promises`: the same round as `FileHandle.writev` of the separate batch buffers +
 *   `FileHandle.datasync`, as the log issues them: the ceiling for any log built on
 *   node:fs/promises. The gap between `round` and it is Node's thread-pool hops; the gap
 *   between it and the log is the log's own work.
 */
type RawRole = "batch" | "round" | "round_promises";

/**
 * A raw loop: `buffers` appended sequentially to a file of its own, each write followed by an
 * fdatasync. Runs in slices (`run`) interleaved with the log's, and accumulates over them.
 */
class RawWriter {
  readonly path: string;
  readonly chunkBytes: number;
  private readonly chunk: Buffer;
  private readonly histogram = latencyHistogram();
  private fd = -1;
  private handle: FileHandle | null = null;
  private position = 0;
  bytes = 0;
  private chunks = 0;
  private micros = 0;
  private cpuMicros = 0;

  private constructor(
    dir: string,
    private readonly buffers: Buffer[],
    readonly role: RawRole,
  ) {
    this.chunk = Buffer.concat(buffers);
    this.chunkBytes = this.chunk.length;
    this.path = join(dir, `raw-${role}-${this.chunkBytes}.dat`);
  }

  static async open(dir: string, buffers: Buffer[], role: RawRole): Promise<RawWriter> {
    const writer = new RawWriter(dir, buffers, role);
    if (role === "round_promises") writer.handle = await nodeFileSystem.open(writer.path, "w");
    else writer.fd = openSync(writer.path, "w");
    return writer;
  }

  private async writeAndSync(histogram?: Histogram): Promise<void> {
    if (this.handle) {
      await writeFullyAt(this.handle, this.buffers, this.position, this.chunkBytes);
      const syncStart = process.hrtime.bigint();
      await this.handle.datasync();
      if (histogram) recordSince(histogram, syncStart);
    } else {
      writeFully(this.fd, this.chunk);
      const syncStart = process.hrtime.bigint();
      fdatasyncSync(this.fd);
      if (histogram) recordSince(histogram, syncStart);
    }
    this.position += this.chunkBytes;
  }

  async warmUp(seconds: number): Promise<void> {
    const deadline = performance.now() + seconds * 1000;
    while (performance.now() < deadline) await this.writeAndSync();
  }

  /** Writes for `seconds` (or until `bytesMax` in all); returns this slice's bytes per µs. */
  async run(seconds: number, bytesMax: number): Promise<number> {
    const start = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    const deadline = performance.now() + seconds * 1000;
    let bytes = 0;
    while (performance.now() < deadline && this.bytes + bytes + this.chunkBytes <= bytesMax) {
      await this.writeAndSync(this.histogram);
      bytes += this.chunkBytes;
      this.chunks++;
    }
    const micros = elapsedMicros(start);
    const cpu = process.cpuUsage(cpuBefore);
    this.cpuMicros += cpu.user + cpu.system;
    this.bytes += bytes;
    this.micros += micros;
    return bytes / micros;
  }

  result(): RawResult {
    const seconds = this.micros / 1e6;
    return {
      chunk_bytes: this.chunkBytes,
      mb_per_s: megabytesPerSecond(this.bytes, seconds),
      chunks_per_s: round(this.chunks / seconds, 1),
      duration_s: round(seconds),
      bytes: this.bytes,
      cpu_percent: Math.round((this.cpuMicros / this.micros) * 100),
      fdatasync: summarize(this.histogram),
    };
  }

  async close(): Promise<void> {
    if (this.handle) await this.handle.close();
    else closeSync(this.fd);
    unlinkSync(this.path);
  }
}

// ---------------------------------------------------------------------------------------------
// The log.

/** System calls the log made, counted by `countingFileSystem`. */
interface IoCounters {
  writevCalls: number;
  writeBytes: number;
  datasyncCalls: number;
  /** Sum of the time spent inside datasync calls, in microseconds. */
  datasyncMicros: number;
}

function ioCounters(): IoCounters {
  return { writevCalls: 0, writeBytes: 0, datasyncCalls: 0, datasyncMicros: 0 };
}

/**
 * node:fs/promises with writev and datasync counted: shows how many appends one group commit
 * carried (appends / fdatasyncs) without trusting the log's own account. One extra function
 * call per write and per sync: noise next to a ~100 µs system call.
 */
function countingFileSystem(counters: IoCounters): FileSystem {
  const countHandle = (handle: FileHandle): FileHandle => ({
    read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
    writev: async (buffers, position) => {
      counters.writevCalls++;
      const result = await handle.writev(buffers, position);
      counters.writeBytes += result.bytesWritten;
      return result;
    },
    // The log writes small rounds synchronously when the handle can (one thread-pool hop per
    // round); counted the same way so the benchmark measures the path the broker takes.
    ...(handle.writevSync === undefined
      ? {}
      : {
          writevSync: (buffers: Buffer[], position: number) => {
            counters.writevCalls++;
            const written = handle.writevSync!(buffers, position);
            counters.writeBytes += written;
            return written;
          },
        }),
    datasync: async () => {
      const start = process.hrtime.bigint();
      await handle.datasync();
      counters.datasyncCalls++;
      counters.datasyncMicros += elapsedMicros(start);
    },
    sync: () => handle.sync(),
    truncate: (length) => handle.truncate(length),
    stat: () => handle.stat(),
    close: () => handle.close(),
  });
  return {
    ...nodeFileSystem,
    open: async (path, flags) => countHandle(await nodeFileSystem.open(path, flags)),
  };
}

/**
 * node:fs/promises with writev and datasync that return at once without touching the disk:
 * the log then runs as fast as its own CPU work allows (`append_cpu`). Everything else (open,
 * read, index files) is real.
 */
function noWriteFileSystem(): FileSystem {
  const noWrite = (handle: FileHandle): FileHandle => ({
    read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
    writev: async (buffers) => ({ bytesWritten: buffers.reduce((sum, b) => sum + b.length, 0) }),
    writevSync: (buffers) => buffers.reduce((sum, b) => sum + b.length, 0),
    datasync: async () => {},
    sync: () => handle.sync(),
    truncate: (length) => handle.truncate(length),
    stat: () => handle.stat(),
    close: () => handle.close(),
  });
  return {
    ...nodeFileSystem,
    open: async (path, flags) => noWrite(await nodeFileSystem.open(path, flags)),
  };
}

/** The broker's defaults (1 GiB segments, 4 KiB index interval), fsync, no retention. */
function logConfig(): LogConfig {
  return defaultLogConfig({ retentionMs: -1, retentionBytes: -1, durability: { mode: "fsync" } });
}

/** A batch of `count` records with `recordBytes`-byte values (random, so nothing compresses). */
function makeBatch(recordBytes: number, count: number): Buffer {
  const value = Buffer.alloc(recordBytes);
  for (let i = 0; i < recordBytes; i++) value[i] = (Math.random() * 256) | 0;
  const records = Array.from({ length: count }, () => ({ key: null, value }));
  return encodeBatch(records, { baseTimestamp: Date.now() });
}

/**
 * Each appender cycles through its own few copies of the batch. The log stamps the base
 * offset into the buffer in place, so one buffer must never be in two appends at once; an
 * appender reuses a copy only several resolved appends later, as a producer's request buffer
 * is gone once it is acknowledged.
 */
function appendPool(batch: Buffer, appenders: number): Buffer[][] {
  return Array.from({ length: appenders }, () =>
    Array.from({ length: poolCopies }, () => Buffer.from(batch)),
  );
}

/**
 * N appenders on one log, each awaiting its append before the next. Runs in slices (`run`)
 * interleaved with the raw loops, and accumulates totals, latency, CPU time and the log's
 * system calls over the slices only.
 */
class AppendDriver {
  bytes = 0;
  records = 0;
  appends = 0;
  micros = 0;
  cpuMicros = 0;
  readonly latency = latencyHistogram();
  readonly io = ioCounters();

  constructor(
    private readonly log: Log,
    private readonly pool: Buffer[][],
    private readonly recordsPerBatch: number,
    private readonly counters: IoCounters,
  ) {}

  /** Appends for `seconds` (or until a bound); returns this slice's bytes per microsecond. */
  async run(seconds: number, bytesMax: number, recordsMax: number, counted = true) {
    const start = process.hrtime.bigint();
    const cpuBefore = process.cpuUsage();
    const ioBefore = { ...this.counters };
    const deadline = performance.now() + seconds * 1000;
    let bytes = 0;
    let records = 0;
    let appends = 0;
    const more = () =>
      performance.now() < deadline &&
      this.bytes + bytes < bytesMax &&
      this.records + records < recordsMax;
    const appender = async (copies: Buffer[]) => {
      for (let i = 0; more(); i++) {
        const batch = copies[i % copies.length]!;
        bytes += batch.length;
        records += this.recordsPerBatch;
        appends++;
        const appendStart = process.hrtime.bigint();
        await this.log.append(batch, { fromProducer: true });
        if (counted) recordSince(this.latency, appendStart);
      }
    };
    await Promise.all(this.pool.map(appender));
    const micros = elapsedMicros(start);
    if (!counted) return bytes / micros;
    const cpu = process.cpuUsage(cpuBefore);
    this.cpuMicros += cpu.user + cpu.system;
    this.bytes += bytes;
    this.records += records;
    this.appends += appends;
    this.micros += micros;
    this.io.writevCalls += this.counters.writevCalls - ioBefore.writevCalls;
    this.io.writeBytes += this.counters.writeBytes - ioBefore.writeBytes;
    this.io.datasyncCalls += this.counters.datasyncCalls - ioBefore.datasyncCalls;
    this.io.datasyncMicros += this.counters.datasyncMicros - ioBefore.datasyncMicros;
    return bytes / micros;
  }
}

interface ReadResult {
  bytes: number;
  records: number;
  batches: number;
  seconds: number;
  contiguous: boolean;
}

/**
 * Reads the whole log in `readChunkBytes` requests. Walks the batch headers (cheap) to find
 * the next offset and to check that offsets are contiguous; no CRC is verified in the timing.
 */
async function readWholeLog(log: Log): Promise<ReadResult> {
  let offset = log.logStartOffset;
  const end = log.logEndOffset;
  let bytes = 0;
  let records = 0;
  let batches = 0;
  let contiguous = true;
  const start = process.hrtime.bigint();
  while (offset < end) {
    const result = await log.read(offset, readChunkBytes);
    let pos = 0;
    while (pos + 12 <= result.bytes.length) {
      const size = readBatchSize(result.bytes, pos);
      if (pos + size > result.bytes.length) break;
      const baseOffset = readBaseOffset(result.bytes, pos);
      if (baseOffset !== offset) contiguous = false;
      const count = readLastOffsetDelta(result.bytes, pos) + 1;
      offset = baseOffset + count;
      records += count;
      batches++;
      pos += size;
    }
    if (pos === 0) throw new Error(`Log.read(${offset}) returned no whole batch`);
    bytes += pos;
  }
  return { bytes, records, batches, seconds: elapsedMicros(start) / 1e6, contiguous };
}

function filesUnder(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...filesUnder(path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

/** Bytes of `files` in the page cache, by `fincore` (util-linux), or undefined without it. */
function residentBytes(files: string[]): number | undefined {
  const output = tryCommand("fincore", ["--bytes", "--noheadings", "--output", "RES", ...files]);
  if (output === undefined) return undefined;
  return output
    .split("\n")
    .filter((line) => line.trim() !== "")
    .reduce((sum, line) => sum + Number(line.trim()), 0);
}

/**
 * Evicts the log's pages from the page cache. `drop_caches` needs real root (it is refused in
 * a container); otherwise `dd iflag=nocache count=0` calls posix_fadvise(POSIX_FADV_DONTNEED)
 * on each file, which Node cannot call itself. Pages are clean (fdatasync'd), so they go.
 * A virtual disk may still be cached by its host: "cold" here means the guest's page cache.
 */
function evictFromPageCache(files: string[]): string | undefined {
  try {
    writeFileSync("/proc/sys/vm/drop_caches", "1");
    return "drop_caches";
  } catch {
    // Not permitted: fall through to per-file eviction.
  }
  for (const file of files) {
    if (tryCommand("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]) === undefined) {
      return undefined;
    }
  }
  return "posix_fadvise(DONTNEED) via dd iflag=nocache";
}

async function measureReads(context: BenchContext, log: Log, dir: string, spec: AppendCase) {
  for (const cache of ["hot", "cold"] as const) {
    const files = filesUnder(dir);
    let method: string | undefined = "none (read right after writing)";
    if (cache === "cold") method = evictFromPageCache(files);
    const resident = residentBytes(files);
    const onDisk = files.reduce((sum, file) => sum + statSync(file).size, 0);
    const cold =
      cache === "cold" && method !== undefined && (resident === undefined || resident === 0);
    context.progress(`read ${spec.name} (${cache}): ${(onDisk / MiB).toFixed(0)} MiB`);
    const result = await readWholeLog(log);
    context.progress(
      `read ${spec.name} (${cache}): ${megabytesPerSecond(result.bytes, result.seconds)} MB/s`,
    );
    context.emit({
      case: "read",
      params: { source_case: spec.name, chunk_bytes: readChunkBytes, cache, repeat: spec.repeat },
      cold,
      eviction_method: method,
      resident_bytes_before: resident,
      log_bytes_on_disk: onDisk,
      mb_per_s: megabytesPerSecond(result.bytes, result.seconds),
      records_per_s: Math.round(result.records / result.seconds),
      duration_s: round(result.seconds),
      bytes: result.bytes,
      records: result.records,
      batches: result.batches,
      offsets_contiguous: result.contiguous,
    });
    if (!result.contiguous) context.progress("WARNING: offsets read back are not contiguous");
  }
}

// ---------------------------------------------------------------------------------------------
// One append case: raw references, then the log.

interface AppendCase {
  name: string;
  recordBytes: number;
  batchRecords: number;
  appenders: number;
  repeat: number;
}

function emitRaw(context: BenchContext, raw: RawWriter, spec: AppendCase, slices: number) {
  const { chunk_bytes, ...metrics } = raw.result();
  context.emit({
    case: "raw_fdatasync",
    params: { chunk_bytes, for_case: spec.name, role: raw.role, slices, repeat: spec.repeat },
    ...metrics,
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * One append case. The log and its raw references run in alternating slices over the same
 * stretch of time (log, raw batch, raw round; then the reverse order), so that a neighbour's
 * test run slows both sides of each ratio alike instead of landing on one of them.
 */
async function runAppendCase(
  context: BenchContext,
  root: string,
  spec: AppendCase,
  limits: Bounds,
  fsyncP50AtStart: number,
  readAfter: boolean,
) {
  const batch = makeBatch(spec.recordBytes, spec.batchRecords);
  const pool = appendPool(batch, spec.appenders);
  const roundBuffers = Array.from({ length: spec.appenders }, () => batch);
  const rawBatch = await RawWriter.open(root, [batch], "batch");
  const raws = [rawBatch];
  // With one appender a round is one batch: the `batch` loop is also the round ceiling.
  if (spec.appenders > 1) raws.push(await RawWriter.open(root, roundBuffers, "round"));
  const rawRound = raws[raws.length - 1]!;
  const rawPromises = await RawWriter.open(root, roundBuffers, "round_promises");
  raws.push(rawPromises);
  const dir = join(root, spec.name);
  mkdirSync(dir);
  const counters = ioCounters();
  const log = await Log.open(dir, logConfig(), { fileSystem: countingFileSystem(counters) });
  try {
    const driver = new AppendDriver(log, pool, spec.batchRecords, counters);
    const { caseBytesMax: bytesMax, caseRecordsMax: recordsMax, slices } = limits;
    context.progress(`${spec.name}: warm-up`);
    await driver.run(limits.warmupSeconds, Infinity, Infinity, false);
    for (const raw of raws) await raw.warmUp(limits.warmupSeconds);
    const roles = raws.map((raw) => `raw ${raw.role}`).join(" / ");
    context.progress(`${spec.name}: ${slices} slices of log / ${roles}`);
    const sliceRatios: number[] = [];
    for (let slice = 0; slice < slices; slice++) {
      const order = slice % 2 === 0 ? raws : [...raws].reverse();
      let logRate = 0;
      if (slice % 2 === 0)
        logRate = await driver.run(limits.appendSeconds / slices, bytesMax, recordsMax);
      const rawRates = new Map<RawWriter, number>();
      for (const raw of order) {
        rawRates.set(raw, await raw.run(limits.rawSeconds / slices, bytesMax));
      }
      if (slice % 2 === 1)
        logRate = await driver.run(limits.appendSeconds / slices, bytesMax, recordsMax);
      sliceRatios.push(logRate / rawRates.get(rawRound)!);
      const boundReached =
        driver.bytes >= bytesMax ||
        driver.records >= recordsMax ||
        raws.some((raw) => raw.bytes + raw.chunkBytes > bytesMax);
      if (boundReached) break;
    }
    for (const raw of raws) emitRaw(context, raw, spec, sliceRatios.length);
    const seconds = driver.micros / 1e6;
    const batchResult = rawBatch.result();
    const roundResult = rawRound.result();
    const promisesResult = rawPromises.result();
    const fsyncP50 = batchResult.fdatasync.p50_us;
    const mbPerSecond = megabytesPerSecond(driver.bytes, seconds);
    const recordsPerSecond = driver.records / seconds;
    const appendsPerSecond = driver.appends / seconds;
    const io = driver.io;
    // In fsync mode every round is written and then fdatasync'd: fewer syncs than writes means
    // acknowledged appends were not durable, and the throughput figure is not one of fsync mode.
    const durable = io.datasyncCalls >= io.writevCalls;
    context.emit({
      case: "append",
      params: {
        name: spec.name,
        record_bytes: spec.recordBytes,
        batch_records: spec.batchRecords,
        appenders: spec.appenders,
        batch_bytes: batch.length,
        durability: "fsync",
        from_producer: true,
        slices: sliceRatios.length,
        repeat: spec.repeat,
      },
      mb_per_s: mbPerSecond,
      records_per_s: Math.round(recordsPerSecond),
      appends_per_s: Math.round(appendsPerSecond),
      payload_mb_per_s: megabytesPerSecond(driver.records * spec.recordBytes, seconds),
      duration_s: round(seconds),
      bytes: driver.bytes,
      records: driver.records,
      appends: driver.appends,
      cpu_percent: Math.round((driver.cpuMicros / driver.micros) * 100),
      append_latency: summarize(driver.latency),
      raw_batch_chunk: { chunk_bytes: batchResult.chunk_bytes, mb_per_s: batchResult.mb_per_s },
      raw_round_chunk: { chunk_bytes: roundResult.chunk_bytes, mb_per_s: roundResult.mb_per_s },
      raw_round_promises: {
        chunk_bytes: promisesResult.chunk_bytes,
        mb_per_s: promisesResult.mb_per_s,
      },
      ratio_vs_raw_batch_chunk: round(mbPerSecond / batchResult.mb_per_s),
      ratio_vs_raw_round_chunk: round(mbPerSecond / roundResult.mb_per_s),
      ratio_vs_raw_round_promises: round(mbPerSecond / promisesResult.mb_per_s),
      ratio_vs_raw_round_chunk_by_slice: {
        min: round(Math.min(...sliceRatios)),
        median: round(median(sliceRatios)),
        max: round(Math.max(...sliceRatios)),
      },
      // Group commit: records completed per fdatasync latency. The latency is the p50 of the
      // case's own `batch` raw loop (one small write + fdatasync, run in the same slices as the
      // log); the `_start` variant uses the `fdatasync_latency` line measured before all cases.
      fsync_p50_us: fsyncP50,
      records_per_fsync_latency: round((recordsPerSecond * fsyncP50) / 1e6, 2),
      appends_per_fsync_latency: round((appendsPerSecond * fsyncP50) / 1e6, 2),
      fsync_p50_us_start: fsyncP50AtStart,
      records_per_fsync_latency_start: round((recordsPerSecond * fsyncP50AtStart) / 1e6, 2),
      log_fdatasyncs: io.datasyncCalls,
      log_fdatasyncs_per_s: Math.round(io.datasyncCalls / seconds),
      appends_per_fdatasync: round(driver.appends / Math.max(1, io.datasyncCalls), 2),
      records_per_fdatasync: round(driver.records / Math.max(1, io.datasyncCalls), 2),
      log_fdatasync_mean_us: Math.round(io.datasyncMicros / Math.max(1, io.datasyncCalls)),
      fdatasync_busy_percent: Math.round((io.datasyncMicros / driver.micros) * 100),
      log_writevs: io.writevCalls,
      log_write_bytes: io.writeBytes,
      fdatasync_per_write: durable,
      log_size_bytes: log.sizeBytes,
    });
    context.progress(
      `${spec.name}: ${mbPerSecond} MB/s, ${Math.round(recordsPerSecond)} records/s; raw ` +
        `${batchResult.mb_per_s} MB/s (batch chunk), ${roundResult.mb_per_s} MB/s (round chunk)`,
    );
    if (!durable) {
      context.progress(
        `WARNING: ${spec.name}: ${io.datasyncCalls} fdatasyncs for ${io.writevCalls} writes ` +
          "in fsync mode: appends were acknowledged before they were durable",
      );
    }
    if (readAfter) await measureReads(context, log, dir, spec);
    const appendsPerFdatasync = driver.appends / Math.max(1, io.datasyncCalls);
    return {
      mbPerSecond,
      recordsPerSecond,
      batchResult,
      roundResult,
      sliceRatios,
      durable,
      appendsPerFdatasync,
      fsyncP50,
    };
  } finally {
    for (const raw of raws) await raw.close();
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function appendCases(context: BenchContext, repeat: number): AppendCase[] {
  const only = stringFlag(context, "only");
  const cases: AppendCase[] = [];
  for (const recordBytes of recordSizes) {
    for (const batchRecords of batchSizes) {
      for (const appenders of appenderCounts) {
        const name = `r${recordBytes}-b${batchRecords}-a${appenders}`;
        if (only === undefined || name.includes(only)) {
          cases.push({ name, recordBytes, batchRecords, appenders, repeat });
        }
      }
    }
  }
  return cases;
}

/**
 * The log's own CPU cost per append, with a disk that costs nothing (`noWriteFileSystem`):
 * validation (CRC32C), offset assignment, group-commit bookkeeping, promises. With appenders
 * that wait for each append, this work runs while the real disk is idle, so it adds to every
 * round. Also the CRC32C speed alone, the largest part of it for big batches.
 */
async function measureAppendCpu(
  context: BenchContext,
  root: string,
  limits: Bounds,
  repeat: number,
) {
  const shapes = [
    { recordBytes: 100, batchRecords: 1, appenders: 16 },
    { recordBytes: 100, batchRecords: 256, appenders: 16 },
    { recordBytes: 1024, batchRecords: 256, appenders: 16 },
  ];
  const seconds = context.quick ? 0.2 : 2;
  for (const shape of shapes) {
    const name = `r${shape.recordBytes}-b${shape.batchRecords}-a${shape.appenders}`;
    const batch = makeBatch(shape.recordBytes, shape.batchRecords);
    const dir = join(root, `cpu-${name}`);
    mkdirSync(dir);
    const counters = ioCounters();
    const log = await Log.open(dir, logConfig(), { fileSystem: noWriteFileSystem() });
    try {
      const driver = new AppendDriver(
        log,
        appendPool(batch, shape.appenders),
        shape.batchRecords,
        counters,
      );
      await driver.run(limits.warmupSeconds, Infinity, Infinity, false);
      await driver.run(seconds, Infinity, Infinity);
      const wallSeconds = driver.micros / 1e6;
      context.emit({
        case: "append_cpu",
        params: {
          name,
          record_bytes: shape.recordBytes,
          batch_records: shape.batchRecords,
          appenders: shape.appenders,
          batch_bytes: batch.length,
          disk: "writev and datasync are no-ops",
          repeat,
        },
        cpu_us_per_append: round(driver.cpuMicros / driver.appends, 2),
        cpu_us_per_round: round((driver.cpuMicros / driver.appends) * shape.appenders, 1),
        appends_per_s: Math.round(driver.appends / wallSeconds),
        mb_per_s: megabytesPerSecond(driver.bytes, wallSeconds),
        cpu_percent: Math.round((driver.cpuMicros / driver.micros) * 100),
        duration_s: round(wallSeconds),
      });
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const batch = makeBatch(100, 256);
  const calls = context.quick ? 2_000 : 20_000;
  for (let i = 0; i < calls / 10; i++) crc32c(batch, Offset.attributes, batch.length);
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) crc32c(batch, Offset.attributes, batch.length);
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  context.emit({
    case: "crc32c",
    params: {
      bytes: batch.length - Offset.attributes,
      calls,
      implementation: "src/storage/crc32c.ts",
      repeat,
    },
    cpu_us_per_call: round((cpuSeconds / calls) * 1e6, 2),
    mb_per_cpu_s: megabytesPerSecond((batch.length - Offset.attributes) * calls, cpuSeconds),
    mb_per_s: megabytesPerSecond(
      (batch.length - Offset.attributes) * calls,
      elapsedMicros(start) / 1e6,
    ),
  });
}

async function runOnce(context: BenchContext, root: string, limits: Bounds, repeat: number) {
  // The latency reference uses the size of a 1-record, 100-byte batch: the group-commit case.
  const smallBatchBytes = makeBatch(100, 1).length;
  context.progress(`fdatasync latency (${smallBatchBytes}-byte writes)`);
  const latency = await measureFsyncLatency(root, smallBatchBytes, limits);
  for (const [api, summary] of Object.entries(latency)) {
    context.emit({
      case: "fdatasync_latency",
      params: { write_bytes: smallBatchBytes, api, repeat },
      ...summary,
      fsyncs_per_s_at_p50: Math.round(1e6 / summary.p50_us),
    });
  }
  const fsyncP50 = latency.sync.p50_us;

  const results = new Map<string, Awaited<ReturnType<typeof runAppendCase>>>();
  for (const spec of appendCases(context, repeat)) {
    const readAfter = spec.batchRecords === 256 && spec.appenders === 16;
    results.set(spec.name, await runAppendCase(context, root, spec, limits, fsyncP50, readAfter));
  }

  const only = stringFlag(context, "only");
  if (only === undefined || "append_cpu".includes(only)) {
    context.progress("append_cpu: the log on a disk that costs nothing");
    await measureAppendCpu(context, root, limits, repeat);
  }

  const batched = results.get("r100-b256-a16");
  if (batched) {
    const ratio = batched.mbPerSecond / batched.roundResult.mb_per_s;
    context.emit({
      case: "target",
      params: { name: "batched_append_vs_raw", append_case: "r100-b256-a16", repeat },
      log_mb_per_s: batched.mbPerSecond,
      raw_mb_per_s: batched.roundResult.mb_per_s,
      raw_chunk_bytes: batched.roundResult.chunk_bytes,
      raw_figure:
        "raw_round_chunk (one batch x 16 appenders: the most one group-commit round holds)",
      ratio: round(ratio),
      ratio_by_slice_median: round(median(batched.sliceRatios)),
      threshold: batchedTargetRatio,
      fdatasync_per_write: batched.durable,
      met: batched.durable && ratio >= batchedTargetRatio,
    });
  }
  const single = results.get("r100-b1-a16");
  if (single) {
    const perFsync = (single.recordsPerSecond * single.fsyncP50) / 1e6;
    context.emit({
      case: "target",
      params: { name: "group_commit", append_case: "r100-b1-a16", repeat },
      records_per_s: Math.round(single.recordsPerSecond),
      fsync_p50_us: single.fsyncP50,
      fsync_p50_source: "the case's raw batch loop (170-byte write + fdatasyncSync), same slices",
      fsyncs_per_s_at_p50: Math.round(1e6 / single.fsyncP50),
      records_per_fsync_latency: round(perFsync, 2),
      records_per_raw_fsyncd_write: round(
        single.recordsPerSecond / single.batchResult.chunks_per_s,
        2,
      ),
      fsync_p50_us_start: fsyncP50,
      records_per_fsync_latency_start: round((single.recordsPerSecond * fsyncP50) / 1e6, 2),
      appends_per_fdatasync: round(single.appendsPerFdatasync, 2),
      threshold: groupCommitTargetRecords,
      fdatasync_per_write: single.durable,
      met: single.durable && perFsync >= groupCommitTargetRecords,
    });
  }
}

export async function run(context: BenchContext): Promise<void> {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const limits = bounds(context);
  const parent = realpathSync(stringFlag(context, "dir") ?? tmpdir());
  const root = mkdtempSync(join(parent, "wharf-bench-storage-"));
  const env = environment(root, repoRoot, limits, context);
  context.emit(env);
  context.progress(
    `data in ${root} (${env.fs_type}, same filesystem as repo: ${env.same_filesystem_as_repo})`,
  );
  if (!env.same_filesystem_as_repo) {
    context.progress("WARNING: not the repo's filesystem; pass --dir to choose another place");
  }
  try {
    const repeats = numberFlag(context, "repeat", 1);
    for (let repeat = 1; repeat <= repeats; repeat++) {
      if (repeats > 1) context.progress(`repeat ${repeat}/${repeats}`);
      await runOnce(context, root, limits, repeat);
    }
  } finally {
    if (context.flags.get("keep") === true) context.progress(`kept ${root}`);
    else rmSync(root, { recursive: true, force: true });
  }
}
