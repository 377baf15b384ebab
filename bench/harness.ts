/**
 * Shared plumbing for the benchmarks run by `bench/run.ts`.
 *
 * Output contract: every measured result is ONE JSON object on ONE line of stdout (NDJSON), so
 * that runs can be compared with `jq` or a few lines of script; everything meant for a human
 * (progress, warnings) goes to stderr. Benchmarks never gate CI: the machines are shared and
 * noisy, so a result is only meaningful next to a reference measured in the same run.
 */
import { appendFileSync } from "node:fs";
import { build, type Histogram } from "hdr-histogram-js";

/** A flag value as given on the command line: `--name value`, `--name=value` or bare `--name`. */
export type FlagValue = string | true;

export interface BenchContext {
  /** A short smoke run: small bounds, a few seconds in all. Figures are not meaningful. */
  quick: boolean;
  /** Every `--flag` of the command line, `quick` included. */
  flags: ReadonlyMap<string, FlagValue>;
  /** Prints one result line on stdout; `bench` and `time` are added in front. */
  emit(result: BenchResult): void;
  /** Prints a human progress line on stderr. */
  progress(message: string): void;
}

export interface BenchResult {
  case: string;
  params: Record<string, unknown>;
  [metric: string]: unknown;
}

/** The interface every `bench/<name>.ts` implements. */
export interface BenchModule {
  /** One sentence describing what the benchmark measures (shown by `npm run bench`). */
  description: string;
  /** Flags the benchmark understands besides `--quick`, with a short help text each. */
  flags: Record<string, string>;
  run(context: BenchContext): Promise<void>;
}

/** Flags every benchmark takes; `run.ts` handles them before the benchmark's own. */
export const commonFlags: Record<string, string> = {
  quick: "short smoke run (figures not meaningful)",
  out: "also append the result lines to this file (npm prints its banner on stdout)",
};

export function createContext(bench: string, flags: ReadonlyMap<string, FlagValue>): BenchContext {
  const out = flags.get("out");
  if (out === true) throw new Error("--out needs a file name");
  return {
    quick: flags.get("quick") === true,
    flags,
    emit(result) {
      const { case: caseName, params, ...metrics } = result;
      const line = { bench, case: caseName, params, ...metrics, time: new Date().toISOString() };
      const text = `${JSON.stringify(line)}\n`;
      process.stdout.write(text);
      if (out !== undefined) appendFileSync(out, text);
    },
    progress(message) {
      process.stderr.write(`[${bench}] ${message}\n`);
    },
  };
}

/** Parses `--a 1 --b=2 --c` (a bare flag is `true`). Positional arguments are an error. */
export function parseFlags(argv: readonly string[]): Map<string, FlagValue> {
  const flags = new Map<string, FlagValue>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--") || arg.length === 2) {
      throw new Error(`unexpected argument '${arg}' (flags look like --name or --name=value)`);
    }
    const equals = arg.indexOf("=");
    if (equals > 0) {
      flags.set(arg.slice(2, equals), arg.slice(equals + 1));
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith("--")) {
      flags.set(arg.slice(2), next);
      i++;
    } else {
      flags.set(arg.slice(2), true);
    }
  }
  return flags;
}

export function numberFlag(context: BenchContext, name: string, fallback: number): number {
  const value = context.flags.get(name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (value === true || !Number.isFinite(parsed) || parsed <= 0) {
    throw new Error(`--${name} needs a positive number, got '${String(value)}'`);
  }
  return parsed;
}

export function stringFlag(context: BenchContext, name: string): string | undefined {
  const value = context.flags.get(name);
  if (value === true) throw new Error(`--${name} needs a value`);
  return value;
}

/** Latency histogram in microseconds, 1 µs to 60 s, 3 significant digits (HdrHistogram). */
export function latencyHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

export interface LatencySummary {
  samples: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
  mean_us: number;
  max_us: number;
}

export function summarize(histogram: Histogram): LatencySummary {
  return {
    samples: histogram.totalCount,
    p50_us: histogram.getValueAtPercentile(50),
    p99_us: histogram.getValueAtPercentile(99),
    p999_us: histogram.getValueAtPercentile(99.9),
    mean_us: round(histogram.mean, 1),
    max_us: histogram.maxValue,
  };
}

/** Microseconds elapsed since `start` (a `process.hrtime.bigint()` reading), at least 1. */
export function elapsedMicros(start: bigint): number {
  return Math.max(1, Number(process.hrtime.bigint() - start) / 1000);
}

/** Records whole microseconds elapsed since `start` into a `latencyHistogram()`. */
export function recordSince(histogram: Histogram, start: bigint): void {
  histogram.recordValue(Math.round(elapsedMicros(start)));
}

export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Decimal megabytes (10^6 bytes) per second, as disk vendors and `dd` count them. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return round(bytes / 1e6 / seconds, 2);
}
