/**
 * readDirect on real loopback sockets: every byte in order across reads and regions, chunks
 * never overwritten by later reads, pause/resume, end of stream; and the cases it declines.
 */
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { waitFor } from "../../test/helpers/wait-for.ts";
import { directReadRegionBytes, directReadRegionInitialBytes } from "../config/limits.ts";
import { readDirect, startReading } from "./direct-reads.ts";

/** Runs `body` with both ends of a loopback connection, then closes them and the server. */
async function withAcceptedPair(
  pauseOnConnect: boolean,
  body: (pair: { client: Socket; accepted: Socket }) => Promise<void>,
): Promise<void> {
  const server = createServer({ pauseOnConnect });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const acceptedPromise = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const client = connect(port, "127.0.0.1");
  const accepted = await acceptedPromise;
  try {
    await body({ client, accepted });
  } finally {
    client.destroy();
    accepted.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

test("readDirect: every byte in order, chunks kept intact, pause and resume, end", async () => {
  await withAcceptedPair(true, async ({ client, accepted }) => {
    const chunks: Buffer[] = [];
    const copies: Buffer[] = [];
    assert.equal(
      readDirect(accepted, (chunk) => {
        chunks.push(chunk);
        copies.push(Buffer.from(chunk));
      }),
      true,
    );
    const closed = new Promise<void>((resolve) => accepted.once("close", () => resolve()));
    accepted.on("end", () => accepted.end());
    // More than a few regions' worth, in writes of varied sizes.
    const sent: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const piece = Buffer.alloc(1 + ((i * 7919) % (directReadRegionBytes + 3000)), i);
      sent.push(piece);
      client.write(piece);
      if (i % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const total = sent.reduce((sum, piece) => sum + piece.length, 0);
    const received = () => chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    await waitFor(() => received() === total);
    assert.ok(chunks.length > 1);
    // Regions start small (an idle connection holds little) and grow while reads fill them.
    assert.ok(chunks.every((chunk) => chunk.length <= directReadRegionBytes));
    assert.ok(chunks.some((chunk) => chunk.length > directReadRegionInitialBytes));
    assert.deepEqual(Buffer.concat(chunks), Buffer.concat(sent));
    // Later reads never wrote over earlier chunks.
    assert.deepEqual(chunks, copies);

    accepted.pause();
    client.write("while paused");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(received(), total);
    accepted.resume();
    await waitFor(() => received() === total + "while paused".length);
    assert.equal(Buffer.concat(chunks).subarray(total).toString(), "while paused");

    client.end();
    await closed;
  });
});

test("readDirect declines a socket already reading and a stream that is not a socket", async () => {
  await withAcceptedPair(false, async ({ client, accepted }) => {
    assert.equal(
      readDirect(accepted, () => {}),
      false,
    );
    // Untouched: it still reads through 'data' events.
    const received = new Promise<string>((resolve) =>
      accepted.once("data", (chunk: Buffer) => resolve(chunk.toString())),
    );
    client.write("hello");
    assert.equal(await received, "hello");
    assert.equal(
      readDirect(new PassThrough() as unknown as Socket, () => {}),
      false,
    );
  });
});

test("startReading: direct with a larger region for a socket, 'data' events for other streams", async () => {
  await withAcceptedPair(true, async ({ client, accepted }) => {
    const chunks: Buffer[] = [];
    const regionBytesMax = 4 * directReadRegionBytes;
    startReading(accepted, (chunk) => chunks.push(chunk), regionBytesMax);
    assert.equal(accepted.listenerCount("data"), 0); // read directly
    const sent = Buffer.alloc(1 << 20, 7);
    client.write(sent);
    const received = () => chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    await waitFor(() => received() === sent.length, "1 MiB");
    assert.deepEqual(Buffer.concat(chunks), sent);
    assert.ok(chunks.every((chunk) => chunk.length <= regionBytesMax));
    assert.ok(chunks.some((chunk) => chunk.length > directReadRegionBytes));
  });
  const stream = new PassThrough();
  const texts: string[] = [];
  startReading(stream, (chunk) => texts.push(chunk.toString()));
  stream.write("through data events");
  await waitFor(() => texts.length === 1, "the chunk");
  assert.deepEqual(texts, ["through data events"]);
});
