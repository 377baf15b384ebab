/**
 * Direct socket reads: received bytes go from libuv straight into a buffer the connection
 * owns, and to one callback, without Node's readable-stream machinery (no Buffer allocated
 * and shrunk per read, no push / emit / read-more tick). Measured on a 2-vCPU machine with
 * redis-benchmark's 50 unpipelined clients against a server answering every read: 17.1–17.4 µs
 * of server CPU per request through 'data' events, 12.8–14.2 µs with direct reads.
 *
 * Node has this as the `onread` option of `net.connect` and `new net.Socket`, but not for the
 * sockets a `net.Server` accepts. `readDirect` turns it on for such a socket the way Node's
 * own constructor does: it fills the socket's `kBuffer`, `kBufferGen` and `kBufferCb` slots
 * and has the handle read into the buffer (`useUserBuffer`); Node's `pause()` and `resume()`
 * honour those slots. These are Node internals, so each is checked first: when one is
 * missing `readDirect` returns false and changes nothing, and the caller reads through 'data'
 * events, slower and otherwise the same.
 *
 * Used by the RESP listener. The AMQP listener with it (regions up to 64 KiB) spent more
 * broker CPU per persistent confirmed message in an A/B of bench/amqp.ts workload (a) (11.5
 * and 11.9 µs against 10.3 and 10.4 µs), so AMQP and Kafka keep 'data' events for now.
 *
 * The socket must not be reading yet (accept it with `pauseOnConnect`); one that is reading is
 * left alone (false).
 *
 * Buffers. A connection reads into a region it owns; a read of n bytes fills the front of
 * what is left, and the next read goes into the rest while at least a quarter of the region
 * remains, else into a fresh region. A region starts at `directReadRegionInitialBytes` (an idle
 * connection holds little) and doubles, up to a maximum (`directReadRegionBytes` unless the
 * caller says otherwise), each time a read
 * fills all the room it had. Bytes once received are never written again, so the chunks
 * handed to `onChunk` may be kept (parsers keep views of them).
 */
import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { directReadRegionBytes, directReadRegionInitialBytes } from "../config/limits.ts";

interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
  reading: boolean;
}

interface DirectReadSlots {
  buffer: symbol;
  generator: symbol;
  callback: symbol;
}

let slots: DirectReadSlots | null | undefined;

/** The socket slots Node's `onread` option fills, found by name on an accepted socket. */
function findSlots(socket: Socket): DirectReadSlots | null {
  if (slots !== undefined) return slots;
  const symbols = Object.getOwnPropertySymbols(socket);
  const named = (name: string) => symbols.find((symbol) => symbol.description === name);
  const buffer = named("kBuffer");
  const generator = named("kBufferGen");
  const callback = named("kBufferCb");
  slots = buffer && generator && callback ? { buffer, generator, callback } : null;
  return slots;
}

/**
 * Starts delivering what `stream` receives to `onChunk` (which must not throw): directly for
 * a TCP socket accepted paused, through 'data' events for anything else (an in-memory duplex
 * in tests) or when this Node lacks the internals `readDirect` needs.
 */
export function startReading(
  stream: Duplex,
  onChunk: (chunk: Buffer) => void,
  regionBytesMax = directReadRegionBytes,
): void {
  if (stream instanceof Socket && readDirect(stream, onChunk, regionBytesMax)) return;
  stream.on("data", onChunk);
  stream.resume(); // a socket accepted paused, or a duplex not flowing yet
}

/**
 * Starts reading `socket` directly, every chunk to `onChunk` (which must not throw), in
 * regions of at most `regionBytesMax`; false, with nothing changed, when this Node lacks what
 * it needs or the socket is already reading.
 */
export function readDirect(
  socket: Socket,
  onChunk: (chunk: Buffer) => void,
  regionBytesMax = directReadRegionBytes,
): boolean {
  const handle = (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
  if (typeof handle?.useUserBuffer !== "function" || handle.reading !== false) return false;
  const found = findSlots(socket);
  if (found === null) return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  if (fields[found.buffer] !== null || fields[found.callback] !== null) return false;
  let size = directReadRegionInitialBytes;
  let region = Buffer.allocUnsafeSlow(size);
  let start = 0;
  let next = region;
  fields[found.buffer] = next;
  fields[found.generator] = (): Buffer => {
    if ((region.length - start) * 4 < size) {
      region = Buffer.allocUnsafeSlow(size);
      start = 0;
    }
    next = region.subarray(start);
    return next;
  };
  fields[found.callback] = (bytesRead: number, buffer: Buffer): void => {
    // `buffer` is `next`: the front of what is left of the region.
    start += bytesRead;
    if (bytesRead === buffer.length && size < regionBytesMax)
      size = Math.min(size * 2, regionBytesMax);
    onChunk(buffer.subarray(0, bytesRead));
  };
  (handle as UserBufferHandle).useUserBuffer(next);
  socket.resume(); // with the slots filled, Node's resume starts the handle reading
  return true;
}
