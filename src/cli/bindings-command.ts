/**
 * `wharf bindings list|add|remove`: bindings from an exchange to a queue (or, with
 * `--to-exchange`, to another exchange) through the management API.
 */
import type { Command } from "commander";
import { CliError, clientAction, formatTable, toJson, writeLine } from "./kafka-client.ts";
import {
  addManagementOptions,
  apiPath,
  callApi,
  collectArgument,
  type ManagementFlags,
} from "./management-client.ts";

interface BindingFlags extends ManagementFlags {
  routingKey: string;
  toExchange?: boolean;
  arg?: Record<string, unknown>;
}

interface BindingRow {
  source: string;
  destination: string;
  destination_type: string;
  routing_key: string;
  arguments: Record<string, unknown>;
  properties_key: string;
}

export function registerBindingsCommand(program: Command): void {
  const bindings = program
    .command("bindings")
    .description("list, add and remove bindings (AMQP) on a broker");
  addManagementOptions(
    bindings
      .command("list")
      .description("list the bindings of a virtual host")
      .option("--json", "print JSON"),
  ).action(
    clientAction(async (flags: ManagementFlags) => {
      const rows = (await callApi(flags, "GET", apiPath("bindings", flags.vhost))) as BindingRow[];
      if (flags.json) return writeLine(toJson(rows));
      writeLine(
        formatTable([
          ["SOURCE", "DESTINATION", "TYPE", "ROUTING KEY", "ARGUMENTS"],
          ...rows.map((b) => [
            b.source === "" ? "(default)" : b.source,
            b.destination,
            b.destination_type,
            b.routing_key,
            Object.keys(b.arguments).length === 0 ? "" : toJson(b.arguments),
          ]),
        ]),
      );
    }),
  );
  for (const action of ["add", "remove"] as const) {
    addManagementOptions(
      bindings
        .command(action)
        .description(`${action} a binding from <exchange> to <destination>`)
        .argument("<exchange>", "source exchange")
        .argument("<destination>", "queue (or exchange with --to-exchange)")
        .option("--routing-key <key>", "binding key", "")
        .option("--to-exchange", "the destination is an exchange")
        .option(
          "--arg <key=value>",
          "binding argument, e.g. x-match=any (repeatable)",
          collectArgument,
        ),
    ).action(
      clientAction(async (exchange: string, destination: string, flags: BindingFlags) => {
        const kind = flags.toExchange ? "e" : "q";
        const base = apiPath("bindings", flags.vhost, "e", exchange, kind, destination);
        if (action === "add") {
          await callApi(flags, "POST", base, {
            routing_key: flags.routingKey,
            arguments: flags.arg ?? {},
          });
          writeLine(`bound '${destination}' to '${exchange}'`);
          return;
        }
        const existing = (await callApi(flags, "GET", base)) as BindingRow[];
        const wanted = toJson(flags.arg ?? {});
        const match = existing.find(
          (b) => b.routing_key === flags.routingKey && toJson(b.arguments) === wanted,
        );
        if (match === undefined) throw new CliError("no such binding");
        await callApi(flags, "DELETE", `${base}/${encodeURIComponent(match.properties_key)}`);
        writeLine(`unbound '${destination}' from '${exchange}'`);
      }),
    );
  }
}
