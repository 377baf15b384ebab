/**
 * Redis keys ↔ WharfMQ stream (Kafka topic) names.
 *
 * A key that is already a legal topic name (ASCII letters, digits, `.`, `_`, `-`; at most 249
 * characters; not `.` or `..`) names the topic of the same name: the Redis stream `orders` is
 * the Kafka topic `orders`. Every other key (`user:1:events`, binary keys) maps into the
 * reserved prefix `rk.`: legal bytes other than `_` are kept, every other byte becomes `_xx`
 * (two lowercase hex digits), so `user:1:events` is the topic `rk.user_3a1_3aevents`. Keys
 * that themselves start with `rk.` are escaped too, which keeps the mapping one-to-one. A key
 * whose escaped name would exceed the topic-name limit cannot be a stream.
 */
import { StreamCommandError } from "./stream-errors.ts";

const topicNameLengthMax = 249;
const legal = /^[a-zA-Z0-9._-]+$/;
export const escapedKeyPrefix = "rk.";

function isPlainByte(byte: number): boolean {
  return (
    (byte >= 0x30 && byte <= 0x39) ||
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) ||
    byte === 0x2e ||
    byte === 0x2d
  );
}

/** The topic name of a Redis key, or null when the key cannot name a topic. */
export function topicForKey(key: Buffer): string | null {
  const text = key.toString("latin1");
  if (
    text.length > 0 &&
    text.length <= topicNameLengthMax &&
    legal.test(text) &&
    text !== "." &&
    text !== ".." &&
    !text.startsWith(escapedKeyPrefix)
  ) {
    return text;
  }
  let name = escapedKeyPrefix;
  for (const byte of key) {
    name += isPlainByte(byte)
      ? String.fromCharCode(byte)
      : `_${byte.toString(16).padStart(2, "0")}`;
    if (name.length > topicNameLengthMax) return null;
  }
  return name;
}

/** The topic name of a key, or Redis-style error when the key cannot be a stream here. */
export function requireTopicForKey(key: Buffer): string {
  const topic = topicForKey(key);
  if (topic === null) {
    throw new StreamCommandError(
      `ERR key is too long to name a stream (the escaped name would exceed ${topicNameLengthMax} characters)`,
    );
  }
  return topic;
}

/** The Redis key of a topic name (inverse of `topicForKey`). */
export function keyForTopic(topic: string): Buffer {
  if (!topic.startsWith(escapedKeyPrefix)) return Buffer.from(topic, "latin1");
  const bytes: number[] = [];
  const body = topic.slice(escapedKeyPrefix.length);
  for (let i = 0; i < body.length; i++) {
    const char = body[i]!;
    if (char === "_" && i + 3 <= body.length && /^[0-9a-f]{2}$/.test(body.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(char.charCodeAt(0));
    }
  }
  return Buffer.from(bytes);
}
