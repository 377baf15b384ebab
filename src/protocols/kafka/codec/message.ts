/**
 * Whole messages: size prefix + header + body. This is the surface the Kafka connection layer
 * uses: `decodeRequestFrame` on each frame the splitter returns, `encodeResponseFrame` for each
 * answer, and `encodeApiVersionsFallbackResponse` for an ApiVersions request of a version the
 * broker does not know.
 */

import {
  type ApiVersionsResponseApiVersion,
  apiVersionsMaxVersion,
  apiVersionsMinVersion,
  encodeApiVersionsResponse,
  KafkaApiKey,
  type KafkaRequestBodies,
  type KafkaResponseBodies,
  type KafkaSupportedApiKey,
  kafkaApiCodec,
  kafkaApis,
} from "./generated/index.ts";
import {
  decodeRequestHeader,
  encodeRequestHeader,
  encodeResponseHeader,
  type KafkaRequestHeader,
  responseHeaderVersion,
} from "./header.ts";
import { KafkaReader } from "./reader.ts";
import type { KafkaWriter } from "./writer.ts";

/** Kafka error code UNSUPPORTED_VERSION. */
export const unsupportedVersionErrorCode = 35;

export type KafkaRequestSupport = "supported" | "unknown-api" | "unsupported-version";

export interface KafkaDecodedRequest {
  readonly header: KafkaRequestHeader;
  /**
   * Whether the body was decoded. For "unknown-api" and "unsupported-version" the body is left
   * unread: its layout is unknown. The broker answers an ApiVersions request of an unknown
   * version with `encodeApiVersionsFallbackResponse`, and closes the connection otherwise.
   */
  readonly support: KafkaRequestSupport;
  /** The decoded body, typed by `header.apiKey` (see `KafkaRequestBodies`); else undefined. */
  readonly body: unknown;
  /** Bytes after the body. Kafka brokers ignore them; the caller may log them. */
  readonly trailingBytes: number;
}

/**
 * Decodes one request frame (without its size prefix). Throws `KafkaDecodeError`, and nothing
 * else, when the frame is malformed.
 */
export function decodeRequestFrame(frame: Buffer): KafkaDecodedRequest {
  const reader = new KafkaReader(frame);
  const header = decodeRequestHeader(reader);
  const codec = kafkaApiCodec(header.apiKey);
  if (codec === undefined) {
    return { header, support: "unknown-api", body: undefined, trailingBytes: reader.remaining };
  }
  const version = header.apiVersion;
  if (version < codec.minVersion || version > codec.maxVersion) {
    return {
      header,
      support: "unsupported-version",
      body: undefined,
      trailingBytes: reader.remaining,
    };
  }
  const body = codec.decodeRequest(reader, version);
  return { header, support: "supported", body, trailingBytes: reader.remaining };
}

/** Writes size prefix, response header and body; the writer's chunks are then ready to send. */
export function encodeResponseFrame<K extends KafkaSupportedApiKey>(
  writer: KafkaWriter,
  apiKey: K,
  apiVersion: number,
  correlationId: number,
  body: KafkaResponseBodies[K],
): void {
  const size = writer.reserveInt32();
  encodeResponseHeader(writer, responseHeaderVersion(apiKey, apiVersion), correlationId);
  kafkaApis[apiKey].encodeResponse(writer, apiVersion, body);
  writer.patchSize(size);
}

/** Writes size prefix, request header and body: what a client sends (tests, tools). */
export function encodeRequestFrame<K extends KafkaSupportedApiKey>(
  writer: KafkaWriter,
  header: KafkaRequestHeader & { readonly apiKey: K },
  body: KafkaRequestBodies[K],
): void {
  const size = writer.reserveInt32();
  encodeRequestHeader(writer, header);
  kafkaApis[header.apiKey].encodeRequest(writer, header.apiVersion, body);
  writer.patchSize(size);
}

/** The (apiKey, minVersion, maxVersion) list of every API this codec supports. */
export function supportedApiVersions(): ApiVersionsResponseApiVersion[] {
  return Object.values(kafkaApis).map((codec) => ({
    apiKey: codec.apiKey,
    minVersion: codec.minVersion,
    maxVersion: codec.maxVersion,
  }));
}

/**
 * The answer to an ApiVersions request whose version the broker does not support (KIP-511):
 * a v0 body, with response header v0, carrying UNSUPPORTED_VERSION and the broker's own
 * ApiVersions range, from which the client picks a version to retry with.
 */
export function encodeApiVersionsFallbackResponse(
  writer: KafkaWriter,
  correlationId: number,
  minVersion: number = apiVersionsMinVersion,
  maxVersion: number = apiVersionsMaxVersion,
): void {
  const size = writer.reserveInt32();
  encodeResponseHeader(writer, 0, correlationId);
  encodeApiVersionsResponse(writer, 0, {
    errorCode: unsupportedVersionErrorCode,
    apiKeys: [{ apiKey: KafkaApiKey.ApiVersions, minVersion, maxVersion }],
  });
  writer.patchSize(size);
}
