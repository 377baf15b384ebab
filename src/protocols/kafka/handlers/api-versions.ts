/**
 * ApiVersions (key 18), v0-4: the API keys and version ranges this broker serves. The list
 * comes from the dispatch table, so a handler's range is what is advertised; no API is
 * advertised that the session would not dispatch. Features (v3+) are empty: there is no
 * KRaft feature level to finalize on a WharfMQ node.
 *
 * An ApiVersions request of a version above 4 never reaches this handler: the session answers
 * it with the v0 fallback (KIP-511) so that the client retries with a version it shares.
 */
import type { ApiVersionsResponseApiVersion } from "../codec/generated/index.ts";
import { KafkaErrorCode } from "../errors.ts";
import type { KafkaHandler } from "./handler.ts";

export const apiVersionsVersions = { minVersion: 0, maxVersion: 4 } as const;

export function createApiVersionsHandler(
  list: () => ApiVersionsResponseApiVersion[],
): KafkaHandler<18> {
  return () => ({
    errorCode: KafkaErrorCode.NONE,
    apiKeys: list(),
    throttleTimeMs: 0,
    supportedFeatures: [],
    finalizedFeaturesEpoch: -1,
    finalizedFeatures: [],
    zkMigrationReady: false,
  });
}
