/**
 * The files of log compaction and the crash-safe protocol that swaps cleaned segments in
 * (Kafka's `.cleaned` / `.swap` protocol, with a manifest that names the segments involved).
 *
 *   <base>.log.cleaned     a replacement segment being written (not yet part of the log)
 *   <base>.log.swap        a replacement segment whose swap has committed
 *   cleaner-swap           the manifest of the swap in progress (JSON, replaced atomically)
 *   cleaner-offset-checkpoint  "0\n1\n<firstDirty> <cleanedEnd> <deleteHorizonMs>\n"
 *
 * One swap replaces a run of old segments (`oldBases`, contiguous, the first of them at the
 * log's head) by new ones (`newBases`). Steps, each durable before the next:
 *   1. write every `<n>.log.cleaned`, fdatasync each, fsync the directory;
 *   2. write the manifest (temp file, fdatasync, rename, directory fsync);
 *   3. rename every `.cleaned` to `.swap` (highest base first), fsync the directory.
 *      COMMIT: from here on the swap is finished, never undone;
 *   4. unlink the old segments' index files and the old `.log` files whose base is not reused,
 *      fsync the directory;
 *   5. rename every `.swap` to `.log` (replacing the old file of a reused base), fsync;
 *   6. write the checkpoint, unlink the manifest, fsync the directory.
 *
 * Recovery (`resolveInterruptedSwap`, before anything else is opened):
 * - no manifest: any `.cleaned` / `.swap` file is a leftover of step 1: removed;
 * - manifest, and a new base still `.cleaned`: the commit did not happen (step 2 or 3): every
 *   `.cleaned` and `.swap` is removed, the old segments are intact: rolled back;
 * - manifest, no `.cleaned`, some `.swap`: committed, interrupted in step 3, 4 or 5: steps 4
 *   and 5 are redone (they are idempotent: a base with a `.swap` still has its old `.log` or
 *   none; a base without one was already renamed, since step 4 was durable before step 5
 *   began), then step 6;
 * - manifest, no `.cleaned`, no `.swap`: only step 6 is left.
 *
 * Index files are caches: the new segments' are written on the log's next flush or close, and
 * rebuilt by recovery when missing. The old segments' are removed before a new file can take
 * their name, so a stale index never describes a new file.
 *
 * The checkpoint's `cleanedEnd` says which segments compaction has rewritten (base offset below
 * it): recovery lets offsets jump in those (`Segment.offsetGaps`). `firstDirty` is where the
 * next clean starts mapping keys; `deleteHorizonMs` the earliest delete horizon of a tombstone
 * still kept (-1: none), so a scheduler knows when a clean would remove one.
 */
import { join } from "node:path";
import type { Logger } from "pino";
import {
  formatCheckpointLines,
  parseCheckpointLines,
  readCheckpoint,
  removeCheckpoint,
  TEMP_SUFFIX,
  writeCheckpoint,
} from "./checkpoint-file.ts";
import type { FileSystem } from "./file-system.ts";
import {
  LOG_SUFFIX,
  OFFSET_INDEX_SUFFIX,
  segmentFileName,
  TIME_INDEX_SUFFIX,
  unlinkIfPresent,
} from "./segment.ts";

export const CLEANED_SUFFIX = ".log.cleaned";
export const SWAP_SUFFIX = ".log.swap";
export const SWAP_MANIFEST = "cleaner-swap";
export const CLEANER_CHECKPOINT = "cleaner-offset-checkpoint";
const CLEANER_CHECKPOINT_VERSION = 0;
const MANIFEST_VERSION = 1;

export interface CleanerCheckpoint {
  /** Where the next clean starts mapping keys: everything before was mapped once. */
  firstDirtyOffset: number;
  /** Segments with a base offset below this were rewritten by compaction (may have gaps). */
  cleanedEndOffset: number;
  /** Earliest delete horizon of a tombstone still in the cleaned segments; -1 when none. */
  deleteHorizonMs: number;
}

export interface SwapManifest extends CleanerCheckpoint {
  version: number;
  oldBases: number[];
  newBases: number[];
}

