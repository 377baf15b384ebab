/**
 * Request and response headers, and which header version goes with which API version.
 *
 * Request header v0: api_key int16, api_version int16, correlation_id int32.
 * v1 adds client_id (nullable string). v2, used by flexible API versions, adds a tagged-field
 * section; client_id stays a classic (int16-length) nullable string even there, so that a
 * broker can read it before it knows anything about the API.
 * Response header v0: correlation_id int32. v1, for flexible versions, adds tagged fields.
 */

import { kafkaApiCodec } from "./generated/index.ts";
import type { KafkaReader } from "./reader.ts";
import type { KafkaWriter } from "./writer.ts";

export interface KafkaRequestHeader {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
}

const apiVersionsKey = 18;
const controlledShutdownKey = 7;

/**
 * Whether (apiKey, apiVersion) uses compact encodings and tagged fields. Flexible ranges are
 * open-ended, so a version above the supported maximum counts as flexible when the API has a
 * flexible range: that is how a newer client frames it. Unknown API keys count as not flexible.
 */
export function isFlexibleVersion(apiKey: number, apiVersion: number): boolean {
  const flexibleMin = kafkaApiCodec(apiKey)?.flexibleMin;
  return flexibleMin !== undefined && flexibleMin !== null && apiVersion >= flexibleMin;
}

export function requestHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 | 2 {
  // ControlledShutdown v0 predates client_id; no other request uses header v0.
  if (apiKey === controlledShutdownKey && apiVersion === 0) return 0;
  return isFlexibleVersion(apiKey, apiVersion) ? 2 : 1;
}

export function responseHeaderVersion(apiKey: number, apiVersion: number): 0 | 1 {
  // KIP-511: an ApiVersions response always has header v0, so a client can read it (and the
  // error in it) before it knows which versions the broker speaks.
  if (apiKey === apiVersionsKey) return 0;
  return isFlexibleVersion(apiKey, apiVersion) ? 1 : 0;
}

/** Reads a request header; its version follows from the api key and version it starts with. */
export function decodeRequestHeader(reader: KafkaReader): KafkaRequestHeader {
  const apiKey = reader.readInt16();
  const apiVersion = reader.readInt16();
  const correlationId = reader.readInt32();
  const headerVersion = requestHeaderVersion(apiKey, apiVersion);
  const clientId = headerVersion >= 1 ? reader.readNullableString() : null;
  if (headerVersion >= 2) reader.skipTaggedFields();
  return { apiKey, apiVersion, correlationId, clientId };
}

export function encodeRequestHeader(writer: KafkaWriter, header: KafkaRequestHeader): void {
  const headerVersion = requestHeaderVersion(header.apiKey, header.apiVersion);
  writer.writeInt16(header.apiKey);
  writer.writeInt16(header.apiVersion);
  writer.writeInt32(header.correlationId);
  if (headerVersion >= 1) writer.writeNullableString(header.clientId);
  if (headerVersion >= 2) writer.writeEmptyTaggedFields();
}

/** Reads a response header and returns its correlation id. */
export function decodeResponseHeader(reader: KafkaReader, headerVersion: 0 | 1): number {
  const correlationId = reader.readInt32();
  if (headerVersion >= 1) reader.skipTaggedFields();
  return correlationId;
}

export function encodeResponseHeader(
  writer: KafkaWriter,
  headerVersion: 0 | 1,
  correlationId: number,
): void {
  writer.writeInt32(correlationId);
  if (headerVersion >= 1) writer.writeEmptyTaggedFields();
}
