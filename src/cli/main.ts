/**
 * The `wharf` command. Subcommands live in their own modules; this file only assembles them.
 */
import { Command, CommanderError } from "commander";
import { isWharfError } from "../errors/index.ts";
import { registerBindingsCommand } from "./bindings-command.ts";
import { registerConsumeCommand } from "./consume-command.ts";
import { registerGroupsCommand } from "./groups-command.ts";
import { registerProduceCommand } from "./produce-command.ts";
import { registerQueuesCommand } from "./queues-command.ts";
import { registerStartCommand } from "./start-command.ts";
import { registerTopicsCommand } from "./topics-command.ts";
import { registerUsersCommand } from "./users-command.ts";
import { packageVersion } from "./version.ts";

const program = new Command("wharf")
  .description("WharfMQ: streams, queues and channels in one broker (Kafka, AMQP 0-9-1, RESP)")
  .version(packageVersion(), "-V, --version", "print the version")
  .showHelpAfterError("(run 'wharf --help' for usage)")
  .exitOverride();

registerStartCommand(program);
registerTopicsCommand(program);
registerProduceCommand(program);
registerConsumeCommand(program);
registerGroupsCommand(program);
registerQueuesCommand(program);
registerBindingsCommand(program);
registerUsersCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else if (isWharfError(error)) {
    process.stderr.write(`wharf: ${error.message}\n`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
