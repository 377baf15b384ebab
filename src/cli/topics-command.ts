/**
 * `wharf topics list|create|describe|alter|delete`: topic administration through the Kafka
 * admin API (Metadata, CreateTopics, DeleteTopics, CreatePartitions, ListOffsets,
 * DescribeConfigs, IncrementalAlterConfigs), as any Kafka admin client would do it.
 */
import type { Admin, IncrementalAlterConfigsOptions } from "@platformatic/kafka";
import type { Command } from "commander";
import {
  addConnectionOptions,
  CliError,
  type ConnectionFlags,
  clientAction,
  collectKeyValue,
  collectString,
  formatTable,
  hasProtocolError,
  type KafkaModule,
  positiveInteger,
  toJson,
  withAdmin,
  writeLine,
} from "./kafka-client.ts";

interface JsonFlag {
  json?: boolean;
}

export function registerTopicsCommand(program: Command): void {
  const topics = program
    .command("topics")
    .description("list, create, describe, alter and delete topics on a broker");

  addConnectionOptions(
    topics
      .command("list")
      .description("list the topics with their partition counts")
      .option("--internal", "include internal topics")
      .option("--json", "print JSON"),
  ).action(clientAction(listTopics));

  addConnectionOptions(
    topics
      .command("create")
      .description("create a topic")
      .argument("<topic>", "topic name")
      .option(
        "--partitions <n>",
        "number of partitions (default: the broker's)",
        positiveInteger("--partitions"),
      )
      .option("--config <key=value>", "topic config (repeatable)", collectKeyValue)
      .option("--if-not-exists", "succeed when the topic already exists"),
  ).action(clientAction(createTopic));

  addConnectionOptions(
    topics
      .command("describe")
      .description("show partitions (leader, log start and end offsets) and configs of a topic")
      .argument("<topic>", "topic name")
      .option("--json", "print JSON"),
  ).action(clientAction(describeTopic));

  addConnectionOptions(
    topics
      .command("alter")
      .description("add partitions to a topic or change its configs")
      .argument("<topic>", "topic name")
      .option(
        "--partitions <n>",
        "new total number of partitions (can only grow)",
        positiveInteger("--partitions"),
      )
      .option("--config <key=value>", "set a topic config (repeatable)", collectKeyValue)
      .option(
        "--delete-config <key>",
        "remove a config override, back to the default (repeatable)",
        collectString,
      ),
  ).action(clientAction(alterTopic));

  addConnectionOptions(
    topics
      .command("delete")
      .description("delete topics and all their records")
      .argument("<topics...>", "topic names")
      .option("--if-exists", "succeed when a topic does not exist"),
  ).action(clientAction(deleteTopics));
}

async function requireTopic(admin: Admin, topic: string): Promise<void> {
  const names = await admin.listTopics({ includeInternals: true });
  if (!names.includes(topic)) throw new CliError(`topic '${topic}' does not exist`);
}

async function listTopics(flags: ConnectionFlags & JsonFlag & { internal?: boolean }) {
  await withAdmin(flags, async (admin) => {
    const names = (await admin.listTopics({ includeInternals: flags.internal === true })).sort();
    const metadata = names.length > 0 ? await admin.metadata({ topics: names }) : undefined;
    const rows = names.map((name) => ({
      name,
      partitions: metadata?.topics.get(name)?.partitionsCount ?? 0,
    }));
    if (flags.json) {
      writeLine(toJson(rows));
      return;
    }
    const table = rows.map((row) => [row.name, String(row.partitions)]);
    writeLine(formatTable([["TOPIC", "PARTITIONS"], ...table]));
  });
}

type CreateFlags = ConnectionFlags & {
  partitions?: number;
  config?: [string, string][];
  ifNotExists?: boolean;
};

async function createTopic(topic: string, flags: CreateFlags) {
  await withAdmin(flags, async (admin) => {
    try {
      const [created] = await admin.createTopics({
        topics: [topic],
        partitions: flags.partitions ?? -1,
        replicas: -1,
        configs: (flags.config ?? []).map(([name, value]) => ({ name, value })),
      });
      writeLine(`created topic '${topic}' with ${created?.partitions ?? "?"} partition(s)`);
    } catch (error) {
      if (flags.ifNotExists && hasProtocolError(error, "TOPIC_ALREADY_EXISTS")) return;
      if (hasProtocolError(error, "TOPIC_ALREADY_EXISTS")) {
        throw new CliError(`topic '${topic}' already exists`);
      }
      throw error;
    }
  });
}

interface PartitionDescription {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
  logStartOffset: bigint;
  logEndOffset: bigint;
}

interface ConfigDescriptionRow {
  name: string;
  value: string | null;
  source: "override" | "default" | "broker";
  readOnly: boolean;
}

