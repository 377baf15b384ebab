/**
 * Reads records with kafkajs without a consumer group. kafkajs has no group-less consumer, so
 * this drives the same internals its consumer uses: the cluster (metadata, connections) and
 * `Broker.fetch`, whose response decoder parses record batches, decompresses them and decodes
 * keys, values and headers. It is kafkajs's real fetch path, only without the group protocol.
 * (Private API: a kafkajs upgrade may move it, and this fails loudly.)
 */
import type { Kafka } from "kafkajs";

export interface FetchedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[] | undefined>;
}

interface KafkajsPartitionData {
  partition: number;
  errorCode: number;
  highWatermark: string;
  messages: Array<{
    offset: string;
    timestamp: string;
    key: Buffer | null;
    value: Buffer | null;
    headers: FetchedRecord["headers"];
  }>;
}

interface KafkajsBroker {
  fetch(
    request: unknown,
  ): Promise<{ responses: Array<{ topicName: string; partitions: KafkajsPartitionData[] }> }>;
}

interface KafkajsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findBroker(query: { nodeId: string }): Promise<KafkajsBroker>;
}

export class KafkajsReader {
  private constructor(private readonly cluster: KafkajsCluster) {}

  static async connect(kafka: Kafka, isolationLevel = 0): Promise<KafkajsReader> {
    const symbol = Object.getOwnPropertySymbols(kafka).find(
      (s) => s.description === "private:Kafka:createCluster",
    );
    if (!symbol) throw new Error("kafkajs internals moved: no createCluster symbol");
    const create = (kafka as unknown as Record<symbol, (options: object) => KafkajsCluster>)[
      symbol
    ]!;
    const cluster = create({ allowAutoTopicCreation: false, isolationLevel });
    await cluster.connect();
    return new KafkajsReader(cluster);
  }

  async disconnect(): Promise<void> {
    await this.cluster.disconnect();
  }

  /** One Fetch of a partition from `offset`; returns the records and the high watermark. */
  async fetchOnce(
    topic: string,
    partition: number,
    offset: number,
    options: { maxWaitTime?: number; maxBytes?: number; minBytes?: number } = {},
  ): Promise<{ records: FetchedRecord[]; highWatermark: number; errorCode: number }> {
    await this.cluster.addTargetTopic(topic);
    const broker = await this.cluster.findBroker({ nodeId: "0" });
    const response = await broker.fetch({
      maxWaitTime: options.maxWaitTime ?? 100,
      minBytes: options.minBytes ?? 1,
      maxBytes: options.maxBytes ?? 10 * 1024 * 1024,
      topics: [
        {
          topic,
          partitions: [
            {
              partition,
              fetchOffset: String(offset),
              maxBytes: options.maxBytes ?? 4 * 1024 * 1024,
            },
          ],
        },
      ],
    });
    const data = response.responses[0]!.partitions[0]!;
    return {
      errorCode: data.errorCode,
      highWatermark: Number(data.highWatermark),
      records: data.messages
        .map((message) => ({
          offset: Number(message.offset),
          timestamp: Number(message.timestamp),
          key: message.key,
          value: message.value,
          headers: message.headers,
        }))
        // A fetch returns whole batches: drop records before the offset asked for.
        .filter((record) => record.offset >= offset),
    };
  }

  /** Every record of a partition in [from, until), fetched as a consumer would. */
  async readRange(
    topic: string,
    partition: number,
    from: number,
    until: number,
    deadlineMs = 60_000,
  ): Promise<FetchedRecord[]> {
    const records: FetchedRecord[] = [];
    const deadline = Date.now() + deadlineMs;
    let offset = from;
    while (offset < until) {
      if (Date.now() > deadline)
        throw new Error(`reading ${topic}-${partition}: stuck at offset ${offset} of ${until}`);
      const fetched = await this.fetchOnce(topic, partition, offset);
      if (fetched.errorCode !== 0)
        throw new Error(`fetch ${topic}-${partition}@${offset}: error ${fetched.errorCode}`);
      for (const record of fetched.records) if (record.offset < until) records.push(record);
      if (fetched.records.length > 0)
        offset = fetched.records[fetched.records.length - 1]!.offset + 1;
    }
    return records;
  }
}
