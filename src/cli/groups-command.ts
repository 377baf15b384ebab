/**
 * `wharf groups list|describe`: consumer groups as the coordinator reports them (ListGroups,
 * DescribeGroups, OffsetFetch) with the lag of each partition: the log end offset (high
 * watermark, from ListOffsets) minus the committed offset. A partition with no committed
 * offset has no lag to report ("-").
 */
import type { Admin } from "@platformatic/kafka";
import type { Command } from "commander";
import {
  addConnectionOptions,
  CliError,
  type ConnectionFlags,
  clientAction,
  formatTable,
  toJson,
  withAdmin,
  writeLine,
} from "./kafka-client.ts";

/** ListOffsets' timestamp for "the log end offset" (Kafka's `ListOffsetsRequest.LATEST_TIMESTAMP`). */
const latestOffsetTimestamp = -1n;

interface JsonFlag {
  json?: boolean;
}

export function registerGroupsCommand(program: Command): void {
  const groups = program
    .command("groups")
    .description("list consumer groups and describe their members, offsets and lag");

  addConnectionOptions(
    groups
      .command("list")
      .description("list the consumer groups with their state")
      .option("--json", "print JSON"),
  ).action(clientAction(listGroups));

  addConnectionOptions(
    groups
      .command("describe")
      .description(
        "show a group's state and members, and per partition the committed offset, " +
          "log end offset and lag",
      )
      .argument("<group>", "group id")
      .option("--json", "print JSON"),
  ).action(clientAction(describeGroup));
}

async function listGroups(flags: ConnectionFlags & JsonFlag) {
  await withAdmin(flags, async (admin) => {
    const groups = [...(await admin.listGroups()).values()]
      .map((group) => ({ id: group.id, state: group.state, protocolType: group.protocolType }))
      .sort((left, right) => left.id.localeCompare(right.id));
    if (flags.json) {
      writeLine(toJson(groups));
      return;
    }
    const rows = groups.map((group) => [group.id, group.state, group.protocolType]);
    writeLine(formatTable([["GROUP", "STATE", "PROTOCOL-TYPE"], ...rows]));
  });
}

interface MemberDescription {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  assignments: { topic: string; partitions: number[] }[];
}

interface PartitionLag {
  topic: string;
  partition: number;
  committedOffset: bigint | null;
  logEndOffset: bigint | null;
  lag: bigint | null;
  memberId: string | null;
}

async function describeGroup(groupId: string, flags: ConnectionFlags & JsonFlag) {
  await withAdmin(flags, async (admin) => {
    const described = (await admin.describeGroups({ groups: [groupId] })).get(groupId);
    const members: MemberDescription[] = [...(described?.members.values() ?? [])].map((member) => ({
      memberId: member.id,
      groupInstanceId: member.groupInstanceId ?? null,
      clientId: member.clientId,
      clientHost: member.clientHost,
      assignments: [...(member.assignments?.values() ?? [])].map((assignment) => ({
        topic: assignment.topic,
        partitions: [...assignment.partitions].sort((left, right) => left - right),
      })),
    }));
    const [committed] = await admin.listConsumerGroupOffsets({ groups: [groupId] });
    const partitions = await partitionLags(admin, committed?.topics ?? [], members);
    const state = described?.state ?? "DEAD";
    if (state === "DEAD" && members.length === 0 && partitions.length === 0) {
      throw new CliError(`group '${groupId}' does not exist`);
    }
    const group = {
      id: groupId,
      state,
      protocolType: described?.protocolType ?? "",
      protocol: described?.protocol ?? "",
      members,
      partitions,
    };
    if (flags.json) {
      writeLine(toJson(group));
      return;
    }
    printGroup(group);
  });
}

/**
 * Every partition of each topic the group has committed offsets on or is assigned, with its
 * committed offset, log end offset and lag (null where there is no committed offset, or no
 * log end because the topic was deleted since the commit).
 */
