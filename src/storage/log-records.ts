/**
 * Reading a whole log back record by record, for state kept as a journal in a log (queue ack
 * journals, the Redis Streams state journal): from the log's start to its high watermark, in
 * reads of `chunkBytes`, whole uncompressed batches only (what journals write).
 */
import type { Log } from "./log.ts";
import {
  BATCH_LOG_OVERHEAD,
  type DecodedRecord,
  decodeRecords,
  readBatchHeader,
} from "./record-batch.ts";

/**
 * Calls `visit` for every record from the log's start offset on, in offset order. A read that
 * fails goes to `resumeAfterReadError` when given: the offset to go on from, or null to throw.
 */
export async function forEachRecord(
  log: Log,
  chunkBytes: number,
  visit: (record: DecodedRecord) => void,
  resumeAfterReadError?: (error: unknown, offset: number) => number | null,
): Promise<void> {
  const start = log.logStartOffset;
  let offset = start;
  while (offset < log.highWatermark) {
    let bytes: Buffer;
    try {
      ({ bytes } = await log.read(offset, chunkBytes));
    } catch (error) {
      const resume = resumeAfterReadError?.(error, offset) ?? null;
      if (resume === null) throw error;
      offset = resume;
      continue;
    }
    if (bytes.length === 0) break;
    let pos = 0;
    while (pos + BATCH_LOG_OVERHEAD <= bytes.length) {
      const header = readBatchHeader(bytes, pos);
      const size = header.batchLength + BATCH_LOG_OVERHEAD;
      if (pos + size > bytes.length) break;
      for (const record of decodeRecords(bytes, pos)) {
        if (record.offset >= start) visit(record);
      }
      offset = header.baseOffset + header.lastOffsetDelta + 1;
      pos += size;
    }
    if (pos === 0) break; // no whole batch: nothing more is readable
  }
}
