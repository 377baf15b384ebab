/**
 * `wharf start`: runs a broker in the foreground until SIGTERM or SIGINT.
 * A configuration problem, a taken port or an unusable data directory ends the process at
 * once with one line on stderr and a non-zero exit code.
 */
import type { Command } from "commander";
import { loadConfig, settings } from "../config/config.ts";
import { shutdownGraceMs } from "../config/limits.ts";
import { isWharfError } from "../errors/index.ts";
import { createLogger } from "../logging/logger.ts";
import { WharfServer } from "../server/wharf-server.ts";

export function registerStartCommand(program: Command): void {
  const command = program
    .command("start")
    .description("run a broker (single node, embedded defaults)")
    .option("--config <file>", "JSON configuration file (env WHARF_CONFIG)");
  for (const setting of settings) {
    command.option(`--${setting.flag} <value>`, `${setting.description} (env ${setting.env})`);
  }
  command.action(async (options: Record<string, string | undefined>) => {
    const flags: Record<string, string | undefined> = {};
    for (const setting of settings) flags[setting.flag] = options[camelCase(setting.flag)];
    await runBroker(loadConfig({ flags, env: process.env, configFile: options.config }));
  });
}

function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

async function runBroker(config: ReturnType<typeof loadConfig>): Promise<void> {
  const logger = createLogger(config.logLevel);
  let server: WharfServer;
  try {
    server = await WharfServer.start(config, logger);
  } catch (error) {
    if (isWharfError(error)) {
      process.stderr.write(`wharf: ${error.message}\n`);
      logger.flush();
      process.exit(1);
    }
    throw error;
  }
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting without a clean shutdown");
      process.exit(130);
    }
    stopping = true;
    const timer = setTimeout(() => {
      logger.error({ graceMs: shutdownGraceMs }, "clean shutdown took too long; exiting");
      logger.flush();
      process.exit(1);
    }, shutdownGraceMs);
    timer.unref();
    server.stop(signal).then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        logger.flush();
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
