/**
 * Named limits of the AMQP 0-9-1 wire codec, each with its reason. They are meant to move to
 * `src/config/limits.ts` with the other protocols' limits; until then the codec imports them
 * from here. All are enforced while parsing.
 */

/**
 * The smallest frame_max a peer may negotiate and the largest frame accepted before
 * connection.tune-ok (spec constant FRAME-MIN-SIZE, 4.2.1). Counts the whole frame: 7 header
 * bytes, payload and the frame-end octet.
 */
export const amqpFrameMinBytes = 4096;

/**
 * The frame_max the server offers in connection.tune: RabbitMQ's default (131072), which
 * clients (amqplib, pika) accept as is. Bigger frames buy little throughput and raise the
 * memory one connection can pin while a frame is incomplete.
 */
export const amqpFrameBytesMax = 131072;

/**
 * Nesting depth of field tables and arrays inside one value. The decoder recurses per level,
 * so this bounds its stack. Real data is shallow: `x-death` is a table holding an array of
 * tables (depth 3); 16 leaves room for application headers.
 */
export const amqpFieldTableDepthMax = 16;

/**
 * Entries in one field table or field array. A frame's size already bounds the bytes, but a
 * 128 KiB frame of `V` values would expand to ~40k JS objects; no broker argument or header
 * set legitimately comes near this.
 */
export const amqpFieldTableEntriesMax = 4096;
