/**
 * The child process of the kill -9 test: opens the log in `<dir>` (recovering it) and appends
 * from several concurrent appenders until it is killed, printing one line per acknowledged
 * append to stdout: `<baseOffset> <lastOffset> <id>`. A line is printed only after `append`
 * resolved (fsync mode: after the fdatasync covering it). stdout to a pipe is synchronous on
 * Linux, so a printed line is in the pipe before the next instruction runs. On odd cycles the
 * log writes through a file system that splits every write into 512-byte pieces, so that kills
 * also land between the pieces of one round (a torn tail).
 *
 * Usage: node --import tsx test/crash/log-appender.ts <dir> <cycle>
 */
import { FaultyFileSystem } from "../../src/storage/faulty-file-system.ts";
import { Log } from "../../src/storage/log.ts";
import { crashBatch, crashLogConfig } from "./log-crash-records.ts";

const APPENDERS = 6;
const RECORDS_MAX = 24;
const PAYLOAD_BYTES_MAX = 160;

const [dir, cycle] = process.argv.slice(2);
if (!dir || cycle === undefined) {
  process.stderr.write("usage: log-appender.ts <dir> <cycle>\n");
  process.exit(2);
}

// Odd cycles write through a disk that takes writes in 512-byte pieces: a kill then often lands
// in the middle of a round and leaves a torn batch for recovery to cut.
const fileSystem = new FaultyFileSystem();
if (Number(cycle) % 2 === 1) fileSystem.writeChunkBytes = 512;
const log = await Log.open(dir, crashLogConfig, { fileSystem });
process.stderr.write(`opened at ${log.logEndOffset}\n`);

async function appender(worker: number): Promise<void> {
  for (let sequence = 0; ; sequence++) {
    const id = `${cycle}.${worker}.${sequence}`;
    const count = 1 + Math.floor(Math.random() * RECORDS_MAX);
    const { baseOffset, lastOffset } = await log.append(crashBatch(id, count, PAYLOAD_BYTES_MAX));
    process.stdout.write(`${baseOffset} ${lastOffset} ${id}\n`);
  }
}

await Promise.all(Array.from({ length: APPENDERS }, (_, worker) => appender(worker)));
