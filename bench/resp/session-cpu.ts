/**
 * CPU per command of the RESP session alone (parser, dispatch, PUBLISH, reply encoding, flush),
 * without sockets: chunks of pipelined commands are handed to a session over a Duplex whose
 * writes complete at once. Used to compare a change of src/protocols/resp with another copy of
 * the repository in one process run (the network benchmarks are dominated by the kernel and
 * the scheduler on a shared machine).
 *
 * Usage: node --import tsx bench/resp/session-cpu.ts [ROOT ...]   (default: this repository)
 * Prints one JSON line per root and round: `ns_per_command` (process CPU time / commands).
 */
import { resolve } from "node:path";
import { Duplex } from "node:stream";
import { pathToFileURL } from "node:url";

const roots = process.argv.slice(2);
if (roots.length === 0) roots.push(resolve(import.meta.dirname, "../.."));

const pipeline = Number(process.env.PIPELINE ?? 16);
const chunks = Math.round(640_000 / pipeline);
const subscribers = Number(process.env.SUBSCRIBERS ?? 0);

async function load(root: string) {
  const url = (path: string) => pathToFileURL(resolve(root, path)).href;
  const { RespServer } = await import(url("src/protocols/resp/server.ts"));
  const { ChannelRegistry } = await import(url("src/core/channels/channel-registry.ts"));
  const { silentLogger } = await import(url("src/logging/logger.ts"));
  return { RespServer, ChannelRegistry, silentLogger };
}

class Sink extends Duplex {
  bytes = 0;
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.bytes += chunk.length;
    callback();
  }
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: () => void): void {
    for (const { chunk } of chunks) this.bytes += chunk.length;
    callback();
  }
  override _read(): void {}
}

const endpoint = {
  remoteAddress: "127.0.0.1",
  remotePort: 1,
  localAddress: "127.0.0.1",
  localPort: 2,
};
const command = `*3\r\n$7\r\nPUBLISH\r\n$13\r\nbench-channel\r\n$100\r\n${"x".repeat(100)}\r\n`;
const chunk = Buffer.from(command.repeat(pipeline));

for (let round = 1; round <= 3; round++) {
  for (const root of roots) {
    const { RespServer, ChannelRegistry, silentLogger } = await load(root);
    const channels = new ChannelRegistry();
    const server = new RespServer({ broker: {}, channels, logger: silentLogger, version: "bench" });
    const publisher = new Sink();
    server.attach(publisher, endpoint);
    const sinks: Sink[] = [];
    for (let i = 0; i < subscribers; i++) {
      const sink = new Sink();
      server.attach(sink, endpoint);
      sink.emit("data", Buffer.from("*2\r\n$9\r\nSUBSCRIBE\r\n$13\r\nbench-channel\r\n"));
      sinks.push(sink);
    }
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 2000; i++) publisher.emit("data", Buffer.from(chunk));
    await new Promise((r) => setImmediate(r));
    const input = Array.from({ length: chunks }, () => Buffer.from(chunk));
    const before = process.cpuUsage();
    const start = performance.now();
    for (let i = 0; i < chunks; i++) {
      publisher.emit("data", input[i]);
      if (i % 64 === 63) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setImmediate(r));
    const cpu = process.cpuUsage(before);
    const commands = chunks * pipeline;
    console.log(
      JSON.stringify({
        root,
        round,
        subscribers,
        ns_per_command: Math.round(((cpu.user + cpu.system) * 1000) / commands),
        wall_ns_per_command: Math.round(((performance.now() - start) * 1e6) / commands),
        reply_bytes: publisher.bytes,
        delivered_bytes: sinks.reduce((sum, sink) => sum + sink.bytes, 0),
      }),
    );
    await server.close();
  }
}
