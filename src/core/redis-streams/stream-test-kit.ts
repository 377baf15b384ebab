/**
 * Test kit for the Redis streams core: a `RedisStreams` on a real LogStore and StreamRegistry
 * in a temporary directory, with a manual clock. Used by the unit tests beside it; not
 * imported by the broker.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig } from "../../config/config.ts";
import { silentLogger } from "../../logging/logger.ts";
import { LogStore } from "../../storage/log-store.ts";
import { StreamRegistry } from "../streams/stream-registry.ts";
import { RedisStreams, type RedisStreamsOptions, type XaddId } from "./redis-streams.ts";
import { parseIdArgument, type StreamId } from "./stream-id.ts";

export class ManualClock {
  constructor(public ms = 1_700_000_000_000) {}
  now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export interface StreamKit {
  dir: string;
  clock: ManualClock;
  logStore: LogStore;
  registry: StreamRegistry;
  streams: RedisStreams;
  /** Closes everything; keeps the directory (reopen with `openStreamKit({ dir })`). */
  close(): Promise<void>;
  /** Closes and removes the directory. */
  dispose(): Promise<void>;
}

export async function openStreamKit(
  options: {
    dir?: string;
    clock?: ManualClock;
    segmentBytes?: number;
    streams?: Partial<RedisStreamsOptions>;
  } = {},
): Promise<StreamKit> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "wharf-redis-streams-"));
  const clock = options.clock ?? new ManualClock();
  const logStore = await LogStore.open(join(dir, "data"), { retentionCheckIntervalMs: 0 });
  const registry = await StreamRegistry.open(logStore, dir, {
    defaults: {
      ...defaultConfig.storage,
      segmentBytes: options.segmentBytes ?? defaultConfig.storage.segmentBytes,
    },
    logger: silentLogger,
    compactionIntervalMs: 0,
  });
  const streams = await RedisStreams.open(registry, logStore, {
    logger: silentLogger,
    now: clock.now,
    ...options.streams,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await streams.close();
    await registry.close();
    await logStore.close();
  };
  return {
    dir,
    clock,
    logStore,
    registry,
    streams,
    close,
    dispose: async () => {
      await close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const key = (text: string): Buffer => Buffer.from(text, "latin1");
export const id = (text: string): StreamId => parseIdArgument(text).id;
export const auto: XaddId = { kind: "auto" };
export const explicit = (text: string): XaddId => {
  const parsed = parseIdArgument(text, { strict: true, allowAutoSeq: true });
  return { kind: "explicit", id: parsed.id, seqGiven: parsed.seqGiven };
};
export const fields = (...pairs: string[]): Buffer[] => pairs.map((text) => Buffer.from(text));
export const text = (buffers: Buffer[] | null): string[] | null =>
  buffers === null ? null : buffers.map((buffer) => buffer.toString());
