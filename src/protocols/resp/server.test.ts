/**
 * RespServer over loopback: a connection past `connectionsMax` gets Redis's error and is
 * closed by the server (accepted sockets start paused, so the refusal must not wait for the
 * peer to close), and close() ends every connection.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import type { Broker } from "../../core/broker.ts";
import { ChannelRegistry } from "../../core/channels/channel-registry.ts";
import { silentLogger } from "../../logging/logger.ts";
import { RespServer } from "./server.ts";

function received(socket: Socket): { text: () => string; closed: Promise<void> } {
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { text: () => text, closed };
}

test("a connection past the limit gets Redis's error and is closed; close() ends the rest", async () => {
  const server = new RespServer({
    broker: {} as Broker,
    channels: new ChannelRegistry(),
    logger: silentLogger,
    version: "test",
    connectionsMax: 1,
  });
  await new Promise<void>((resolve) => server.netServer.listen(0, "127.0.0.1", resolve));
  const port = (server.netServer.address() as { port: number }).port;
  const first = connect(port, "127.0.0.1");
  const firstSide = received(first);
  first.write("PING\r\n");
  const deadline = Date.now() + 3000;
  while (!firstSide.text().includes("+PONG")) {
    if (Date.now() > deadline) throw new Error("no PONG");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const second = connect(port, "127.0.0.1");
  const secondSide = received(second);
  // The server closes it: this side never ends the connection.
  await secondSide.closed;
  assert.equal(secondSide.text(), "-ERR max number of clients reached\r\n");
  assert.equal(server.stats.connectionsRefused, 1);
  await server.close();
  await firstSide.closed;
  first.destroy();
  second.destroy();
});
