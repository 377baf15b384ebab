/**
 * Which segments retention deletes: a pure decision over the segment list, applied by the log
 * on its writer loop.
 *
 * Only a prefix of the log is ever deleted (the log start offset moves forward; there are no
 * holes), and never the active segment. A sealed segment at the head is deleted when:
 * - all its offsets are below the log start offset (DeleteRecords moved past it);
 * - by age: its largest timestamp is older than `retentionMs` (Kafka's retention.ms; a
 *   segment without timestamps uses the file's modification time);
 * - by size: the log would still hold at least `retentionBytes` without it (Kafka's
 *   retention.bytes rule, so the log never shrinks below the limit by a whole segment).
 */

export interface RetentionSegment {
  readonly baseOffset: number;
  readonly endOffset: number;
  readonly size: number;
  readonly maxTimestamp: number;
  readonly lastModifiedMs: number;
}

export type RetentionReason = "log-start-offset" | "age" | "size";

export interface RetentionPolicy {
  retentionMs: number;
  retentionBytes: number;
}

/** The reason each of the leading segments is deleted, in order; empty when none is. */
export function planRetention(
  segments: readonly RetentionSegment[],
  policy: RetentionPolicy,
  logStartOffset: number,
  nowMs: number,
): RetentionReason[] {
  let totalBytes = 0;
  for (const segment of segments) totalBytes += segment.size;
  const reasons: RetentionReason[] = [];
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i]!;
    const largestTimestamp =
      segment.maxTimestamp >= 0 ? segment.maxTimestamp : segment.lastModifiedMs;
    let reason: RetentionReason | null = null;
    if (segment.endOffset <= logStartOffset) reason = "log-start-offset";
    else if (policy.retentionMs >= 0 && nowMs - largestTimestamp > policy.retentionMs)
      reason = "age";
    else if (policy.retentionBytes >= 0 && totalBytes - segment.size >= policy.retentionBytes) {
      reason = "size";
    }
    if (reason === null) break;
    reasons.push(reason);
    totalBytes -= segment.size;
  }
  return reasons;
}
