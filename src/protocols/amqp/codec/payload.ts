/**
 * Frame payloads: method frames (class id, method id, arguments; spec 4.2.4) and content
 * header frames (class id, weight, body size, property flags and properties; spec 4.2.6.1).
 * Decoders take the payload view the frame splitter returned and throw only
 * `AmqpDecodeError`; every byte must be consumed, so trailing bytes are a 502.
 */

import assert from "node:assert/strict";
import {
  type AmqpMethod,
  type AmqpMethodInfo,
  amqpClassId,
  amqpMethodKey,
  amqpMethodsByKey,
  amqpMethodsByName,
  amqpPropertiesByClassId,
  type BasicProperties,
} from "./generated/methods.ts";
import { AmqpReader } from "./reader.ts";
import type { AmqpWriter } from "./writer.ts";

const knownClassIds = new Set<number>(Object.values(amqpClassId));

/** The method info for a class/method pair, or an `AmqpDecodeError` (540 or 503) thrown. */
function lookupMethod(reader: AmqpReader, classId: number, methodId: number): AmqpMethodInfo {
  const info = amqpMethodsByKey.get(amqpMethodKey(classId, methodId));
  if (info !== undefined) return info;
  reader.offset = 0;
  if (!knownClassIds.has(classId)) return reader.fail("class-unknown", `class id ${classId}`);
  return reader.fail("method-unknown", `method id ${methodId} of class ${classId}`);
}

export interface AmqpDecodedMethod {
  readonly classId: number;
  readonly methodId: number;
  readonly method: AmqpMethod;
  readonly info: AmqpMethodInfo;
}

/** Decodes a method frame's payload. */
export function decodeMethodPayload(payload: Buffer): AmqpDecodedMethod {
  const reader = new AmqpReader(payload);
  const classId = reader.short();
  const methodId = reader.short();
  const info = lookupMethod(reader, classId, methodId);
  const args = info.decode(reader);
  reader.expectEnd();
  return { classId, methodId, method: { name: info.name, args } as AmqpMethod, info };
}

/** Writes class id, method id and arguments: a method frame's payload. */
export function encodeMethodPayload(writer: AmqpWriter, method: AmqpMethod): void {
  const info = amqpMethodsByName[method.name];
  writer.short(info.classId);
  writer.short(info.methodId);
  info.encode(writer, method.args);
}

export interface AmqpContentHeader {
  readonly classId: number;
  /** Total bytes of the body frames that follow. */
  readonly bodySize: number;
  readonly properties: BasicProperties;
}

/**
 * Decodes a content header frame's payload. A class that carries no content is 505
 * UNEXPECTED_FRAME; a non-zero weight (spec: "must be zero") is 502.
 */
export function decodeContentHeaderPayload(payload: Buffer): AmqpContentHeader {
  const reader = new AmqpReader(payload);
  const classId = reader.short();
  const codec = amqpPropertiesByClassId.get(classId);
  if (codec === undefined) {
    reader.offset = 0;
    return reader.fail("content-header-unexpected", `class ${classId} carries no content`);
  }
  const weight = reader.short();
  if (weight !== 0) {
    reader.offset -= 2;
    reader.fail("content-header-invalid", `weight ${weight}, must be 0`);
  }
  const bodySize = reader.longlong();
  const properties = codec.decode(reader);
  reader.expectEnd();
  return { classId, bodySize, properties };
}

export function encodeContentHeaderPayload(writer: AmqpWriter, header: AmqpContentHeader): void {
  const codec = amqpPropertiesByClassId.get(header.classId);
  assert.ok(codec !== undefined, `class ${header.classId} carries no content`);
  writer.short(header.classId);
  writer.short(0);
  writer.longlong(header.bodySize);
  codec.encode(writer, header.properties);
}
