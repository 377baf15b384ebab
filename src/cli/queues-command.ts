/**
 * `wharf queues list|declare|purge|delete` and `wharf exchanges list|declare|delete`: queue
 * and exchange administration through the management API, as `rabbitmqadmin` does it.
 */
import type { Command } from "commander";
import { clientAction, formatTable, toJson, writeLine } from "./kafka-client.ts";
import {
  addManagementOptions,
  apiPath,
  callApi,
  collectArgument,
  type ManagementFlags,
} from "./management-client.ts";

interface DeclareFlags extends ManagementFlags {
  durable: boolean;
  autoDelete?: boolean;
  arg?: Record<string, unknown>;
}

export function registerQueuesCommand(program: Command): void {
  const queues = program
    .command("queues")
    .description("list, declare, purge and delete queues (AMQP) on a broker");
  addManagementOptions(
    queues
      .command("list")
      .description("list the queues of a virtual host with their message counts")
      .option("--json", "print JSON"),
  ).action(clientAction(listQueues));
  addManagementOptions(
    queues
      .command("declare")
      .description("declare a queue (durable unless --no-durable)")
      .argument("<queue>", "queue name")
      .option("--no-durable", "a transient queue, deleted on restart")
      .option("--auto-delete", "delete the queue when its last consumer goes")
      .option(
        "--arg <key=value>",
        "queue argument, e.g. x-max-length=1000 or x-queue-type=stream (repeatable)",
        collectArgument,
      ),
  ).action(clientAction(declareQueue));
  addManagementOptions(
    queues.command("purge").description("remove a queue's ready messages").argument("<queue>"),
  ).action(
    clientAction(async (queue: string, flags: ManagementFlags) => {
      await callApi(flags, "DELETE", `${apiPath("queues", flags.vhost, queue)}/contents`);
      writeLine(`purged queue '${queue}'`);
    }),
  );
  addManagementOptions(
    queues
      .command("delete")
      .description("delete a queue")
      .argument("<queue>")
      .option("--if-unused", "only if it has no consumers")
      .option("--if-empty", "only if it has no messages"),
  ).action(
    clientAction(
      async (queue: string, flags: ManagementFlags & { ifUnused?: boolean; ifEmpty?: boolean }) => {
        const query = new URLSearchParams();
        if (flags.ifUnused) query.set("if-unused", "true");
        if (flags.ifEmpty) query.set("if-empty", "true");
        const suffix = query.size > 0 ? `?${query}` : "";
        await callApi(flags, "DELETE", `${apiPath("queues", flags.vhost, queue)}${suffix}`);
        writeLine(`deleted queue '${queue}'`);
      },
    ),
  );

  const exchanges = program
    .command("exchanges")
    .description("list, declare and delete exchanges (AMQP) on a broker");
  addManagementOptions(
    exchanges
      .command("list")
      .description("list the exchanges of a virtual host")
      .option("--json", "print JSON"),
  ).action(clientAction(listExchanges));
  addManagementOptions(
    exchanges
      .command("declare")
      .description("declare an exchange (durable unless --no-durable)")
      .argument("<exchange>", "exchange name")
      .requiredOption("--type <type>", "direct, fanout, topic or headers")
      .option("--no-durable", "a transient exchange, gone after restart")
      .option("--auto-delete", "delete the exchange when its last binding goes")
      .option("--internal", "only other exchanges may publish to it")
      .option(
        "--arg <key=value>",
        "exchange argument, e.g. alternate-exchange=ae (repeatable)",
        collectArgument,
      ),
  ).action(
    clientAction(
      async (exchange: string, flags: DeclareFlags & { type: string; internal?: boolean }) => {
        await callApi(flags, "PUT", apiPath("exchanges", flags.vhost, exchange), {
          type: flags.type,
          durable: flags.durable,
          auto_delete: flags.autoDelete ?? false,
          internal: flags.internal ?? false,
          arguments: flags.arg ?? {},
        });
        writeLine(`declared exchange '${exchange}'`);
      },
    ),
  );
  addManagementOptions(
    exchanges
      .command("delete")
      .description("delete an exchange and its bindings")
      .argument("<exchange>")
      .option("--if-unused", "only if no binding has it as source"),
  ).action(
    clientAction(async (exchange: string, flags: ManagementFlags & { ifUnused?: boolean }) => {
      const suffix = flags.ifUnused ? "?if-unused=true" : "";
      await callApi(flags, "DELETE", `${apiPath("exchanges", flags.vhost, exchange)}${suffix}`);
      writeLine(`deleted exchange '${exchange}'`);
    }),
  );
}

interface QueueRow {
  name: string;
  type: string;
  durable: boolean;
  messages_ready: number;
  messages_unacknowledged: number;
  consumers: number;
}

async function listQueues(flags: ManagementFlags): Promise<void> {
  const rows = (await callApi(flags, "GET", apiPath("queues", flags.vhost))) as QueueRow[];
  if (flags.json) return writeLine(toJson(rows));
  writeLine(
    formatTable([
      ["NAME", "TYPE", "DURABLE", "READY", "UNACKED", "CONSUMERS"],
      ...rows.map((q) => [
        q.name,
        q.type,
        String(q.durable),
        String(q.messages_ready),
        String(q.messages_unacknowledged),
        String(q.consumers),
      ]),
    ]),
  );
}

async function declareQueue(queue: string, flags: DeclareFlags): Promise<void> {
  await callApi(flags, "PUT", apiPath("queues", flags.vhost, queue), {
    durable: flags.durable,
    auto_delete: flags.autoDelete ?? false,
    arguments: flags.arg ?? {},
  });
  writeLine(`declared queue '${queue}'`);
}

interface ExchangeRow {
  name: string;
  type: string;
  durable: boolean;
  auto_delete: boolean;
  internal: boolean;
}

async function listExchanges(flags: ManagementFlags): Promise<void> {
  const rows = (await callApi(flags, "GET", apiPath("exchanges", flags.vhost))) as ExchangeRow[];
  if (flags.json) return writeLine(toJson(rows));
  writeLine(
    formatTable([
      ["NAME", "TYPE", "DURABLE", "AUTO-DELETE", "INTERNAL"],
      ...rows.map((x) => [
        x.name === "" ? "(default)" : x.name,
        x.type,
        String(x.durable),
        String(x.auto_delete),
        String(x.internal),
      ]),
    ]),
  );
}