export const cleanedFileName = (base: number) => segmentFileName(base, CLEANED_SUFFIX);
export const swapFileName = (base: number) => segmentFileName(base, SWAP_SUFFIX);

export function formatCleanerCheckpoint(checkpoint: CleanerCheckpoint): string {
  const { firstDirtyOffset, cleanedEndOffset, deleteHorizonMs } = checkpoint;
  return formatCheckpointLines(CLEANER_CHECKPOINT_VERSION, [
    [firstDirtyOffset, cleanedEndOffset, deleteHorizonMs],
  ]);
}

/** The checkpoint, or null when absent or unreadable (logged): then nothing counts as clean. */
export async function readCleanerCheckpoint(
  fileSystem: FileSystem,
  dir: string,
  logger: Logger,
): Promise<CleanerCheckpoint | null> {
  const bytes = await readCheckpoint(fileSystem, dir, CLEANER_CHECKPOINT);
  if (bytes === null) return null;
  const lines = parseCheckpointLines(bytes.toString("utf8"), CLEANER_CHECKPOINT_VERSION, 3);
  const fields = lines?.length === 1 ? lines[0]! : null;
  if (fields === null || fields[0]! < 0 || fields[1]! < 0 || fields[2]! < -1) {
    logger.warn({ file: CLEANER_CHECKPOINT }, "unreadable checkpoint ignored");
    return null;
  }
  return {
    firstDirtyOffset: fields[0]!,
    cleanedEndOffset: fields[1]!,
    deleteHorizonMs: fields[2]!,
  };
}

export async function writeCleanerCheckpoint(
  fileSystem: FileSystem,
  dir: string,
  checkpoint: CleanerCheckpoint,
): Promise<void> {
  await writeCheckpoint(fileSystem, dir, CLEANER_CHECKPOINT, formatCleanerCheckpoint(checkpoint));
}

export async function writeSwapManifest(
  fileSystem: FileSystem,
  dir: string,
  manifest: Omit<SwapManifest, "version">,
): Promise<void> {
  const content = `${JSON.stringify({ version: MANIFEST_VERSION, ...manifest })}\n`;
  await writeCheckpoint(fileSystem, dir, SWAP_MANIFEST, content);
}

/** Unlinks the manifest and makes that durable (step 6, or abandoning a swap). */
export async function removeSwapManifest(fileSystem: FileSystem, dir: string): Promise<void> {
  if (await removeCheckpoint(fileSystem, dir, SWAP_MANIFEST)) await fileSystem.syncDirectory(dir);
}

async function readSwapManifest(
  fileSystem: FileSystem,
  dir: string,
): Promise<SwapManifest | "unreadable" | null> {
  const bytes = await readCheckpoint(fileSystem, dir, SWAP_MANIFEST);
  if (bytes === null) return null;
  try {
    const manifest = JSON.parse(bytes.toString("utf8")) as SwapManifest;
    const integers = (values: unknown) =>
      Array.isArray(values) && values.every((value) => Number.isSafeInteger(value) && value >= 0);
    if (
      manifest.version === MANIFEST_VERSION &&
      integers(manifest.oldBases) &&
      integers(manifest.newBases) &&
      integers([manifest.firstDirtyOffset, manifest.cleanedEndOffset]) &&
      Number.isSafeInteger(manifest.deleteHorizonMs)
    ) {
      return manifest;
    }
  } catch {
    // Unparseable: below.
  }
  return "unreadable";
}

/**
 * Step 3 to 5 of a swap whose `.cleaned` files and manifest are durable. `onCommit` is called
 * when the first rename is about to be made: from then on a failure leaves a swap that only
 * recovery may finish.
 */
export async function commitSwap(
  fileSystem: FileSystem,
  dir: string,
  oldBases: readonly number[],
  newBases: readonly number[],
  onCommit: () => void,
): Promise<void> {
  onCommit();
  for (const base of [...newBases].sort((a, b) => b - a)) {
    await fileSystem.rename(join(dir, cleanedFileName(base)), join(dir, swapFileName(base)));
  }
  await fileSystem.syncDirectory(dir);
  await finishSwapFiles(fileSystem, dir, oldBases, newBases, newBases);
}

