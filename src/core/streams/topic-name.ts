import { WharfError } from "../../errors/index.ts";

/** Kafka's limit: a partition directory `<topic>-<partition>` must fit in a file name. */
export const topicNameLengthMax = 249;
const legal = /^[a-zA-Z0-9._-]+$/;

/** Validates a topic name with Kafka's rules; throws WHARF_INVALID_TOPIC naming the rule. */
export function validateTopicName(name: string): void {
  if (name.length === 0) throw new WharfError("WHARF_INVALID_TOPIC", "topic name is empty");
  if (name === "." || name === "..")
    throw new WharfError("WHARF_INVALID_TOPIC", `topic name cannot be '${name}'`);
  if (name.length > topicNameLengthMax) {
    throw new WharfError(
      "WHARF_INVALID_TOPIC",
      `topic name is longer than ${topicNameLengthMax} characters`,
    );
  }
  if (!legal.test(name)) {
    throw new WharfError(
      "WHARF_INVALID_TOPIC",
      `topic name '${name}' may contain only ASCII letters, digits, '.', '_' and '-'`,
    );
  }
}