async function describeTopic(topic: string, flags: ConnectionFlags & JsonFlag) {
  await withAdmin(flags, async (admin, kafka) => {
    await requireTopic(admin, topic);
    const metadata = await admin.metadata({ topics: [topic] });
    const topicMetadata = metadata.topics.get(topic);
    if (!topicMetadata) throw new CliError(`topic '${topic}' does not exist`);
    const indexes = topicMetadata.partitions.map((_, index) => index);
    const offsetsAt = async (timestamp: bigint) => {
      const [listed] = await admin.listOffsets({
        topics: [
          {
            name: topic,
            partitions: indexes.map((partitionIndex) => ({ partitionIndex, timestamp })),
          },
        ],
      });
      const byPartition = new Map<number, bigint>();
      for (const partition of listed?.partitions ?? []) {
        byPartition.set(partition.partitionIndex, partition.offset);
      }
      return byPartition;
    };
    const starts = await offsetsAt(kafka.ListOffsetTimestamps.EARLIEST);
    const ends = await offsetsAt(kafka.ListOffsetTimestamps.LATEST);
    const partitions: PartitionDescription[] = topicMetadata.partitions.map((partition, index) => ({
      partition: index,
      leader: partition.leader,
      replicas: partition.replicas,
      isr: partition.isr,
      logStartOffset: starts.get(index) ?? -1n,
      logEndOffset: ends.get(index) ?? -1n,
    }));
    const [described] = await admin.describeConfigs({
      resources: [{ resourceType: kafka.ConfigResourceTypes.TOPIC, resourceName: topic }],
    });
    const configs: ConfigDescriptionRow[] = (described?.configs ?? [])
      .map((config) => ({
        name: config.name,
        value: config.isSensitive ? "(sensitive)" : (config.value ?? null),
        source: configSourceName(config.configSource, kafka.ConfigSources),
        readOnly: config.readOnly,
      }))
      .sort((left, right) => left.name.localeCompare(right.name));
    if (flags.json) {
      writeLine(toJson({ name: topic, id: topicMetadata.id, partitions, configs }));
      return;
    }
    printTopicDescription(topic, topicMetadata.id, partitions, configs);
  });
}

function configSourceName(
  source: number,
  sources: KafkaModule["ConfigSources"],
): ConfigDescriptionRow["source"] {
  if (source === sources.TOPIC_CONFIG) return "override";
  if (source === sources.DEFAULT_CONFIG || source === sources.UNKNOWN) {
    return "default";
  }
  return "broker";
}

function printTopicDescription(
  topic: string,
  id: string,
  partitions: PartitionDescription[],
  configs: ConfigDescriptionRow[],
): void {
  writeLine(`topic: ${topic}  id: ${id}  partitions: ${partitions.length}`);
  writeLine("");
  const partitionRows = partitions.map((partition) => [
    String(partition.partition),
    String(partition.leader),
    partition.replicas.join(","),
    partition.isr.join(","),
    String(partition.logStartOffset),
    String(partition.logEndOffset),
  ]);
  writeLine(
    formatTable([
      ["PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START", "LOG-END"],
      ...partitionRows,
    ]),
  );
  writeLine("");
  const configRows = configs.map((config) => [config.name, config.value ?? "", config.source]);
  writeLine(formatTable([["CONFIG", "VALUE", "SOURCE"], ...configRows]));
}

type AlterFlags = ConnectionFlags & {
  partitions?: number;
  config?: [string, string][];
  deleteConfig?: string[];
};

async function alterTopic(topic: string, flags: AlterFlags) {
  const sets = flags.config ?? [];
  const deletes = flags.deleteConfig ?? [];
  if (flags.partitions === undefined && sets.length === 0 && deletes.length === 0) {
    throw new CliError("nothing to alter: give --partitions, --config or --delete-config");
  }
  await withAdmin(flags, async (admin, kafka) => {
    await requireTopic(admin, topic);
    if (flags.partitions !== undefined) {
      const metadata = await admin.metadata({ topics: [topic] });
      const current = metadata.topics.get(topic)?.partitionsCount ?? 0;
      if (flags.partitions < current) {
        throw new CliError(
          `topic '${topic}' has ${current} partitions; partitions can only be added`,
        );
      }
      if (flags.partitions > current) {
        await admin.createPartitions({ topics: [{ name: topic, count: flags.partitions }] });
        writeLine(`topic '${topic}' now has ${flags.partitions} partitions`);
      }
    }
    if (sets.length > 0 || deletes.length > 0) {
      const configs: IncrementalAlterConfigsOptions["resources"][number]["configs"] = [
        ...sets.map(([name, value]) => ({
          name,
          value,
          configOperation: kafka.IncrementalAlterConfigOperationTypes.SET,
        })),
        ...deletes.map((name) => ({
          name,
          configOperation: kafka.IncrementalAlterConfigOperationTypes.DELETE,
        })),
      ];
      await admin.incrementalAlterConfigs({
        resources: [
          { resourceType: kafka.ConfigResourceTypes.TOPIC, resourceName: topic, configs },
        ],
      });
      writeLine(`updated ${configs.length} config(s) of topic '${topic}'`);
    }
  });
}

async function deleteTopics(names: string[], flags: ConnectionFlags & { ifExists?: boolean }) {
  await withAdmin(flags, async (admin) => {
    const existing = new Set(await admin.listTopics({ includeInternals: true }));
    const missing = names.filter((name) => !existing.has(name));
    if (missing.length > 0 && !flags.ifExists) {
      throw new CliError(`topic '${missing[0]}' does not exist`);
    }
    const present = names.filter((name) => existing.has(name));
    if (present.length === 0) return;
    await admin.deleteTopics({ topics: present });
    for (const name of present) writeLine(`deleted topic '${name}'`);
  });
}
