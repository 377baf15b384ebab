/**
 * Hands out idempotent-producer ids (Kafka InitProducerId). Ids must never repeat, also
 * across crashes: a reused id would let a new producer's batches be taken for duplicates of an
 * old one's. Ids are handed out from blocks; the end of the current block is made durable
 * (meta/producer-ids.json) before any id of it is returned, and a restart continues at that
 * end, so an id is never handed out twice and at most one block is skipped per restart.
 */
import { join } from "node:path";
import { kafkaProducerIdBlockSize } from "../../config/limits.ts";
import { WharfError } from "../../errors/index.ts";
import { DefinitionsStore } from "../definitions-store.ts";

interface ProducerIdsDocument {
  version: 1;
  /** Every id below this may have been handed out. */
  blockEnd: number;
}

function validate(raw: unknown): ProducerIdsDocument {
  const document = raw as Partial<ProducerIdsDocument> | null;
  const end = document?.blockEnd;
  if (document?.version !== 1 || typeof end !== "number" || !Number.isSafeInteger(end) || end < 0) {
    throw new WharfError(
      "WHARF_DATA_CORRUPT",
      "meta/producer-ids.json does not hold a valid block end",
    );
  }
  return { version: 1, blockEnd: end };
}

export class ProducerIdAllocator {
  private next: number;
  private blockEnd: number;
  /** Serializes block reservations so concurrent callers never share an id. */
  private pending: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: DefinitionsStore<ProducerIdsDocument>,
    private readonly blockSize: number,
  ) {
    this.next = store.current.blockEnd;
    this.blockEnd = store.current.blockEnd;
  }

  static async open(
    metaDir: string,
    blockSize = kafkaProducerIdBlockSize,
  ): Promise<ProducerIdAllocator> {
    const store = await DefinitionsStore.open<ProducerIdsDocument>(
      join(metaDir, "producer-ids.json"),
      { version: 1, blockEnd: 0 },
      validate,
    );
    return new ProducerIdAllocator(store, blockSize);
  }

  /** A producer id no one has had before. */
  allocate(): Promise<number> {
    const run = async (): Promise<number> => {
      if (this.next >= this.blockEnd) {
        const end = this.next + this.blockSize;
        await this.store.update((draft) => {
          draft.blockEnd = end;
        });
        this.blockEnd = end;
      }
      return this.next++;
    };
    const result = this.pending.then(run, run);
    this.pending = result.catch(() => undefined);
    return result;
  }
}
