/**
 * Named limits of the Kafka wire codec. They live with every other limit in
 * `src/config/limits.ts`; this module re-exports them for the codec's own imports.
 */
export { kafkaFrameBytesMax, kafkaStringBytesMax } from "../../../config/limits.ts";
