/**
 * The dispatch table: every API the Kafka listener serves, with the version range each handler
 * really implements. ApiVersions advertises exactly these ranges, and the session dispatches
 * exactly these, so a client never negotiates a version that is then refused.
 *
 * The consumer-group APIs come from `groups/` (`groupHandlers`) and are merged in; an API key
 * defined on both sides is a programmer error caught at startup.
 */
import assert from "node:assert/strict";
import { type ApiVersionsResponseApiVersion, kafkaApiCodec } from "../codec/generated/index.ts";
import type { KafkaRequestHeader } from "../codec/header.ts";
import { alterConfigsVersions, handleAlterConfigs } from "./alter-configs.ts";
import { apiVersionsVersions, createApiVersionsHandler } from "./api-versions.ts";
import { createPartitionsVersions, handleCreatePartitions } from "./create-partitions.ts";
import { createTopicsVersions, handleCreateTopics } from "./create-topics.ts";
import { deleteRecordsVersions, handleDeleteRecords } from "./delete-records.ts";
import { deleteTopicsVersions, handleDeleteTopics } from "./delete-topics.ts";
import { describeClusterVersions, handleDescribeCluster } from "./describe-cluster.ts";
import { describeConfigsVersions, handleDescribeConfigs } from "./describe-configs.ts";
import { fetchVersions, handleFetch } from "./fetch.ts";
import { groupHandlers } from "./groups/index.ts";
import type { KafkaHandlerContext, KafkaHandlerTable } from "./handler.ts";
import {
  handleIncrementalAlterConfigs,
  incrementalAlterConfigsVersions,
} from "./incremental-alter-configs.ts";
import { handleInitProducerId, initProducerIdVersions } from "./init-producer-id.ts";
import { handleListOffsets, listOffsetsVersions } from "./list-offsets.ts";
import { handleMetadata, metadataVersions } from "./metadata.ts";
import { handleProduce, produceVersions } from "./produce.ts";
import {
  handleSaslAuthenticate,
  handleSaslHandshake,
  saslAuthenticateVersions,
  saslHandshakeVersions,
} from "./sasl.ts";

/** One entry of the table, erased to what the session needs to dispatch any API key. */
export interface KafkaDispatchEntry {
  readonly minVersion: number;
  readonly maxVersion: number;
  /** The handler; `body` is the decoded body of the entry's api key. */
  readonly handle: (
    context: KafkaHandlerContext,
    request: { header: KafkaRequestHeader; version: number; body: unknown },
  ) => Promise<unknown> | unknown;
}

export const streamHandlers: KafkaHandlerTable = {
  0: { ...produceVersions, handle: handleProduce },
  1: { ...fetchVersions, handle: handleFetch },
  2: { ...listOffsetsVersions, handle: handleListOffsets },
  3: { ...metadataVersions, handle: handleMetadata },
  17: { ...saslHandshakeVersions, handle: handleSaslHandshake },
  19: { ...createTopicsVersions, handle: handleCreateTopics },
  20: { ...deleteTopicsVersions, handle: handleDeleteTopics },
  21: { ...deleteRecordsVersions, handle: handleDeleteRecords },
  22: { ...initProducerIdVersions, handle: handleInitProducerId },
  32: { ...describeConfigsVersions, handle: handleDescribeConfigs },
  33: { ...alterConfigsVersions, handle: handleAlterConfigs },
  36: { ...saslAuthenticateVersions, handle: handleSaslAuthenticate },
  37: { ...createPartitionsVersions, handle: handleCreatePartitions },
  44: { ...incrementalAlterConfigsVersions, handle: handleIncrementalAlterConfigs },
  60: { ...describeClusterVersions, handle: handleDescribeCluster },
};

/** The served table, by api key, for the session. Built once per listener. */
export function buildDispatchTable(
  extra: KafkaHandlerTable = groupHandlers,
): ReadonlyMap<number, KafkaDispatchEntry> {
  const table = new Map<number, KafkaDispatchEntry>();
  const add = (source: KafkaHandlerTable) => {
    for (const [key, entry] of Object.entries(source)) {
      if (!entry) continue;
      const apiKey = Number(key);
      assert.ok(!table.has(apiKey), `kafka api key ${apiKey} has two handlers`);
      const codec = kafkaApiCodec(apiKey);
      assert.ok(codec, `kafka api key ${apiKey} has a handler but no codec`);
      assert.ok(
        codec.minVersion <= entry.minVersion &&
          entry.minVersion <= entry.maxVersion &&
          entry.maxVersion <= codec.maxVersion,
        `kafka api key ${apiKey}: handler versions ${entry.minVersion}-${entry.maxVersion} exceed the codec's`,
      );
      table.set(apiKey, entry as unknown as KafkaDispatchEntry);
    }
  };
  add(streamHandlers);
  add(extra);
  const versions: ApiVersionsResponseApiVersion[] = [];
  add({ 18: { ...apiVersionsVersions, handle: createApiVersionsHandler(() => versions) } });
  for (const [apiKey, entry] of [...table].sort((a, b) => a[0] - b[0])) {
    versions.push({ apiKey, minVersion: entry.minVersion, maxVersion: entry.maxVersion });
  }
  return table;
}
