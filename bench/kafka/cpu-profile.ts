/**
 * Summarises a V8 `.cpuprofile` (written by `node --cpu-prof`): self time per function, the
 * top entries first, with special nodes ((garbage collector), (program), (idle)) reported
 * apart.
 *
 * Positions: the broker runs TypeScript through tsx, whose output is minified to one line per
 * file, so the profile's positions are columns of the transformed JavaScript. tsx keeps each
 * transform with its source map in its cache directory (`<tmpdir>/tsx-<uid>/`); the summary
 * maps a position back to `file.ts:line` through that map (`mapped_by: "source-map"`), taking
 * the newest cached transform of the file whose code has the function's name at that column.
 * Failing that, it finds the function's definition in the .ts source by name
 * (`mapped_by: "name"`), and failing that it reports the generated position.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { SourceMap, type SourceMapPayload } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  function: string;
  location: string;
  mapped_by: "source-map" | "name" | "none";
  generated_line: number;
  generated_column: number;
  self_ms: number;
  self_percent: number;
}

export interface ProfileSummary {
  file: string;
  duration_ms: number;
  /** Time in samples that were not idle. */
  busy_ms: number;
  gc_ms: number;
  program_ms: number;
  idle_ms: number;
  /** Percentages are of `busy_ms`. */
  top: HotFunction[];
  /** Self time by file (percent of busy), the top 10. */
  by_file: { file: string; self_percent: number }[];
}

interface CachedTransform {
  mtimeMs: number;
  code: string[];
  map: SourceMap;
}

/** tsx's transform cache, by source path, newest first (read once, lazily). */
let tsxCache: Map<string, CachedTransform[]> | undefined;

function tsxTransforms(path: string): CachedTransform[] {
  if (tsxCache === undefined) {
    tsxCache = new Map();
    const dir = join(tmpdir(), `tsx-${process.getuid?.() ?? 0}`);
    let files: string[] = [];
    try {
      files = readdirSync(dir);
    } catch {
      // no cache: positions fall back to the name search
    }
    for (const file of files) {
      try {
        const full = join(dir, file);
        const entry = JSON.parse(readFileSync(full, "utf8")) as {
          code?: string;
          map?: SourceMapPayload;
        };
        const source = entry.map?.sources?.[0];
        if (typeof entry.code !== "string" || !entry.map || !source) continue;
        const list = tsxCache.get(source) ?? [];
        list.push({
          mtimeMs: statSync(full).mtimeMs,
          code: entry.code.split("\n"),
          map: new SourceMap(entry.map),
        });
        tsxCache.set(source, list);
      } catch {
        // not a transform entry
      }
    }
    for (const list of tsxCache.values()) list.sort((a, b) => b.mtimeMs - a.mtimeMs);
  }
  return tsxCache.get(path) ?? [];
}

/** 1-based original line of a 0-based generated position, through tsx's cached source map. */
function mapThroughTsx(
  path: string,
  name: string,
  line: number,
  column: number,
): number | undefined {
  const bare = name.replace(/^(get|set) /, "");
  for (const transform of tsxTransforms(path)) {
    const text = transform.code[line];
    if (text === undefined) continue;
    // The profile's column is where the function starts: its name, `function`, `async` or `(`.
    const window = text.slice(Math.max(0, column - 40), column + 60);
    if (bare !== "" && !window.includes(bare)) continue;
    const entry = transform.map.findEntry(line, column) as { originalLine?: number };
    if (entry && typeof entry.originalLine === "number") return entry.originalLine + 1;
  }
  return undefined;
}

const sourceCache = new Map<string, string[] | null>();

