/**
 * Small files replaced atomically: the log-start-offset checkpoint, the leader-epoch checkpoint
 * and the clean-shutdown marker.
 *
 * A write goes to `<name>.tmp`, is fdatasync'd, renamed over `<name>`, and the directory is
 * fsync'd: after a crash the file holds either the old or the new content, never a mix.
 * A leftover `.tmp` (crash before the rename) is removed when the log opens.
 */
import { join } from "node:path";
import { type FileSystem, isNotFound, writeFully } from "./file-system.ts";

export const TEMP_SUFFIX = ".tmp";

export async function writeCheckpoint(
  fileSystem: FileSystem,
  dir: string,
  name: string,
  content: string | Buffer,
  options: { syncFile?: boolean; syncDirectory?: boolean } = {},
): Promise<void> {
  const target = join(dir, name);
  const temp = target + TEMP_SUFFIX;
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  const handle = await fileSystem.open(temp, "w");
  try {
    if (bytes.length > 0) await writeFully(handle, [bytes], 0, bytes.length);
    if (options.syncFile ?? true) await handle.datasync();
  } finally {
    await handle.close();
  }
  await fileSystem.rename(temp, target);
  if (options.syncDirectory ?? true) await fileSystem.syncDirectory(dir);
}

/** The file's content, or null when it does not exist. */
export async function readCheckpoint(
  fileSystem: FileSystem,
  dir: string,
  name: string,
): Promise<Buffer | null> {
  try {
    return await fileSystem.readFile(join(dir, name));
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
}

/** Removes the file if present; true when it was there. */
export async function removeCheckpoint(
  fileSystem: FileSystem,
  dir: string,
  name: string,
): Promise<boolean> {
  try {
    await fileSystem.unlink(join(dir, name));
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Parses Kafka's checkpoint text format: a version line, a count line, then one entry per line
 * of space-separated integers. Returns null when the text does not follow it (the caller then
 * treats the checkpoint as absent and logs why).
 */
export function parseCheckpointLines(
  text: string,
  version: number,
  fieldsPerLine: number,
): number[][] | null {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (lines.length < 2 || Number(lines[0]) !== version) return null;
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count < 0 || lines.length !== count + 2) return null;
  const entries: number[][] = [];
  for (let i = 2; i < lines.length; i++) {
    const fields = lines[i]!.split(" ").map(Number);
    if (fields.length !== fieldsPerLine || !fields.every(Number.isSafeInteger)) return null;
    entries.push(fields);
  }
  return entries;
}

export function formatCheckpointLines(version: number, entries: number[][]): string {
  return `${version}\n${entries.length}\n${entries.map((fields) => `${fields.join(" ")}\n`).join("")}`;
}
