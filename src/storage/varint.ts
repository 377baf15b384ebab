/**
 * Zigzag variable-length integers as used inside Kafka records (protobuf encoding).
 * Decoding is cursor-based: `VarintCursor.pos` advances past what was read, so the hot loop
 * that walks records allocates nothing per field. Values are JS numbers: varlongs in records
 * are timestamp deltas and lengths, which fit in 2^53.
 */

export class VarintError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "VarintError";
  }
}

export class VarintCursor {
  constructor(
    public readonly buffer: Buffer,
    public pos: number,
    public readonly end: number = buffer.length,
  ) {}

  /** Reads an unsigned LEB128 value of at most `maxBytes` bytes (5 for int32, 10 for int64). */
  readUnsigned(maxBytes = 10): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < maxBytes; i++) {
      if (this.pos >= this.end) throw new VarintError("varint runs past the end of its buffer");
      const byte = this.buffer[this.pos++]!;
      result += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        if (result > Number.MAX_SAFE_INTEGER) throw new VarintError("varint exceeds 2^53");
        return result;
      }
      multiplier *= 128;
    }
    throw new VarintError(`varint longer than ${maxBytes} bytes`);
  }

  /** Zigzag-decoded signed varint (int32 range). */
  readVarint(): number {
    const raw = this.readUnsigned(5);
    if (raw > 0xffffffff) throw new VarintError("varint exceeds 32 bits");
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  /** Zigzag-decoded signed varlong (within ±2^52). */
  readVarlong(): number {
    const raw = this.readUnsigned(10);
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }

  /** A slice of `length` bytes (no copy); `-1` means null. */
  readBytes(length: number): Buffer | null {
    if (length === -1) return null;
    if (length < -1 || length > this.end - this.pos) {
      throw new VarintError(
        `length ${length} does not fit in the ${this.end - this.pos} bytes left`,
      );
    }
    const slice = this.buffer.subarray(this.pos, this.pos + length);
    this.pos += length;
    return slice;
  }
}

/** Bytes needed to encode `value` as a zigzag varint/varlong. */
export function sizeOfVarlong(value: number): number {
  let raw = value >= 0 ? value * 2 : -value * 2 - 1;
  let size = 1;
  while (raw >= 128) {
    raw = Math.floor(raw / 128);
    size++;
  }
  return size;
}

/** Writes `value` zigzag-encoded at `pos`; returns the position after it. */
export function writeVarlong(buffer: Buffer, pos: number, value: number): number {
  let raw = value >= 0 ? value * 2 : -value * 2 - 1;
  while (raw >= 128) {
    buffer[pos++] = (raw % 128) | 0x80;
    raw = Math.floor(raw / 128);
  }
  buffer[pos++] = raw;
  return pos;
}
