/**
 * The durable definitions of one virtual host: its durable exchanges, durable queues and the
 * bindings between durable things, as one JSON document (`meta/vhost-<id>.json`, written by
 * DefinitionsStore: atomic replace, fsync'd). Predeclared exchanges (`""`, `amq.*`) are not
 * stored: every vhost has them. Queue ids name a durable queue's logs
 * (`__wharf_q.<vhost id>.<queue id>-…`) and are never reused, so that a queue deleted and
 * declared again under the same name never meets the old one's logs.
 */
import { WharfError } from "../../errors/index.ts";
import type { DestinationKind } from "../routing/types.ts";
import type { JsonValue } from "./field-json.ts";

export type JsonTable = { [key: string]: JsonValue };

export interface ExchangeDefinition {
  name: string;
  type: string;
  autoDelete: boolean;
  internal: boolean;
  arguments: JsonTable;
}

export interface QueueDefinition {
  name: string;
  id: number;
  type: "classic" | "stream";
  autoDelete: boolean;
  arguments: JsonTable;
  /** Stream queues: the topic holding the stream. */
  topic?: string;
}

export interface BindingDefinition {
  source: string;
  kind: DestinationKind;
  destination: string;
  routingKey: string;
  arguments: JsonTable;
}

export interface VhostDocument {
  version: 1;
  nextQueueId: number;
  exchanges: ExchangeDefinition[];
  queues: QueueDefinition[];
  bindings: BindingDefinition[];
}

export function emptyVhostDocument(): VhostDocument {
  return { version: 1, nextQueueId: 1, exchanges: [], queues: [], bindings: [] };
}

export function validateVhostDocument(path: string) {
  return (raw: unknown): VhostDocument => {
    const document = raw as VhostDocument;
    if (
      typeof document !== "object" ||
      document === null ||
      document.version !== 1 ||
      !Number.isSafeInteger(document.nextQueueId) ||
      !Array.isArray(document.exchanges) ||
      !Array.isArray(document.queues) ||
      !Array.isArray(document.bindings)
    ) {
      throw new WharfError("WHARF_DATA_CORRUPT", `${path}: not a version 1 vhost document`);
    }
    for (const queue of document.queues) {
      if (typeof queue.name !== "string" || !Number.isSafeInteger(queue.id))
        throw new WharfError("WHARF_DATA_CORRUPT", `${path}: bad queue entry`);
    }
    return document;
  };
}

/** The log-name prefix of a durable queue's logs. */
export function durableQueueLogPrefix(vhostId: number, queueId: number): string {
  return `__wharf_q.${vhostId}.${queueId}`;
}

/** The prefix under which every durable queue log of a vhost lives. */
export function durableQueueLogNamespace(vhostId: number): string {
  return `__wharf_q.${vhostId}.`;
}

/**
 * Transient (non-durable or exclusive) queues' logs: never persisted as definitions, so all
 * of them are deleted when the broker starts.
 */
export function transientQueueLogPrefix(vhostId: number, counter: number): string {
  return `__wharf_tq.${vhostId}.${counter}`;
}

export const TRANSIENT_QUEUE_LOG_NAMESPACE = "__wharf_tq.";

/** The queue id in a durable queue log name of this vhost, or null. */
export function queueIdOfLog(vhostId: number, logName: string): number | null {
  const namespace = durableQueueLogNamespace(vhostId);
  if (!logName.startsWith(namespace)) return null;
  const match = /^(\d+)(?:[-.].*)?$/.exec(logName.slice(namespace.length));
  return match ? Number(match[1]) : null;
}
