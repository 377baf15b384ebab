/**
 * AMQP error replies: each misuse gets the reply code RabbitMQ gives it, on the channel
 * (channel.close: 403, 404, 405, 406) or on the connection (connection.close: 403 at login,
 * 530 for a vhost), and a channel error leaves the connection and its other channels
 * working. amqplib hides the reply code of a connection.close during the handshake, so the
 * login and vhost cases use a minimal raw AMQP handshake written here. Expectations were
 * checked against RabbitMQ 3.10 (see test/helpers/amqp-target.ts).
 */
import assert from "node:assert/strict";
import { connect as tcpConnect } from "node:net";
import { test } from "node:test";
import type { Channel } from "amqplib";
import {
  AmqpSession,
  type AmqpTarget,
  channelClosed,
  rejectsWithCode,
  uniqueName,
  useAmqpSuite,
} from "../helpers/amqp-target.ts";

let target: AmqpTarget;
let session: AmqpSession;

useAmqpSuite((started, opened) => {
  target = started;
  session = opened;
});

function frame(channel: number, classId: number, methodId: number, args: Buffer): Buffer {
  const payload = Buffer.concat([
    Buffer.from([classId >> 8, classId & 255, methodId >> 8, methodId & 255]),
    args,
  ]);
  const header = Buffer.alloc(7);
  header.writeUInt8(1, 0); // method frame
  header.writeUInt16BE(channel, 1);
  header.writeUInt32BE(payload.length, 3);
  return Buffer.concat([header, payload, Buffer.from([0xce])]);
}

function shortString(text: string): Buffer {
  const bytes = Buffer.from(text);
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

function longString(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function table(entries: Buffer[]): Buffer {
  return longString(Buffer.concat(entries));
}

const clientProperties = table([
  shortString("capabilities"),
  Buffer.from("F"),
  table([shortString("authentication_failure_close"), Buffer.from("t"), Buffer.from([1])]),
]);

/**
 * Runs the AMQP 0-9-1 connection handshake by hand (spec section 2.2.4) and returns how it
 * ended: "open-ok", or the reply code and text of the server's connection.close.
 */
function rawHandshake(
  url: string,
  user: string,
  password: string,
  vhost: string,
): Promise<{ outcome: "open-ok" } | { outcome: "close"; code: number; text: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host: hostname, port: Number(port) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("handshake timed out"));
    }, 5000);
    const finish = (value: Parameters<typeof resolve>[0]) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    let buffered = Buffer.alloc(0);
    socket.on("error", reject);
    socket.on("connect", () => socket.write(Buffer.from("AMQP\x00\x00\x09\x01", "latin1")));
    socket.on("data", (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      while (buffered.length >= 7) {
        const size = buffered.readUInt32BE(3);
        if (buffered.length < size + 8) return;
        const payload = buffered.subarray(7, 7 + size);
        buffered = buffered.subarray(size + 8);
        if (buffered.length === 0) buffered = Buffer.alloc(0);
        const classId = payload.readUInt16BE(0);
        const methodId = payload.readUInt16BE(2);
        if (classId !== 10) continue;
        if (methodId === 10) {
          // connection.start -> start-ok with PLAIN
          const args = Buffer.concat([
            // client-properties: {capabilities: {authentication_failure_close: true}}, without
            // which a broker may just drop the socket on a failed login (RabbitMQ does).
            clientProperties,
            shortString("PLAIN"),
            longString(Buffer.from(`\u0000${user}\u0000${password}`)),
            shortString("en_US"),
          ]);
          socket.write(frame(0, 10, 11, args));
        } else if (methodId === 30) {
          // connection.tune -> tune-ok with the server's values, then open
          socket.write(frame(0, 10, 31, payload.subarray(4, 12)));
          socket.write(
            frame(
              0,
              10,
              40,
              Buffer.concat([shortString(vhost), shortString(""), Buffer.from([0])]),
            ),
          );
        } else if (methodId === 41) {
          finish({ outcome: "open-ok" });
        } else if (methodId === 50) {
          const code = payload.readUInt16BE(4);
          const text = payload.subarray(7, 7 + payload.readUInt8(6)).toString();
          finish({ outcome: "close", code, text });
        }
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      reject(new Error("connection closed without connection.close"));
    });
  });
}

test("raw handshake with the right credentials opens the default vhost", async () => {
  const { username, password } = new URL(target.url);
  assert.deepEqual(await rawHandshake(target.url, username, password, "/"), { outcome: "open-ok" });
});

