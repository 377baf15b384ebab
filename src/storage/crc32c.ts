/**
 * CRC32C (Castagnoli), the checksum of Kafka RecordBatch v2. Computed by @node-rs/crc32,
 * a native SSE4.2/ARMv8 implementation: at several GB/s it is cheap enough to verify every
 * batch on append and on read.
 */
import { crc32c as nativeCrc32c } from "@node-rs/crc32";

export function crc32c(bytes: Buffer, start = 0, end = bytes.length): number {
  const view = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
  return nativeCrc32c(view) >>> 0;
}
