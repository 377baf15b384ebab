/**
 * The records of the committed-offsets log (`__consumer_offsets`): one record per committed
 * offset, keyed by (group, topic, partition), the latest record of a key winning. A record
 * with a null value is a tombstone (the offset was deleted).
 *
 *   key   = version:int16 (1) group:string topic:string partition:int32
 *   value = version:int16 (1) offset:int64 leaderEpoch:int32 metadata:string commitTimestamp:int64
 *   string = length:uint16 utf8 bytes
 *
 * Kafka's own `__consumer_offsets` uses a similar layout (key version 0/1 = offset commit);
 * ours is not byte-compatible with it and need not be: only this module reads the log.
 * Decoding never trusts the bytes: anything malformed throws `OffsetRecordError`.
 */

export const offsetKeyVersion = 1;
export const offsetValueVersion = 1;

/** A string field's length is a uint16: group ids (Kafka strings) and topic names fit. */
export const offsetRecordStringBytesMax = 0xffff;

export interface OffsetValue {
  /** The next offset the group will read (Kafka commits the position, not the last read). */
  offset: number;
  /** Leader epoch of the last record consumed, or -1. */
  leaderEpoch: number;
  /** Opaque client text stored with the offset ("" when none). */
  metadata: string;
  /** When the broker accepted the commit (ms since the epoch). */
  commitTimestamp: number;
}

export interface OffsetRecordKey {
  group: string;
  topic: string;
  partition: number;
}

export class OffsetRecordError extends Error {
  override readonly name = "OffsetRecordError";
}

function stringBytes(text: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > offsetRecordStringBytesMax) {
    throw new RangeError(`string of ${bytes.length} bytes does not fit an offset record`);
  }
  return bytes;
}

export function encodeOffsetKey(key: OffsetRecordKey): Buffer {
  const group = stringBytes(key.group);
  const topic = stringBytes(key.topic);
  const buffer = Buffer.allocUnsafe(2 + 2 + group.length + 2 + topic.length + 4);
  let pos = buffer.writeInt16BE(offsetKeyVersion, 0);
  pos = buffer.writeUInt16BE(group.length, pos);
  pos += group.copy(buffer, pos);
  pos = buffer.writeUInt16BE(topic.length, pos);
  pos += topic.copy(buffer, pos);
  buffer.writeInt32BE(key.partition, pos);
  return buffer;
}

export function encodeOffsetValue(value: OffsetValue): Buffer {
  const metadata = stringBytes(value.metadata);
  const buffer = Buffer.allocUnsafe(2 + 8 + 4 + 2 + metadata.length + 8);
  let pos = buffer.writeInt16BE(offsetValueVersion, 0);
  pos = buffer.writeBigInt64BE(BigInt(value.offset), pos);
  pos = buffer.writeInt32BE(value.leaderEpoch, pos);
  pos = buffer.writeUInt16BE(metadata.length, pos);
  pos += metadata.copy(buffer, pos);
  buffer.writeBigInt64BE(BigInt(value.commitTimestamp), pos);
  return buffer;
}

class FieldReader {
  pos = 0;
  constructor(private readonly buffer: Buffer) {}

  need(bytes: number): void {
    if (this.pos + bytes > this.buffer.length) {
      throw new OffsetRecordError(`record truncated at byte ${this.pos} (needs ${bytes} more)`);
    }
  }
  int16(): number {
    this.need(2);
    const value = this.buffer.readInt16BE(this.pos);
    this.pos += 2;
    return value;
  }
  int32(): number {
    this.need(4);
    const value = this.buffer.readInt32BE(this.pos);
    this.pos += 4;
    return value;
  }
  int64(): number {
    this.need(8);
    const value = Number(this.buffer.readBigInt64BE(this.pos));
    this.pos += 8;
    return value;
  }
  string(): string {
    this.need(2);
    const length = this.buffer.readUInt16BE(this.pos);
    this.pos += 2;
    this.need(length);
    const text = this.buffer.toString("utf8", this.pos, this.pos + length);
    this.pos += length;
    return text;
  }
  end(): void {
    if (this.pos !== this.buffer.length) {
      throw new OffsetRecordError(`${this.buffer.length - this.pos} trailing bytes`);
    }
  }
}

export function decodeOffsetKey(bytes: Buffer): OffsetRecordKey {
  const reader = new FieldReader(bytes);
  const version = reader.int16();
  if (version !== offsetKeyVersion) throw new OffsetRecordError(`unknown key version ${version}`);
  const key = { group: reader.string(), topic: reader.string(), partition: reader.int32() };
  reader.end();
  return key;
}

export function decodeOffsetValue(bytes: Buffer): OffsetValue {
  const reader = new FieldReader(bytes);
  const version = reader.int16();
  if (version !== offsetValueVersion) {
    throw new OffsetRecordError(`unknown value version ${version}`);
  }
  const value = {
    offset: reader.int64(),
    leaderEpoch: reader.int32(),
    metadata: reader.string(),
    commitTimestamp: reader.int64(),
  };
  reader.end();
  return value;
}