function sourceLines(path: string): string[] | null {
  if (!sourceCache.has(path)) {
    try {
      sourceCache.set(path, readFileSync(path, "utf8").split("\n"));
    } catch {
      sourceCache.set(path, null);
    }
  }
  return sourceCache.get(path)!;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** 1-based line of the definition of `name` in `path` nearest to `near`, if found. */
function locateDefinition(path: string, name: string, near: number): number | undefined {
  const lines = sourceLines(path);
  if (!lines || name === "" || name.startsWith("(")) return undefined;
  const bare = escapeRegExp(name.replace(/^(get|set) /, ""));
  const pattern = new RegExp(
    `(function\\*?\\s+${bare}\\s*[<(]|(^|[\\s.])(async\\s+)?(get\\s+|set\\s+|static\\s+|private\\s+|readonly\\s+|public\\s+|protected\\s+)*\\*?${bare}\\s*(<[^>]*>)?\\(|(const|let|var)\\s+${bare}\\s*[:=]|\\b${bare}\\s*:\\s*(async\\s*)?\\(|\\bclass\\s+${bare}\\b)`,
  );
  let best: number | undefined;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    if (/^\s*(\/\/|\*|\/\*)/.test(line)) continue;
    if (!pattern.test(line)) continue;
    if (/^\s*(return|if|while|for|await)\b/.test(line)) continue;
    if (best === undefined || Math.abs(index + 1 - near) < Math.abs(best - near)) best = index + 1;
  }
  return best;
}

export function summarizeProfile(file: string, repoRoot: string, topCount = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfMicros = new Map<number, number>();
  for (let index = 0; index < profile.samples.length; index++) {
    const id = profile.samples[index]!;
    // timeDeltas[i] is the time since the previous sample; it is spent in sample i's node.
    const delta = profile.timeDeltas[index] ?? 0;
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + delta);
  }
  let gc = 0;
  let program = 0;
  let idle = 0;
  const byFunction = new Map<string, { frame: CallFrame; micros: number }>();
  const byFile = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === "(garbage collector)") gc += micros;
    else if (frame.functionName === "(program)") program += micros;
    else if (frame.functionName === "(idle)") idle += micros;
    const key = `${frame.functionName}|${frame.url}|${frame.lineNumber}`;
    const entry = byFunction.get(key) ?? { frame, micros: 0 };
    entry.micros += micros;
    byFunction.set(key, entry);
    if (frame.functionName !== "(idle)") {
      const fileKey =
        frame.url === ""
          ? `(${frame.functionName.replace(/[()]/g, "") || "native"})`
          : displayPath(frame.url, repoRoot);
      byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + micros);
    }
  }
  const total = [...selfMicros.values()].reduce((sum, value) => sum + value, 0);
  const busy = total - idle;
  const percent = (micros: number) => Math.round((micros / Math.max(1, busy)) * 1000) / 10;
  const top = [...byFunction.values()]
    .filter((entry) => entry.frame.functionName !== "(idle)")
    .sort((a, b) => b.micros - a.micros)
    .slice(0, topCount)
    .map(({ frame, micros }) => {
      const generatedLine = frame.lineNumber + 1;
      let location =
        frame.url === "" ? "(native)" : `${displayPath(frame.url, repoRoot)}:${generatedLine}`;
      let mappedBy: HotFunction["mapped_by"] = "none";
      if (frame.url.startsWith("file://") && frame.url.endsWith(".ts")) {
        const path = fileURLToPath(frame.url);
        let line = mapThroughTsx(path, frame.functionName, frame.lineNumber, frame.columnNumber);
        if (line !== undefined) mappedBy = "source-map";
        else {
          line = locateDefinition(path, frame.functionName, generatedLine);
          if (line !== undefined) mappedBy = "name";
        }
        if (line !== undefined) location = `${displayPath(frame.url, repoRoot)}:${line}`;
      }
      return {
        function: frame.functionName || "(anonymous)",
        location,
        mapped_by: mappedBy,
        generated_line: generatedLine,
        generated_column: frame.columnNumber + 1,
        self_ms: Math.round(micros / 100) / 10,
        self_percent: percent(micros),
      };
    });
  const byFileTop = [...byFile.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([name, micros]) => ({ file: name, self_percent: percent(micros) }));
  return {
    file,
    duration_ms: Math.round((profile.endTime - profile.startTime) / 1000),
    busy_ms: Math.round(busy / 1000),
    gc_ms: Math.round(gc / 1000),
    program_ms: Math.round(program / 1000),
    idle_ms: Math.round(idle / 1000),
    top,
    by_file: byFileTop,
  };
}

function displayPath(url: string, repoRoot: string): string {
  if (!url.startsWith("file://")) return url;
  const path = fileURLToPath(url);
  const inRepo = relative(repoRoot, path);
  return inRepo.startsWith("..") ? path : inRepo;
}
