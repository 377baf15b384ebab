/**
 * What the kill -9 test writes and checks: the log configuration shared by the appender child
 * and the checking parent, and self-checking record values.
 *
 * A record value is `<id>:<index>:<count>:<payload>:<crc>`: the id of the append that wrote it
 * (offset-independent, chosen before the append), the record's index in its batch and the
 * batch's record count, random payload, and the CRC32C (hex) of everything before it. So a
 * record read back proves by itself that it is intact and tells which acknowledgement it
 * belongs to.
 */
import { crc32c } from "../../src/storage/crc32c.ts";
import type { LogConfig } from "../../src/storage/log-config.ts";
import { defaultLogConfig } from "../../src/storage/log-config.ts";
import { encodeBatch } from "../../src/storage/record-batch.ts";

/** Small segments and index interval so that kills also land on rolls and index entries. */
export const crashLogConfig: LogConfig = defaultLogConfig({
  segmentBytes: 256 * 1024,
  indexIntervalBytes: 1024,
  retentionMs: -1,
  retentionBytes: -1,
  durability: { mode: "fsync" },
});

const PAYLOAD_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

function randomPayload(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++)
    out += PAYLOAD_ALPHABET[Math.floor(Math.random() * PAYLOAD_ALPHABET.length)];
  return out;
}

export function recordValue(
  id: string,
  index: number,
  count: number,
  payloadBytes: number,
): Buffer {
  const body = `${id}:${index}:${count}:${randomPayload(payloadBytes)}`;
  const crc = crc32c(Buffer.from(body)).toString(16).padStart(8, "0");
  return Buffer.from(`${body}:${crc}`);
}

/** A batch of `count` self-checking records for the append `id`. */
export function crashBatch(id: string, count: number, maxPayloadBytes: number): Buffer {
  const records = Array.from({ length: count }, (_, index) => ({
    value: recordValue(id, index, count, Math.floor(Math.random() * maxPayloadBytes)),
  }));
  return encodeBatch(records);
}

export interface CheckedRecord {
  id: string;
  index: number;
  count: number;
}

/** Parses and checks a record value; throws when it is damaged. */
export function checkRecordValue(value: Buffer | null): CheckedRecord {
  if (value === null) throw new Error("null record value");
  const text = value.toString("utf8");
  const cut = text.lastIndexOf(":");
  const body = text.slice(0, cut);
  const crc = crc32c(Buffer.from(body)).toString(16).padStart(8, "0");
  if (text.slice(cut + 1) !== crc)
    throw new Error(`record checksum mismatch: ${text.slice(0, 60)}`);
  const [id, index, count] = body.split(":");
  return { id: id!, index: Number(index), count: Number(count) };
}
