/**
 * The command table of the RESP listener: every command module, in one list. A new family
 * (Redis Streams: `streams.ts`) is registered by importing its array and adding it to
 * `commandModules`; see command.ts for the contract.
 */
import { clientCommands } from "./client.ts";
import { type RespCommand, RespCommandTable } from "./command.ts";
import { connectionCommands } from "./connection.ts";
import { pubsubCommands } from "./pubsub.ts";
import { serverCommands } from "./server.ts";
import { streamCommands } from "./streams.ts";

export const commandModules: ReadonlyArray<readonly RespCommand[]> = [
  connectionCommands,
  clientCommands,
  pubsubCommands,
  serverCommands,
  streamCommands,
];

export function buildCommandTable(
  modules: ReadonlyArray<readonly RespCommand[]> = commandModules,
): RespCommandTable {
  return new RespCommandTable(modules);
}
