/**
 * Idempotent-producer state for one partition (Kafka's ProducerStateManager, reduced to
 * what idempotence needs). For each producer id: its epoch and the last few batches it wrote
 * (first/last sequence and the offsets they got). A retried batch that matches one of them is a
 * duplicate: it is not appended again, and the retry gets the original offsets. A gap in the
 * sequence is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is INVALID_PRODUCER_EPOCH.
 *
 * Checks run synchronously before the append is queued, so batches of one producer are
 * checked in the order they are appended even while earlier ones still wait for fsync.
 */
import { WharfError } from "../../errors/index.ts";

/** Kafka keeps the metadata of the last 5 batches per producer (max.in.flight = 5). */
export const producerBatchesRemembered = 5;
const sequenceMax = 2147483647;

export interface AppendOffsets {
  baseOffset: number;
  lastOffset: number;
  logAppendTime: number;
}

interface BatchEntry {
  firstSequence: number;
  lastSequence: number;
  result: Promise<AppendOffsets>;
}

interface ProducerEntry {
  epoch: number;
  batches: BatchEntry[];
}

export type SequenceCheck =
  | { duplicate: false }
  | { duplicate: true; result: Promise<AppendOffsets> };

export function lastSequenceOf(firstSequence: number, recordCount: number): number {
  const last = firstSequence + recordCount - 1;
  return last > sequenceMax ? last - sequenceMax - 1 : last;
}

function nextSequence(sequence: number): number {
  return sequence === sequenceMax ? 0 : sequence + 1;
}

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  get size(): number {
    return this.producers.size;
  }

  /** Checks a batch of an idempotent producer (producerId >= 0, baseSequence >= 0). */
  check(
    producerId: number,
    epoch: number,
    firstSequence: number,
    recordCount: number,
  ): SequenceCheck {
    const entry = this.producers.get(producerId);
    if (!entry) {
      if (firstSequence !== 0) {
        throw new WharfError(
          "WHARF_OUT_OF_ORDER_SEQUENCE",
          `producer ${producerId} is unknown here and its first sequence is ${firstSequence}, expected 0`,
        );
      }
      return { duplicate: false };
    }
    if (epoch < entry.epoch) {
      throw new WharfError(
        "WHARF_INVALID_PRODUCER_EPOCH",
        `producer ${producerId}: epoch ${epoch}, current ${entry.epoch}`,
      );
    }
    if (epoch > entry.epoch) {
      if (firstSequence !== 0) {
        throw new WharfError(
          "WHARF_OUT_OF_ORDER_SEQUENCE",
          `producer ${producerId}: new epoch ${epoch} must start at sequence 0, got ${firstSequence}`,
        );
      }
      return { duplicate: false };
    }
    const lastSequence = lastSequenceOf(firstSequence, recordCount);
    for (const batch of entry.batches) {
      if (batch.firstSequence === firstSequence && batch.lastSequence === lastSequence) {
        return { duplicate: true, result: batch.result };
      }
    }
    const last = entry.batches[entry.batches.length - 1];
    const expected = last ? nextSequence(last.lastSequence) : 0;
    if (firstSequence !== expected) {
      throw new WharfError(
        "WHARF_OUT_OF_ORDER_SEQUENCE",
        `producer ${producerId} epoch ${epoch}: sequence ${firstSequence}, expected ${expected}`,
      );
    }
    return { duplicate: false };
  }

  /** Records an accepted batch (after `check` said it is not a duplicate). */
  record(
    producerId: number,
    epoch: number,
    firstSequence: number,
    recordCount: number,
    result: Promise<AppendOffsets>,
  ): void {
    let entry = this.producers.get(producerId);
    if (!entry || epoch > entry.epoch) {
      entry = { epoch, batches: [] };
      this.producers.set(producerId, entry);
    }
    entry.batches.push({
      firstSequence,
      lastSequence: lastSequenceOf(firstSequence, recordCount),
      result,
    });
    if (entry.batches.length > producerBatchesRemembered) entry.batches.shift();
  }

  /** Forgets everything (before a rebuild from the log after a failed append). */
  clear(): void {
    this.producers.clear();
  }

  /** Rebuild step: a batch found in the log at the given offsets. */
  replay(
    producerId: number,
    epoch: number,
    firstSequence: number,
    recordCount: number,
    offsets: AppendOffsets,
  ): void {
    const entry = this.producers.get(producerId);
    if (entry && epoch < entry.epoch) return;
    this.record(producerId, epoch, firstSequence, recordCount, Promise.resolve(offsets));
  }
}
