/**
 * Sequential fsync'd appends of one small batch (one appender, as XADD from one client):
 * appends/s of `Log` from each given repository copy, alternating 1-second slices.
 * Usage: node --import tsx bench/resp/log-c1.ts ROOT...
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const roots = process.argv.slice(2);
const logs = [];
for (const root of roots) {
  const url = (path: string) => pathToFileURL(resolve(root, path)).href;
  const { Log } = await import(url("src/storage/log.ts"));
  const { defaultLogConfig } = await import(url("src/storage/log-config.ts"));
  const { encodeBatch } = await import(url("src/storage/record-batch.ts"));
  const dir = mkdtempSync(join(tmpdir(), "wharf-log-c1-"));
  logs.push({
    root,
    dir,
    log: await Log.open(dir, defaultLogConfig({})),
    encodeBatch,
    counts: [] as number[],
  });
}
for (let slice = 0; slice < 8; slice++) {
  for (const entry of logs) {
    const end = performance.now() + 1000;
    let count = 0;
    while (performance.now() < end) {
      await entry.log.append(entry.encodeBatch([{ value: Buffer.alloc(100, 1) }]));
      count++;
    }
    entry.counts.push(count);
  }
}
for (const entry of logs) {
  const sorted = [...entry.counts].sort((a, b) => a - b);
  console.log(JSON.stringify({ root: entry.root, appends_per_s: entry.counts, median: sorted[4] }));
  await entry.log.close();
  rmSync(entry.dir, { recursive: true, force: true });
}
