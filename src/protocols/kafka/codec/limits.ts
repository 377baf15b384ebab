/**
 * Named limits of the Kafka wire codec. The lead will move these into `src/config/limits.ts`;
 * until then the Kafka connection layer imports them from here.
 */

const MiB = 1024 * 1024;

/**
 * Largest request frame (the 4-byte size prefix's value) a connection accepts: Kafka's
 * `socket.request.max.bytes` default. A frame is held in memory whole before it is decoded,
 * so this bounds the memory one connection can pin with a single request; Produce requests
 * carrying large batches are the reason it is this high.
 */
export const kafkaFrameBytesMax = 100 * MiB;

/**
 * Longest string, in UTF-8 bytes, any Kafka string field may hold. The classic encoding has an
 * int16 length, and Kafka applies the same bound to compact strings, so a longer declared
 * length is a malformed request rather than a big one.
 */
export const kafkaStringBytesMax = 0x7fff;