test("a wrong password is refused with 403 ACCESS_REFUSED", async () => {
  const { username } = new URL(target.url);
  const result = await rawHandshake(target.url, username, "not-the-password", "/");
  assert.equal(result.outcome, "close");
  assert.equal(result.outcome === "close" && result.code, 403);
  await assert.rejects(
    AmqpSession.open(target.url.replace(/:[^:@/]*@/, ":not-the-password@")),
    /403/,
  );
  const unknownUser = await rawHandshake(target.url, uniqueName("nobody"), "x", "/");
  assert.equal(unknownUser.outcome === "close" && unknownUser.code, 403);
});

test("opening a vhost that does not exist (or is not allowed) is 530 NOT_ALLOWED", async () => {
  const { username, password } = new URL(target.url);
  const result = await rawHandshake(target.url, username, password, uniqueName("no-vhost"));
  assert.equal(result.outcome, "close");
  assert.equal(result.outcome === "close" && result.code, 530);
});

/** A fresh channel (an error closes the channel it happens on). */
const fresh = (): Promise<Channel> => session.channel();

test("404: publish to, bind to or declare passively an exchange that does not exist", async () => {
  const missing = uniqueName("missing-ex");
  const publisher = await fresh();
  const closed = channelClosed(publisher);
  publisher.publish(missing, "k", Buffer.from("x"));
  assert.equal((await closed).code, 404);
  await rejectsWithCode((await fresh()).checkExchange(missing), 404);
  const queue = uniqueName("q404");
  const owner = await fresh();
  await owner.assertQueue(queue, { exclusive: true });
  await rejectsWithCode((await fresh()).bindQueue(queue, missing, "k"), 404);
  await rejectsWithCode((await fresh()).bindQueue(uniqueName("no-queue"), "amq.direct", "k"), 404);
  await rejectsWithCode(
    (await fresh()).consume(uniqueName("no-queue"), () => {}),
    404,
  );
  await rejectsWithCode((await fresh()).get(uniqueName("no-queue")), 404);
  await owner.deleteQueue(queue);
});

test("406: redeclaring a queue or exchange with different properties", async () => {
  const queue = uniqueName("inequivalent");
  const owner = await fresh();
  await owner.assertQueue(queue, { durable: false, arguments: { "x-message-ttl": 1000 } });
  await rejectsWithCode((await fresh()).assertQueue(queue, { durable: true }), 406);
  await rejectsWithCode(
    (await fresh()).assertQueue(queue, { durable: false, arguments: { "x-message-ttl": 2000 } }),
    406,
  );
  // Same properties: fine.
  await (await fresh()).assertQueue(queue, {
    durable: false,
    arguments: { "x-message-ttl": 1000 },
  });
  await owner.deleteQueue(queue);

  const exchange = uniqueName("inequivalent-ex");
  await owner.assertExchange(exchange, "direct", { durable: false });
  await rejectsWithCode((await fresh()).assertExchange(exchange, "topic", { durable: false }), 406);
  await rejectsWithCode((await fresh()).assertExchange(exchange, "direct", { durable: true }), 406);
  await owner.deleteExchange(exchange);
});

test("406: acking a delivery tag the channel never issued", async () => {
  const channel = await fresh();
  const closed = channelClosed(channel);
  channel.ack({ fields: { deliveryTag: 999 } } as Parameters<Channel["ack"]>[0]);
  assert.equal((await closed).code, 406);
});

test("403: names starting with amq. are reserved", async () => {
  await rejectsWithCode((await fresh()).assertExchange(`amq.${uniqueName("x")}`, "direct"), 403);
  await rejectsWithCode((await fresh()).assertQueue(`amq.${uniqueName("q")}`), 403);
  await rejectsWithCode((await fresh()).deleteExchange("amq.direct"), 403);
});

test("405: another connection's exclusive queue is locked", async () => {
  const owner = await AmqpSession.open(target.url);
  const queue = uniqueName("locked");
  await (await owner.channel()).assertQueue(queue, { exclusive: true });
  await rejectsWithCode((await fresh()).assertQueue(queue, { exclusive: true }), 405);
  await owner.close();
});

test("a channel error closes only that channel", async () => {
  const survivor = await fresh();
  const victim = await fresh();
  await rejectsWithCode(victim.checkQueue(uniqueName("nope")), 404);
  await survivor.checkExchange("amq.direct");
  const queue = uniqueName("survivor");
  await survivor.assertQueue(queue, { exclusive: true });
  await survivor.deleteQueue(queue);
  await survivor.close();
});
