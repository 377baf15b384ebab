/**
 * The cluster id: a random 16-byte id, base64url-encoded as Kafka formats its own (22
 * characters), created on the first start and kept in `meta/cluster.json`. Clients compare it
 * across connections (Kafka Metadata, DescribeCluster) to notice that a host name now points at
 * a different cluster, so it must not change across restarts.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { WharfError } from "../errors/index.ts";
import { DefinitionsStore } from "./definitions-store.ts";

interface ClusterDocument {
  version: 1;
  clusterId: string | null;
}

const clusterIdPattern = /^[A-Za-z0-9_-]{22}$/;

function validate(raw: unknown): ClusterDocument {
  const document = raw as Partial<ClusterDocument> | null;
  const id = document?.clusterId;
  if (
    document?.version !== 1 ||
    (id !== null && (typeof id !== "string" || !clusterIdPattern.test(id)))
  ) {
    throw new WharfError(
      "WHARF_DATA_CORRUPT",
      "meta/cluster.json does not hold a valid cluster id",
    );
  }
  return { version: 1, clusterId: id };
}

/** Reads the cluster id from `metaDir`, creating and persisting one on first use. */
export async function loadClusterId(metaDir: string): Promise<string> {
  const store = await DefinitionsStore.open<ClusterDocument>(
    join(metaDir, "cluster.json"),
    { version: 1, clusterId: null },
    validate,
  );
  const existing = store.current.clusterId;
  if (existing !== null) return existing;
  const fresh = randomBytes(16).toString("base64url");
  await store.update((draft) => {
    draft.clusterId = fresh;
  });
  return fresh;
}
