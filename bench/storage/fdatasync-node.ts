/**
 * What Node adds to the disk's floor for one durable acknowledgement (see fdatasync-floor.c):
 * N rounds of a 200-byte write + fdatasync, with the fdatasync synchronous on the main thread
 * and through the thread pool (callback API), plus an `fs.stat` round trip through the pool
 * for the cost of the hop alone. For the pool cases, `call_us` is the time spent in the call
 * itself on the main thread (handing the work to a pool thread). One JSON line per case.
 *
 *   node --import tsx bench/storage/fdatasync-node.ts DIR [rounds]    (default 3000 rounds)
 */
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  openSync,
  stat,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
const rounds = Number(process.argv[3] ?? 3000);
if (dir === undefined || !(rounds >= 1 && rounds <= 1_000_000)) {
  process.stderr.write("usage: fdatasync-node.ts DIR [rounds 1..1000000]\n");
  process.exit(2);
}
const path = join(dir, "fdatasync-node.dat");
const record = Buffer.alloc(200, "x");

function emit(name: string, totalNs: bigint, callNs?: bigint): void {
  const perRound = (ns: bigint) => Math.round(Number(ns / BigInt(rounds)) / 100) / 10;
  const line: Record<string, unknown> = { bench: "fdatasync-node", case: name, rounds };
  line.us_per_round = perRound(totalNs);
  if (callNs !== undefined) line.call_us = perRound(callNs);
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/**
 * `rounds` rounds of `prepare()` then `call(done)`; the ns of the whole run, and of the `call`s
 * themselves (until they return, not until `done`).
 */
function loop(call: (done: () => void) => void, prepare = () => {}): Promise<[bigint, bigint]> {
  return new Promise((resolve) => {
    let round = 0;
    let callNs = 0n;
    const started = process.hrtime.bigint();
    const next = (): void => {
      if (round++ === rounds) {
        resolve([process.hrtime.bigint() - started, callNs]);
        return;
      }
      prepare();
      const before = process.hrtime.bigint();
      call(next);
      callNs += process.hrtime.bigint() - before;
    };
    next();
  });
}

const fd = openSync(path, "w");
try {
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    writeSync(fd, record);
    fdatasyncSync(fd);
  }
  emit("write+fdatasyncSync", process.hrtime.bigint() - started);
  const [total, calls] = await loop(
    (done) => fdatasync(fd, done),
    () => writeSync(fd, record),
  );
  emit("write+fdatasync(pool)", total, calls);
  const [statTotal, statCalls] = await loop((done) => stat(dir, done));
  emit("stat(pool)", statTotal, statCalls);
} finally {
  closeSync(fd);
  unlinkSync(path);
}
