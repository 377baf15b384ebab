/**
 * The AMQP 0-9-1 property list (spec 4.2.6.1: property flags, then each present property) as
 * the core's `PropertiesCodec`. The composition root hands it to `Broker.open`, so messages
 * are stored with the bytes an AMQP publisher sent and delivered without re-encoding; the
 * core decodes only on rare paths (dead-lettering, headers exchanges of other protocols).
 *
 * `decode` accepts exactly one property list and nothing after it; malformed bytes throw
 * `AmqpDecodeError` (502), which the core treats as a corrupt message.
 */
import type { MessageProperties, PropertiesCodec } from "../../core/queues/queue-types.ts";
import {
  type BasicProperties,
  decodeBasicProperties,
  encodeBasicProperties,
} from "./codec/generated/methods.ts";
import { AmqpReader } from "./codec/reader.ts";
import { AmqpWriter } from "./codec/writer.ts";
import { truncateShortstr } from "./errors.ts";
import { fromCoreTable, toCoreTable } from "./field-table.ts";

/** Codec properties (headers as a tagged table) → core properties (plain headers). */
export function toMessageProperties(properties: BasicProperties): MessageProperties {
  if (properties.headers === undefined) return properties as MessageProperties;
  return { ...properties, headers: toCoreTable(properties.headers) };
}

/**
 * Core properties → codec properties. Properties may come from other protocols (a STOMP
 * header, an MQTT property) and need not fit AMQP's types: the codec's encoder asserts on a
 * shortstr over 255 bytes or an octet out of range, which would take the process down. So
 * values are made to fit: strings cut at 255 bytes, octets and the timestamp clamped.
 */
export function toBasicProperties(properties: MessageProperties): BasicProperties {
  const out: BasicProperties = {};
  for (const key of shortstrProperties) {
    const value = properties[key];
    if (value !== undefined) out[key] = truncateShortstr(String(value));
  }
  if (properties.deliveryMode !== undefined) out.deliveryMode = octet(properties.deliveryMode);
  if (properties.priority !== undefined) out.priority = octet(properties.priority);
  if (properties.timestamp !== undefined) {
    const seconds = Math.trunc(Number(properties.timestamp));
    out.timestamp = Number.isSafeInteger(seconds) && seconds >= 0 ? seconds : 0;
  }
  if (properties.headers !== undefined) out.headers = fromCoreTable(properties.headers);
  return out;
}

const shortstrProperties = [
  "contentType",
  "contentEncoding",
  "correlationId",
  "replyTo",
  "expiration",
  "messageId",
  "type",
  "userId",
  "appId",
  "clusterId",
] as const;

function octet(value: number): number {
  const integer = Math.trunc(Number(value));
  return Number.isFinite(integer) ? Math.min(255, Math.max(0, integer)) : 0;
}

/** Encodes codec-shaped properties (keeps header tags exactly). */
export function encodeBasicPropertyList(properties: BasicProperties): Buffer {
  const writer = new AmqpWriter(64);
  encodeBasicProperties(writer, properties);
  return writer.finish();
}

export function decodeBasicPropertyList(bytes: Buffer): BasicProperties {
  const reader = new AmqpReader(bytes);
  const properties = decodeBasicProperties(reader);
  reader.expectEnd();
  return properties;
}

export const amqpPropertiesCodec: PropertiesCodec = {
  encode(properties: MessageProperties): Buffer {
    return encodeBasicPropertyList(toBasicProperties(properties));
  },
  decode(bytes: Buffer): MessageProperties {
    return toMessageProperties(decodeBasicPropertyList(bytes));
  },
};
