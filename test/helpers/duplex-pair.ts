/**
 * Two connected in-memory duplex streams (node 20 has no `stream.duplexPair`): what one side
 * writes, the other reads. Used to drive a protocol session without a socket. `onWrite`, when
 * given, sees every chunk as it is written, with the side (0: the first stream, 1: the
 * second) that wrote it, in the order of the writes across both sides.
 */
import { Duplex } from "node:stream";

export function duplexPair(onWrite?: (side: 0 | 1, chunk: Buffer) => void): [Duplex, Duplex] {
  let left: Duplex;
  let right: Duplex;
  const make = (peer: () => Duplex, side: 0 | 1) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        onWrite?.(side, chunk);
        peer().push(chunk);
        callback();
      },
      final(callback) {
        peer().push(null);
        callback();
      },
      destroy(error, callback) {
        const other = peer();
        if (!other.destroyed) other.destroy();
        callback(error);
      },
    });
  left = make(() => right, 0);
  right = make(() => left, 1);
  return [left, right];
}
