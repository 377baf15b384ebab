/**
 * Reading the "consumer" embedded protocol (Kafka's ConsumerProtocolSubscription and
 * ConsumerProtocolAssignment, classic int16/int32-length encoding in every version). The
 * coordinator passes member metadata and assignments through opaquely; it reads them only to
 * answer OffsetDelete (GROUP_SUBSCRIBED_TO_TOPIC) and to describe a group's assignment and lag.
 * Input is client bytes: every reader returns null on anything malformed, never throws.
 *
 *   Subscription = version:int16 topics:[string] userData:bytes (v1+: owned partitions ...)
 *   Assignment   = version:int16 partitions:[topic:string partitions:[int32]] userData:bytes
 */

export const consumerProtocolType = "consumer";

class Cursor {
  pos = 0;
  constructor(private readonly bytes: Buffer) {}

  fits(count: number): boolean {
    return count >= 0 && this.pos + count <= this.bytes.length;
  }
  int16(): number | null {
    if (!this.fits(2)) return null;
    const value = this.bytes.readInt16BE(this.pos);
    this.pos += 2;
    return value;
  }
  int32(): number | null {
    if (!this.fits(4)) return null;
    const value = this.bytes.readInt32BE(this.pos);
    this.pos += 4;
    return value;
  }
  string(): string | null {
    const length = this.int16();
    if (length === null || !this.fits(length)) return null;
    const text = this.bytes.toString("utf8", this.pos, this.pos + length);
    this.pos += length;
    return text;
  }
  /** An array count, bounded by the bytes left (each element takes at least `minBytes`). */
  count(minBytes: number): number | null {
    const count = this.int32();
    if (count === null || count < 0 || count * minBytes > this.bytes.length - this.pos) return null;
    return count;
  }
}

/** The topics a member subscribes to, or null when the metadata is not readable. */
export function subscribedTopics(metadata: Buffer): string[] | null {
  const cursor = new Cursor(metadata);
  const version = cursor.int16();
  if (version === null || version < 0) return null;
  const count = cursor.count(2);
  if (count === null) return null;
  const topics: string[] = [];
  for (let i = 0; i < count; i++) {
    const topic = cursor.string();
    if (topic === null) return null;
    topics.push(topic);
  }
  return topics;
}

export interface AssignedPartitions {
  topic: string;
  partitions: number[];
}

/** The partitions assigned to a member, or null when the assignment is not readable. */
export function assignedPartitions(assignment: Buffer): AssignedPartitions[] | null {
  if (assignment.length === 0) return [];
  const cursor = new Cursor(assignment);
  const version = cursor.int16();
  if (version === null || version < 0) return null;
  const count = cursor.count(6);
  if (count === null) return null;
  const result: AssignedPartitions[] = [];
  for (let i = 0; i < count; i++) {
    const topic = cursor.string();
    const partitionCount = cursor.count(4);
    if (topic === null || partitionCount === null) return null;
    const partitions: number[] = [];
    for (let j = 0; j < partitionCount; j++) partitions.push(cursor.int32()!);
    result.push({ topic, partitions });
  }
  return result;
}
