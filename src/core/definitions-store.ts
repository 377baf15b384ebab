/**
 * Durable metadata (topic definitions; later queues, exchanges, users): one JSON document per
 * kind, replaced atomically. An update writes `<file>.tmp`, fsyncs it, renames it over the
 * file and fsyncs the directory, so after a crash the file holds either the old or the new
 * document, never a mix. Updates are serialized; `update` resolves once the new document is
 * durable, and only then is the in-memory copy replaced.
 */
import { open, readFile, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { WharfError } from "../errors/index.ts";

export class DefinitionsStore<T> {
  private queue: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private document: T,
  ) {}

  /** Opens `path`, or starts from `initial` if it does not exist. */
  static async open<T>(
    path: string,
    initial: T,
    validate: (raw: unknown) => T,
  ): Promise<DefinitionsStore<T>> {
    await rm(`${path}.tmp`, { force: true });
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT")
        return new DefinitionsStore(path, initial);
      throw new WharfError("WHARF_STORAGE_IO", `reading ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new WharfError("WHARF_DATA_CORRUPT", `${path} is not valid JSON`, { cause: error });
    }
    return new DefinitionsStore(path, validate(raw));
  }

  get current(): T {
    return this.document;
  }

  /**
   * Applies `change` to a copy of the document and makes it durable. `change` may throw to
   * refuse the update (nothing is written). Resolves with what `change` returned.
   */
  update<R>(change: (draft: T) => R): Promise<R> {
    const run = async (): Promise<R> => {
      const draft = structuredClone(this.document);
      const result = change(draft);
      await writeAtomically(this.path, `${JSON.stringify(draft, null, 2)}\n`);
      this.document = draft;
      return result;
    };
    const next = this.queue.then(run, run);
    this.queue = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp`;
  const file = await open(temp, "w", 0o644);
  try {
    await file.writeFile(text, "utf8");
    await file.datasync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  const directory = await open(dirname(path), "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
