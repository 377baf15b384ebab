/**
 * Benchmark runner: `npm run bench -- <name> [--quick] [--flags]` runs `bench/<name>.ts`.
 *
 * Results are NDJSON on stdout (one JSON object per line), progress is on stderr, so
 * `npm run -s bench -- storage > results.ndjson` keeps only the data (without `-s` npm prints
 * its banner on stdout; `--out FILE` writes the lines to a file as well). Benchmarks never
 * gate CI.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BenchModule, commonFlags, createContext, parseFlags } from "./harness.ts";

const benchDirectory = dirname(fileURLToPath(import.meta.url));
/** Files of bench/ that are plumbing, not benchmarks. */
const notBenchmarks = new Set(["run", "harness"]);

function availableBenchmarks(): string[] {
  return readdirSync(benchDirectory)
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".test.ts"))
    .map((file) => file.slice(0, -".ts".length))
    .filter((name) => !notBenchmarks.has(name))
    .sort();
}

async function loadBenchmark(name: string): Promise<BenchModule> {
  const url = pathToFileURL(join(benchDirectory, `${name}.ts`)).href;
  return (await import(url)) as BenchModule;
}

async function usage(): Promise<string> {
  const lines = ["usage: npm run bench -- <name> [--quick] [--flags]", "", "benchmarks:"];
  for (const name of availableBenchmarks()) {
    const module = await loadBenchmark(name);
    lines.push(`  ${name}: ${module.description}`);
    const flags = { ...commonFlags, ...module.flags };
    for (const [flag, help] of Object.entries(flags)) lines.push(`    --${flag}: ${help}`);
  }
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h") {
    process.stderr.write(`${await usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (!availableBenchmarks().includes(name)) {
    process.stderr.write(`unknown benchmark '${name}'\n\n${await usage()}\n`);
    return 2;
  }
  const module = await loadBenchmark(name);
  const flags = parseFlags(rest);
  for (const flag of flags.keys()) {
    if (!(flag in commonFlags) && !(flag in module.flags)) {
      process.stderr.write(`unknown flag --${flag} for '${name}'\n\n${await usage()}\n`);
      return 2;
    }
  }
  await module.run(createContext(name, flags));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  },
);
