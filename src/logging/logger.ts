/**
 * Structured logging: one JSON object per line (pino), to stderr so that stdout stays free
 * for CLI output. Every component takes a child logger with its own `component` field.
 */
import { type Logger, pino } from "pino";
import { logSnippetBytes } from "../config/limits.ts";

export type { Logger };

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export function createLogger(level: LogLevel = "info"): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything; the default for library use and unit tests. */
export const silentLogger: Logger = pino({ level: "silent" });

/** A bounded, escaped excerpt of untrusted bytes for a log line. */
export function snippet(bytes: Uint8Array, at = 0): string {
  const start = Math.max(0, at);
  const end = Math.min(bytes.length, start + logSnippetBytes);
  let out = "";
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    out +=
      b >= 0x20 && b < 0x7f && b !== 0x5c
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return end < bytes.length ? `${out}...` : out;
}