/** Steps 4 and 5 for the new bases that still have a `.swap` file. */
async function finishSwapFiles(
  fileSystem: FileSystem,
  dir: string,
  oldBases: readonly number[],
  newBases: readonly number[],
  pendingSwaps: readonly number[],
): Promise<void> {
  const reused = new Set(newBases);
  for (const base of oldBases) {
    for (const suffix of [OFFSET_INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      await unlinkIfPresent(fileSystem, join(dir, segmentFileName(base, suffix)));
      await unlinkIfPresent(fileSystem, join(dir, segmentFileName(base, suffix) + TEMP_SUFFIX));
    }
    if (!reused.has(base)) {
      await unlinkIfPresent(fileSystem, join(dir, segmentFileName(base, LOG_SUFFIX)));
    }
  }
  await fileSystem.syncDirectory(dir);
  for (const base of [...pendingSwaps].sort((a, b) => a - b)) {
    await fileSystem.rename(
      join(dir, swapFileName(base)),
      join(dir, segmentFileName(base, LOG_SUFFIX)),
    );
  }
  await fileSystem.syncDirectory(dir);
}

/**
 * Finishes or rolls back a swap interrupted by a crash (see the header), and removes every
 * other leftover of compaction. Runs before the log's segments are listed.
 */
export async function resolveInterruptedSwap(
  fileSystem: FileSystem,
  dir: string,
  logger: Logger,
): Promise<void> {
  const names = new Set(await fileSystem.readdir(dir));
  let manifest = await readSwapManifest(fileSystem, dir);
  let leftovers = [...names].filter(
    (name) => name.endsWith(CLEANED_SUFFIX) || name.endsWith(SWAP_SUFFIX),
  );
  if (manifest === "unreadable") {
    // Written atomically, so this is damage, not a torn write. Without it a committed swap
    // (`.swap` files and no `.cleaned` left) cannot be finished: the old segments to remove are
    // unknown, and rolling back is unsafe once they were touched. Anything else rolls back.
    const committed =
      leftovers.some((name) => name.endsWith(SWAP_SUFFIX)) &&
      !leftovers.some((name) => name.endsWith(CLEANED_SUFFIX));
    if (committed) {
      throw new Error(
        `${join(dir, SWAP_MANIFEST)} is unreadable and a compaction swap is pending; the log needs manual attention`,
      );
    }
    logger.warn({ file: SWAP_MANIFEST }, "unreadable compaction swap manifest; rolling back");
    manifest = null;
    await removeCheckpoint(fileSystem, dir, SWAP_MANIFEST);
  }
  if (manifest !== null) {
    const notRenamed = manifest.newBases.filter((base) => names.has(cleanedFileName(base)));
    if (notRenamed.length > 0) {
      logger.warn(
        { oldBases: manifest.oldBases, newBases: manifest.newBases },
        "rolling back a compaction swap interrupted before its commit",
      );
    } else {
      const pending = manifest.newBases.filter((base) => names.has(swapFileName(base)));
      if (pending.length > 0) {
        logger.warn(
          { oldBases: manifest.oldBases, newBases: manifest.newBases, pending },
          "finishing a compaction swap interrupted after its commit",
        );
        await finishSwapFiles(fileSystem, dir, manifest.oldBases, manifest.newBases, pending);
        const renamed = new Set(pending.map(swapFileName));
        leftovers = leftovers.filter((name) => !renamed.has(name));
      }
      const { firstDirtyOffset, cleanedEndOffset, deleteHorizonMs } = manifest;
      await writeCleanerCheckpoint(fileSystem, dir, {
        firstDirtyOffset,
        cleanedEndOffset,
        deleteHorizonMs,
      });
    }
  }
  for (const name of leftovers) {
    logger.info({ file: name }, "removing leftover compaction file");
    await unlinkIfPresent(fileSystem, join(dir, name));
  }
  if (manifest !== null || leftovers.length > 0 || names.has(SWAP_MANIFEST)) {
    await removeCheckpoint(fileSystem, dir, SWAP_MANIFEST);
    await fileSystem.syncDirectory(dir);
  }
}
