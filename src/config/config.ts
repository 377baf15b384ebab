/**
 * The configuration contract (DESIGN.md "Running it"). Sources, lowest precedence first:
 * built-in defaults < config file (JSON) < environment (WHARF_*) < command-line flags.
 * Every value is validated; a bad one ends startup with a one-line message naming the key,
 * the source it came from and what is expected.
 */
import { readFileSync, statSync } from "node:fs";
import { z } from "zod";
import { WharfError } from "../errors/index.ts";
import {
  amqpChannelsMax,
  amqpHeartbeatSecondsDefault,
  batchBytesMaxCeiling,
  batchBytesMaxDefault,
  compactionIntervalMsDefault,
  configFileBytesMax,
  diskFreeLimitBytesDefault,
  groupInitialRebalanceDelayMsCeiling,
  groupInitialRebalanceDelayMsDefault,
  indexIntervalBytesDefault,
  partitionsPerTopicMax,
  respBulkBytesMaxCeiling,
  respBulkBytesMaxDefault,
  respBulkBytesMaxFloor,
  respPubsubBufferBytesCeiling,
  respPubsubBufferHardBytesDefault,
  respPubsubBufferSoftBytesDefault,
  respPubsubBufferSoftMsDefault,
  retentionBytesDefault,
  retentionMsDefault,
  segmentBytesCeiling,
  segmentBytesDefault,
  segmentBytesFloor,
  segmentMsDefault,
} from "./limits.ts";

const port = z.number().int().min(0).max(65535);

/**
 * `HOST[:PORT]` that clients are told to connect to (Kafka Metadata, FindCoordinator): a name
 * or IPv4 address with an optional port, or an IPv6 address, bracketed when a port follows.
 */
