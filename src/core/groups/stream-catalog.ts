/** The stream registry seen by the group coordinator: partition counts and offsets for lag. */
import type { StreamRegistry } from "../streams/stream-registry.ts";
import type { PartitionCatalog } from "./group-coordinator.ts";

export function streamPartitionCatalog(streams: StreamRegistry): PartitionCatalog {
  return {
    partitionCount: (topic) => streams.get(topic)?.partitions.length,
    partitionOffsets: (topic, partition) => {
      const found = streams.get(topic)?.partitions[partition];
      if (!found) return undefined;
      return {
        logStartOffset: found.logStartOffset,
        highWatermark: found.highWatermark,
        logEndOffset: found.logEndOffset,
      };
    },
  };
}