async function partitionLags(
  admin: Admin,
  committedTopics: {
    name: string;
    partitions: { partitionIndex: number; committedOffset: bigint }[];
  }[],
  members: MemberDescription[],
): Promise<PartitionLag[]> {
  const owners = new Map<string, string>();
  const keys = new Map<string, { topic: string; partition: number }>();
  const committed = new Map<string, bigint>();
  for (const member of members) {
    for (const { topic, partitions } of member.assignments) {
      for (const partition of partitions) {
        owners.set(`${topic}:${partition}`, member.memberId);
        keys.set(`${topic}:${partition}`, { topic, partition });
      }
    }
  }
  for (const topic of committedTopics) {
    for (const partition of topic.partitions) {
      const key = `${topic.name}:${partition.partitionIndex}`;
      keys.set(key, { topic: topic.name, partition: partition.partitionIndex });
      if (partition.committedOffset >= 0n) committed.set(key, partition.committedOffset);
    }
  }
  const topics = new Set([...keys.values()].map(({ topic }) => topic));
  const ends = await logEndOffsets(admin, topics);
  for (const key of ends.keys()) {
    const colon = key.lastIndexOf(":");
    keys.set(key, { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)) });
  }
  return [...keys.entries()]
    .map(([key, { topic, partition }]) => {
      const committedOffset = committed.get(key) ?? null;
      const logEndOffset = ends.get(key) ?? null;
      let lag: bigint | null = null;
      if (committedOffset !== null && logEndOffset !== null) {
        lag = logEndOffset > committedOffset ? logEndOffset - committedOffset : 0n;
      }
      const memberId = owners.get(key) ?? null;
      return { topic, partition, committedOffset, logEndOffset, lag, memberId };
    })
    .sort(
      (left, right) => left.topic.localeCompare(right.topic) || left.partition - right.partition,
    );
}

/** High watermarks of every partition of the topics, by `topic:partition`; deleted topics are left out. */
async function logEndOffsets(admin: Admin, topics: Set<string>): Promise<Map<string, bigint>> {
  const ends = new Map<string, bigint>();
  if (topics.size === 0) return ends;
  const existing = new Set(await admin.listTopics({ includeInternals: true }));
  const names = [...topics].filter((topic) => existing.has(topic));
  if (names.length === 0) return ends;
  const metadata = await admin.metadata({ topics: names });
  const requests = names.map((name) => {
    const count = metadata.topics.get(name)?.partitionsCount ?? 0;
    return {
      name,
      partitions: Array.from({ length: count }, (_, partitionIndex) => ({
        partitionIndex,
        timestamp: latestOffsetTimestamp,
      })),
    };
  });
  for (const topic of await admin.listOffsets({ topics: requests })) {
    for (const partition of topic.partitions) {
      ends.set(`${topic.name}:${partition.partitionIndex}`, partition.offset);
    }
  }
  return ends;
}

function printGroup(group: {
  id: string;
  state: string;
  protocolType: string;
  protocol: string;
  members: MemberDescription[];
  partitions: PartitionLag[];
}): void {
  const protocol = group.protocol ? `${group.protocolType}/${group.protocol}` : group.protocolType;
  writeLine(
    `group: ${group.id}  state: ${group.state}  protocol: ${protocol || "-"}  ` +
      `members: ${group.members.length}`,
  );
  if (group.members.length > 0) {
    writeLine("");
    const rows = group.members.map((member) => [
      member.memberId,
      member.clientId,
      member.clientHost,
      member.assignments
        .map(({ topic, partitions }) => `${topic}:${partitions.join(",")}`)
        .join(" ") || "-",
    ]);
    writeLine(formatTable([["MEMBER", "CLIENT-ID", "HOST", "ASSIGNMENT"], ...rows]));
  }
  writeLine("");
  const text = (value: bigint | string | null) => (value === null ? "-" : String(value));
  const rows = group.partitions.map((partition) => [
    partition.topic,
    String(partition.partition),
    text(partition.committedOffset),
    text(partition.logEndOffset),
    text(partition.lag),
    text(partition.memberId),
  ]);
  writeLine(
    formatTable([["TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "MEMBER"], ...rows]),
  );
}