const advertisePattern =
  /^(?:\[([0-9a-fA-F:.]+)\]|([0-9a-fA-F]*:[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/;

export interface AdvertisedAddress {
  host: string;
  /** null: the port the listener is bound to. */
  port: number | null;
}

/** Parses `--advertise HOST[:PORT]`; null when the value is not of that form. */
export function parseAdvertise(value: string): AdvertisedAddress | null {
  const match = advertisePattern.exec(value);
  if (!match) return null;
  const bareIpv6 = match[2];
  if (bareIpv6 !== undefined) return { host: bareIpv6, port: null };
  const host = match[1] ?? match[3]!;
  if (match[4] === undefined) return { host, port: null };
  const number = Number(match[4]);
  if (number < 1 || number > 65535) return null;
  return { host, port: number };
}
const positiveMs = z.number().int().min(1);

export const durabilityModes = ["fsync", "interval", "none"] as const;
export const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

const storageSchema = z
  .object({
    segmentBytes: z.number().int().min(segmentBytesFloor).max(segmentBytesCeiling),
    segmentMs: positiveMs,
    retentionMs: z.number().int().min(-1),
    retentionBytes: z.number().int().min(-1),
    maxBatchBytes: z.number().int().min(1024).max(batchBytesMaxCeiling),
    indexIntervalBytes: z
      .number()
      .int()
      .min(64)
      .max(16 * 1024 * 1024),
    durability: z.enum(durabilityModes),
    flushIntervalMs: positiveMs,
    compactionIntervalMs: positiveMs,
  })
  .strict();

export const configSchema = z
  .object({
    dataDir: z.string().min(1),
    host: z.string().min(1),
    kafkaPort: port,
    amqpPort: port,
    respPort: port,
    mqttPort: port,
    stompPort: port,
    httpPort: port,
    advertise: z
      .string()
      .refine((value) => parseAdvertise(value) !== null, "expected HOST or HOST:PORT ([IPv6]:PORT)")
      .nullable(),
    autoCreateTopics: z.boolean(),
    defaultPartitions: z.number().int().min(1).max(partitionsPerTopicMax),
    logLevel: z.enum(logLevels),
    groupInitialRebalanceDelayMs: z.number().int().min(0).max(groupInitialRebalanceDelayMsCeiling),
    respProtoMaxBulkBytes: z.number().int().min(respBulkBytesMaxFloor).max(respBulkBytesMaxCeiling),
    respPubsubBufferHardBytes: z.number().int().min(1).max(respPubsubBufferBytesCeiling),
    respPubsubBufferSoftBytes: z.number().int().min(1).max(respPubsubBufferBytesCeiling),
    respPubsubBufferSoftMs: z
      .number()
      .int()
      .min(0)
      .max(24 * 3600 * 1000),
    // Both travel as AMQP shorts in connection.tune; 0 heartbeat disables heartbeats.
    amqpHeartbeatSeconds: z.number().int().min(0).max(65535),
    amqpChannelMax: z.number().int().min(1).max(65535),
    // Resource alarms (RabbitMQ's disk_free_limit and vm_memory_high_watermark).
    diskFreeLimitBytes: z.number().int().min(0),
    memoryLimitBytes: z.number().int().min(0),
    storage: storageSchema,
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type StorageConfig = Config["storage"];

export const defaultConfig: Config = {
  dataDir: "./data",
  host: "127.0.0.1",
  kafkaPort: 9092,
  amqpPort: 5672,
  respPort: 6379,
  mqttPort: 1883,
  stompPort: 61613,
  httpPort: 15672,
  advertise: null,
  autoCreateTopics: true,
  defaultPartitions: 1,
  logLevel: "info",
  groupInitialRebalanceDelayMs: groupInitialRebalanceDelayMsDefault,
  respProtoMaxBulkBytes: respBulkBytesMaxDefault,
  respPubsubBufferHardBytes: respPubsubBufferHardBytesDefault,
  respPubsubBufferSoftBytes: respPubsubBufferSoftBytesDefault,
  respPubsubBufferSoftMs: respPubsubBufferSoftMsDefault,
  amqpHeartbeatSeconds: amqpHeartbeatSecondsDefault,
  amqpChannelMax: amqpChannelsMax,
  diskFreeLimitBytes: diskFreeLimitBytesDefault,
  memoryLimitBytes: 0,
  storage: {
    segmentBytes: segmentBytesDefault,
    segmentMs: segmentMsDefault,
    retentionMs: retentionMsDefault,
    retentionBytes: retentionBytesDefault,
    maxBatchBytes: batchBytesMaxDefault,
    indexIntervalBytes: indexIntervalBytesDefault,
    durability: "fsync",
    flushIntervalMs: 1000,
    compactionIntervalMs: compactionIntervalMsDefault,
  },
};

type ValueKind = "string" | "port" | "integer" | "enum" | "boolean";

/** One settable value: its path in Config, its flag, its environment variable. */
export interface Setting {
  path: readonly [keyof Config] | readonly ["storage", keyof StorageConfig];
  flag: string;
  env: string;
  kind: ValueKind;
  description: string;
}

export const settings: readonly Setting[] = [
  {
    path: ["dataDir"],
    flag: "data-dir",
    env: "WHARF_DATA_DIR",
    kind: "string",
    description: "data directory",
  },
  {
    path: ["host"],
    flag: "host",
    env: "WHARF_HOST",
    kind: "string",
    description: "address every listener binds",
  },
  {
    path: ["kafkaPort"],
    flag: "kafka-port",
    env: "WHARF_KAFKA_PORT",
    kind: "port",
    description: "Kafka listener port (0 = off)",
  },
  {
    path: ["amqpPort"],
    flag: "amqp-port",
    env: "WHARF_AMQP_PORT",
    kind: "port",
    description: "AMQP 0-9-1 listener port (0 = off)",
  },
  {
    path: ["respPort"],
    flag: "resp-port",
    env: "WHARF_RESP_PORT",
    kind: "port",
    description: "RESP listener port (0 = off)",
  },
  {
    path: ["mqttPort"],
    flag: "mqtt-port",
    env: "WHARF_MQTT_PORT",
    kind: "port",
    description: "MQTT listener port (0 = off)",
  },
  {
    path: ["stompPort"],
    flag: "stomp-port",
    env: "WHARF_STOMP_PORT",
    kind: "port",
    description: "STOMP listener port (0 = off)",
  },
  {
    path: ["httpPort"],
    flag: "http-port",
    env: "WHARF_HTTP_PORT",
    kind: "port",
    description: "HTTP port: health, metrics, management (0 = off)",
  },
  {
    path: ["advertise"],
    flag: "advertise",
    env: "WHARF_ADVERTISE",
    kind: "string",
    description: "HOST[:PORT] Kafka clients are told to connect to (default: the bound address)",
  },
  {
    path: ["autoCreateTopics"],
    flag: "auto-create-topics",
    env: "WHARF_AUTO_CREATE_TOPICS",
    kind: "boolean",
    description: "create a topic on first produce or metadata request (true|false)",
  },
  {
    path: ["defaultPartitions"],
    flag: "default-partitions",
    env: "WHARF_DEFAULT_PARTITIONS",
    kind: "integer",
    description: "partitions of an auto-created topic, and of CreateTopics with -1",
  },
  {
    path: ["logLevel"],
    flag: "log-level",
    env: "WHARF_LOG_LEVEL",
    kind: "enum",
    description: `log level (${logLevels.join("|")})`,
  },
  {
    path: ["groupInitialRebalanceDelayMs"],
    flag: "group-initial-rebalance-delay-ms",
    env: "WHARF_GROUP_INITIAL_REBALANCE_DELAY_MS",
    kind: "integer",
    description: "delay before the first rebalance of an empty consumer group",
  },
  {
    path: ["respProtoMaxBulkBytes"],
    flag: "resp-proto-max-bulk-bytes",
    env: "WHARF_RESP_PROTO_MAX_BULK_BYTES",
    kind: "integer",
    description: "longest RESP bulk string accepted (Redis's proto-max-bulk-len)",
  },
  {
    path: ["respPubsubBufferHardBytes"],
    flag: "resp-pubsub-buffer-hard-bytes",
    env: "WHARF_RESP_PUBSUB_BUFFER_HARD_BYTES",
    kind: "integer",
    description: "a subscriber with more output queued is disconnected at once",
  },
  {
    path: ["respPubsubBufferSoftBytes"],
    flag: "resp-pubsub-buffer-soft-bytes",
    env: "WHARF_RESP_PUBSUB_BUFFER_SOFT_BYTES",
    kind: "integer",
    description: "a subscriber above this for resp-pubsub-buffer-soft-ms is disconnected",
  },
  {
    path: ["respPubsubBufferSoftMs"],
    flag: "resp-pubsub-buffer-soft-ms",
    env: "WHARF_RESP_PUBSUB_BUFFER_SOFT_MS",
    kind: "integer",
    description: "how long a subscriber may stay above the soft output-buffer limit",
  },
  {
    path: ["amqpHeartbeatSeconds"],
    flag: "amqp-heartbeat-seconds",
    env: "WHARF_AMQP_HEARTBEAT_SECONDS",
    kind: "integer",
    description: "heartbeat interval offered to AMQP clients in connection.tune (0 = off)",
  },
  {
    path: ["amqpChannelMax"],
    flag: "amqp-channel-max",
    env: "WHARF_AMQP_CHANNEL_MAX",
    kind: "integer",
    description: "channel_max offered to AMQP clients in connection.tune",
  },
  {
    path: ["diskFreeLimitBytes"],
    flag: "disk-free-limit-bytes",
    env: "WHARF_DISK_FREE_LIMIT_BYTES",
    kind: "integer",
    description: "raise the resource alarm (publishers blocked) below this much free disk",
  },
  {
    path: ["memoryLimitBytes"],
    flag: "memory-limit-bytes",
    env: "WHARF_MEMORY_LIMIT_BYTES",
    kind: "integer",
    description: "raise the resource alarm above this RSS (0 = 40% of the machine's memory)",
  },
  {
    path: ["storage", "durability"],
    flag: "durability",
    env: "WHARF_DURABILITY",
    kind: "enum",
    description: "default durability: fsync before ack | interval | none",
  },
  {
    path: ["storage", "flushIntervalMs"],
    flag: "flush-interval-ms",
    env: "WHARF_FLUSH_INTERVAL_MS",
    kind: "integer",
    description: "fsync period for durability=interval",
  },
  {
    path: ["storage", "compactionIntervalMs"],
    flag: "compaction-interval-ms",
    env: "WHARF_COMPACTION_INTERVAL_MS",
    kind: "integer",
    description: "how often compacted topics are checked for cleaning",
  },
  {
    path: ["storage", "segmentBytes"],
    flag: "segment-bytes",
    env: "WHARF_SEGMENT_BYTES",
    kind: "integer",
    description: "segment size before roll",
  },
  {
    path: ["storage", "retentionMs"],
    flag: "retention-ms",
    env: "WHARF_RETENTION_MS",
    kind: "integer",
    description: "default retention by age (-1 = forever)",
  },
  {
    path: ["storage", "retentionBytes"],
    flag: "retention-bytes",
    env: "WHARF_RETENTION_BYTES",
    kind: "integer",
    description: "default retention by size per log (-1 = unlimited)",
  },
];

export type ConfigLayer = Record<string, unknown>;

function fail(detail: string): never {
  throw new WharfError("WHARF_CONFIG_INVALID", detail);
}

/** Parses a raw string from env or a flag into the setting's type; names the source on error. */
export function parseSettingValue(setting: Setting, raw: string, source: string): unknown {
  if (setting.kind === "string" || setting.kind === "enum") return raw;
  if (setting.kind === "boolean") {
    const value = raw.trim().toLowerCase();
    if (value === "true" || value === "1") return true;
    if (value === "false" || value === "0") return false;
    fail(`${source}: '${raw}' is not a boolean (true|false)`);
  }
  if (!/^-?\d+$/.test(raw.trim())) fail(`${source}: '${raw}' is not an integer`);
  return Number(raw.trim());
}

function assign(layer: ConfigLayer, setting: Setting, value: unknown): void {
  if (setting.path.length === 1) {
    layer[setting.path[0]] = value;
  } else {
    const storage = (layer.storage ?? {}) as Record<string, unknown>;
    storage[setting.path[1]] = value;
    layer.storage = storage;
  }
}

export function layerFromEnv(env: NodeJS.ProcessEnv): ConfigLayer {
  const layer: ConfigLayer = {};
  for (const setting of settings) {
    const raw = env[setting.env];
    if (raw === undefined || raw === "") continue;
    assign(layer, setting, parseSettingValue(setting, raw, `environment ${setting.env}`));
  }
  return layer;
}

/** Flags as parsed by the CLI: keys are flag names (kebab-case) with string values. */
export function layerFromFlags(flags: Record<string, string | undefined>): ConfigLayer {
  const layer: ConfigLayer = {};
  for (const setting of settings) {
    const raw = flags[setting.flag];
    if (raw === undefined) continue;
    assign(layer, setting, parseSettingValue(setting, raw, `flag --${setting.flag}`));
  }
  return layer;
}

export function layerFromFile(path: string): ConfigLayer {
  let text: string;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) fail(`config file ${path} is not a file`);
    if (stat.size > configFileBytesMax)
      fail(`config file ${path} is larger than ${configFileBytesMax} bytes`);
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof WharfError) throw error;
    fail(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      fail(`config file ${path} must hold a JSON object`);
    }
    return parsed as ConfigLayer;
  } catch (error) {
    if (error instanceof WharfError) throw error;
    fail(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function merge(base: ConfigLayer, over: ConfigLayer): ConfigLayer {
  const out: ConfigLayer = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    if (isPlainObject(current) && isPlainObject(value)) out[key] = merge(current, value);
    else out[key] = value;
  }
  return out;
}

function isPlainObject(value: unknown): value is ConfigLayer {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Validates a merged configuration; the message names the first offending key. */
export function validateConfig(candidate: unknown, source = "configuration"): Config {
  const result = configSchema.safeParse(candidate);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = issue.path.join(".") || "(root)";
  if (issue.code === "unrecognized_keys") {
    const keys = (issue as { keys: string[] }).keys.join(", ");
    fail(
      `${source}: unknown key${keys.includes(",") ? "s" : ""} ${keys}${key === "(root)" ? "" : ` in ${key}`}`,
    );
  }
  fail(`${source}: ${key}: ${issue.message}`);
}

export interface LoadOptions {
  flags?: Record<string, string | undefined>;
  env?: NodeJS.ProcessEnv;
  /** Explicit config file (flag --config); else WHARF_CONFIG from env. */
  configFile?: string;
}

/** Loads the configuration with precedence defaults < file < env < flags. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? {};
  const file = options.configFile ?? (env.WHARF_CONFIG || undefined);
  let merged: ConfigLayer = structuredClone(defaultConfig) as unknown as ConfigLayer;
  if (file) {
    const fileLayer = layerFromFile(file);
    validateConfig(merge(merged, fileLayer), `config file ${file}`);
    merged = merge(merged, fileLayer);
  }
  merged = merge(merged, layerFromEnv(env));
  merged = merge(merged, layerFromFlags(options.flags ?? {}));
  return validateConfig(merged);
}
