/**
 * Publisher confirms of one channel (confirm.select): sequence numbers from 1, and the order
 * in which basic.ack / basic.nack go out.
 *
 * Ordering invariant: confirms are emitted in sequence order. A publish whose outcome is known
 * at once (unroutable, transient) is still confirmed only after every earlier publish was;
 * a run of consecutive settled publishes of the same kind is coalesced into one frame with
 * multiple=true (its last sequence number). A client therefore never sees seq N confirmed
 * while an earlier one is pending, and `multiple` never covers an unsettled publish.
 *
 * States live in a plain array indexed by (seq - base); settled heads are dropped as they are
 * emitted, and the array is compacted once its dead prefix is large.
 */

const pending = 0;
const acked = 1;
const nacked = 2;

export type ConfirmSink = (ack: boolean, sequence: number, multiple: boolean) => void;

export class ConfirmTracker {
  /** Sequence number of states[0]. */
  private base = 1;
  private head = 0;
  private readonly states: number[] = [];
  private nextSequence = 1;

  /** The number the next publish gets (basic.publish does not carry it: both sides count). */
  next(): number {
    this.states.push(pending);
    return this.nextSequence++;
  }

  /** Records a publish's outcome; one already settled keeps its first outcome. */
  settle(sequence: number, ack: boolean): void {
    const index = sequence - this.base;
    if (index < this.head || index >= this.states.length || this.states[index] !== pending) return;
    this.states[index] = ack ? acked : nacked;
  }

  /** Emits every settled publish at the head, in order, coalesced. Answers whether any went. */
  drain(sink: ConfirmSink): boolean {
    const states = this.states;
    let emitted = false;
    while (this.head < states.length && states[this.head] !== pending) {
      const kind = states[this.head];
      const first = this.head;
      while (this.head < states.length && states[this.head] === kind) this.head++;
      const last = this.head - 1;
      sink(kind === acked, this.base + last, last > first);
      emitted = true;
    }
    if (this.head > 1024 && this.head * 2 > states.length) {
      states.splice(0, this.head);
      this.base += this.head;
      this.head = 0;
    }
    return emitted;
  }

  /** Publishes not yet confirmed. */
  get unconfirmed(): number {
    return this.states.length - this.head;
  }
}
