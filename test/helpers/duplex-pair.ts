/**
 * Two connected in-memory duplex streams (node 20 has no `stream.duplexPair`): what one side
 * writes, the other reads. Used to drive a protocol session without a socket.
 */
import { Duplex } from "node:stream";

export function duplexPair(): [Duplex, Duplex] {
  let left: Duplex;
  let right: Duplex;
  const make = (peer: () => Duplex) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
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
  left = make(() => right);
  right = make(() => left);
  return [left, right];
}
