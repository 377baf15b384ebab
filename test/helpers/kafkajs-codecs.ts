/**
 * Compression codecs for kafkajs, which ships gzip only. Snappy uses the community package
 * kafkajs documents (`kafkajs-snappy`, pure JS); LZ4 and ZSTD are thin adapters over the
 * same well-kept native libraries the broker depends on (lz4-napi: LZ4 frame format, as Kafka
 * writes; @mongodb-js/zstd), called directly, not through the broker's wrapper, so a test
 * still checks our reading against bytes produced independently of it.
 */
import { createRequire } from "node:module";
import { compress as zstdCompress, decompress as zstdDecompress } from "@mongodb-js/zstd";
import { CompressionTypes } from "kafkajs";
import { compressFrame, decompressFrame } from "lz4-napi";

interface KafkajsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

const require = createRequire(import.meta.url);

const lz4Codec = (): KafkajsCodec => ({
  compress: async (encoder) => compressFrame(encoder.buffer),
  decompress: async (buffer) => decompressFrame(buffer),
});

const zstdCodec = (): KafkajsCodec => ({
  compress: async (encoder) => zstdCompress(encoder.buffer, 3),
  decompress: async (buffer) => zstdDecompress(buffer),
});

/** Registers snappy, lz4 and zstd with kafkajs (idempotent). */
export function registerKafkajsCodecs(): void {
  const { CompressionCodecs } = require("kafkajs") as {
    CompressionCodecs: Record<number, () => KafkajsCodec>;
  };
  CompressionCodecs[CompressionTypes.Snappy] = require("kafkajs-snappy") as () => KafkajsCodec;
  CompressionCodecs[CompressionTypes.LZ4] = lz4Codec;
  CompressionCodecs[CompressionTypes.ZSTD] = zstdCodec;
}
