/**
 * The contract between the Kafka session (connection) and the per-API handlers.
 * A handler turns one decoded request body into one response body; it never touches the
 * socket. The session decodes, dispatches by api key, encodes and writes responses in request
 * order, and owns back-pressure and error handling for malformed frames.
 */
import type { Broker } from "../../../core/broker.ts";
import type { Logger } from "../../../logging/logger.ts";
import type {
  KafkaRequestBodies,
  KafkaResponseBodies,
  KafkaSupportedApiKey,
} from "../codec/generated/index.ts";
import type { KafkaRequestHeader } from "../codec/header.ts";

/** What every handler may use: the core, the listener's identity, the session's state. */
export interface KafkaHandlerContext {
  readonly broker: Broker;
  /** This broker's node id (0 on a single node). */
  readonly nodeId: number;
  /** The address clients must use to reach this listener (bound address or --advertise). */
  readonly advertised: { host: string; port: number };
  readonly logger: Logger;
  readonly session: KafkaSessionInfo;
}

export interface KafkaSessionInfo {
  readonly id: number;
  readonly remoteAddress: string;
  readonly clientId: string | null;
  /** Set by SaslAuthenticate; null before authentication. */
  principal: string | null;
  /** The SASL mechanism chosen by SaslHandshake; null before (SaslAuthenticate needs it). */
  saslMechanism: string | null;
  /** Aborted when the connection closes: long polls (Fetch, JoinGroup) stop waiting. */
  readonly closed: AbortSignal;
}

export interface KafkaRequest<K extends KafkaSupportedApiKey> {
  readonly header: KafkaRequestHeader;
  readonly version: number;
  readonly body: KafkaRequestBodies[K];
}

/**
 * Returns the response body, or `null` when the protocol sends no response
 * (Produce with acks=0).
 */
export type KafkaHandler<K extends KafkaSupportedApiKey> = (
  context: KafkaHandlerContext,
  request: KafkaRequest<K>,
) => Promise<KafkaResponseBodies[K] | null> | KafkaResponseBodies[K] | null;

/** A set of handlers by api key, with the version range each one implements. */
export type KafkaHandlerTable = {
  [K in KafkaSupportedApiKey]?: { minVersion: number; maxVersion: number; handle: KafkaHandler<K> };
};
