import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultLogConfig } from "../../storage/log-config.ts";
import { isRoutingError, type RoutingErrorCode } from "../routing/types.ts";
import {
  eventually,
  jsonPropertiesCodec,
  message,
  noArgs,
  openVhostKit,
  recorder,
  session,
  type VhostKit,
} from "./vhost-test-kit.ts";
import type { VirtualHost } from "./virtual-host.ts";

async function withKit(run: (kit: VhostKit, vhost: VirtualHost) => Promise<void>): Promise<void> {
  const kit = await openVhostKit();
  try {
    await run(kit, kit.vhosts.get("/")!);
  } finally {
    await kit.dispose();
  }
}

function fails(code: RoutingErrorCode, text?: string | RegExp) {
  return (error: unknown) => {
    assert.ok(isRoutingError(error, code), `expected ${code}, got ${String(error)}`);
    if (typeof text === "string") assert.equal(error.message, text);
    else if (text !== undefined) assert.match(error.message, text);
    return true;
  };
}

const guest = session();

test("queue.declare: created, redeclared, inequivalent 406 with RabbitMQ's words, passive 404", async () => {
  await withKit(async (_kit, vhost) => {
    const ok = await vhost.declareQueue(guest, "q", {
      durable: false,
      arguments: { "x-message-ttl": 1000 },
    });
    assert.deepEqual(ok, { queue: "q", messageCount: 0, consumerCount: 0 });
    await vhost.declareQueue(guest, "q", { durable: false, arguments: { "x-message-ttl": 1000 } });
    await assert.rejects(
      vhost.declareQueue(guest, "q", { durable: true, arguments: { "x-message-ttl": 1000 } }),
      fails(
        "PRECONDITION_FAILED",
        "inequivalent arg 'durable' for queue 'q' in vhost '/': received 'true' but current is 'false'",
      ),
    );
    await assert.rejects(
      vhost.declareQueue(guest, "q", { arguments: { "x-message-ttl": 2000 } }),
      fails(
        "PRECONDITION_FAILED",
        "inequivalent arg 'x-message-ttl' for queue 'q' in vhost '/': received the value '2000' of type 'long' but current is the value '1000' of type 'long'",
      ),
    );
    await assert.rejects(
      vhost.declareQueue(guest, "q", {}),
      fails("PRECONDITION_FAILED", /received none but current is the value '1000'/),
    );
    await assert.rejects(
      vhost.declareQueue(guest, "missing", { passive: true }),
      fails("NOT_FOUND", "no queue 'missing' in vhost '/'"),
    );
    assert.equal((await vhost.declareQueue(guest, "q", { passive: true })).queue, "q");
    await assert.rejects(
      vhost.declareQueue(guest, "amq.mine", {}),
      fails("ACCESS_REFUSED", "queue name 'amq.mine' contains reserved prefix 'amq.*'"),
    );
    await assert.rejects(
      vhost.declareQueue(guest, "bad-arg", { arguments: { "x-max-length": -1 } }),
      fails("PRECONDITION_FAILED", /invalid arg 'x-max-length'/),
    );
    const named = await vhost.declareQueue(guest, "", { exclusive: true });
    assert.match(named.queue, /^amq\.gen-[A-Za-z0-9_-]{22}$/);
    assert.ok(vhost.hasQueue(named.queue));
    // queue.delete: if-empty / if-unused, missing queue is fine
    vhost.publish(guest, message("", "q", "one"), {});
    await eventually(
      () => vhost.listQueues().find((q) => q.name === "q")?.messagesReady === 1,
      "ready",
    );
    await assert.rejects(
      vhost.deleteQueue(guest, "q", { ifEmpty: true }),
      fails("PRECONDITION_FAILED", "queue 'q' in vhost '/' is not empty"),
    );
    const registration = vhost.consume(guest, "q", recorder(), {});
    await assert.rejects(
      vhost.deleteQueue(guest, "q", { ifUnused: true }),
      fails("PRECONDITION_FAILED", "queue 'q' in vhost '/' in use"),
    );
    registration.cancel();
    assert.equal(await vhost.deleteQueue(guest, "never-there", {}), 0);
  });
});

test("exchange.declare: equivalence, reserved names, passive, delete if-unused, auto-delete", async () => {
  await withKit(async (_kit, vhost) => {
    await vhost.declareExchange(guest, "x", "direct", { durable: false });
    await vhost.declareExchange(guest, "x", "direct", { durable: false });
    await assert.rejects(
      vhost.declareExchange(guest, "x", "topic", { durable: false }),
      fails(
        "PRECONDITION_FAILED",
        "inequivalent arg 'type' for exchange 'x' in vhost '/': received 'topic' but current is 'direct'",
      ),
    );
    await assert.rejects(
      vhost.declareExchange(guest, "x", "direct", { durable: true }),
      fails("PRECONDITION_FAILED", /inequivalent arg 'durable'/),
    );
    await assert.rejects(vhost.declareExchange(guest, "x", "nope", {}), fails("COMMAND_INVALID"));
    await assert.rejects(
      vhost.declareExchange(guest, "amq.custom", "direct", {}),
      fails("ACCESS_REFUSED", "exchange name 'amq.custom' contains reserved prefix 'amq.*'"),
    );
    // Redeclaring a predeclared exchange with its own properties is fine (clients do it).
    await vhost.declareExchange(guest, "amq.topic", "topic", { durable: true });
    await assert.rejects(
      vhost.declareExchange(guest, "nope", "direct", { passive: true }),
      fails("NOT_FOUND", "no exchange 'nope' in vhost '/'"),
    );
    await assert.rejects(vhost.deleteExchange(guest, "amq.direct", {}), fails("ACCESS_REFUSED"));
    await vhost.declareQueue(guest, "q", {});
    await vhost.bindQueue(guest, "q", "x", "k", noArgs);
    await assert.rejects(
      vhost.deleteExchange(guest, "x", { ifUnused: true }),
      fails("PRECONDITION_FAILED", "exchange 'x' in vhost '/' in use"),
    );
    await vhost.deleteExchange(guest, "x", {});
    await vhost.deleteExchange(guest, "x", {}); // missing: fine

    await vhost.declareExchange(guest, "ad", "fanout", { autoDelete: true });
    await vhost.bindQueue(guest, "q", "ad", "", noArgs);
    await vhost.unbindQueue(guest, "q", "ad", "", noArgs);
    await assert.rejects(
      vhost.declareExchange(guest, "ad", "fanout", { passive: true }),
      fails("NOT_FOUND"),
      "an auto-delete exchange goes with its last binding",
    );
    await assert.rejects(
      vhost.bindQueue(guest, "q", "nope", "k", noArgs),
      fails("NOT_FOUND", "no exchange 'nope' in vhost '/'"),
    );
    await assert.rejects(
      vhost.bindQueue(guest, "nope", "amq.direct", "k", noArgs),
      fails("NOT_FOUND", "no queue 'nope' in vhost '/'"),
    );
    await assert.rejects(vhost.bindQueue(guest, "q", "", "k", noArgs), fails("ACCESS_REFUSED"));
  });
});

test("exclusive queues: 405 for other connections, deleted when their connection closes", async () => {
  await withKit(async (_kit, vhost) => {
    const owner = session();
    const other = session();
    await vhost.declareQueue(owner, "mine", { exclusive: true });
    const locked = fails(
      "RESOURCE_LOCKED",
      /^cannot obtain exclusive access to locked queue 'mine' in vhost '\/'/,
    );
    await assert.rejects(vhost.declareQueue(other, "mine", { exclusive: true }), locked);
    await assert.rejects(vhost.declareQueue(other, "mine", { passive: true }), locked);
    assert.throws(() => vhost.consume(other, "mine", recorder(), {}), locked);
    await assert.rejects(vhost.get(other, "mine", true), locked);
    await assert.rejects(vhost.purgeQueue(other, "mine"), locked);
    await assert.rejects(vhost.deleteQueue(other, "mine", {}), locked);
    await assert.rejects(vhost.bindQueue(other, "mine", "amq.direct", "k", noArgs), locked);
    // The owner redeclaring without exclusive is also refused (strict check).
    await assert.rejects(vhost.declareQueue(owner, "mine", {}), locked);
    await vhost.declareQueue(owner, "mine", { exclusive: true });
    // Publishing to it is allowed from anywhere.
    assert.equal(vhost.publish(other, message("", "mine", "hi"), {}).routed, true);
    // An exclusive consumer keeps others out with 403.
    const first = vhost.consume(owner, "mine", recorder(), { exclusive: true });
    assert.throws(() => vhost.consume(owner, "mine", recorder(), {}), fails("ACCESS_REFUSED"));
    first.cancel();
    vhost.connectionClosed(owner.connectionId);
    await vhost.settled();
    assert.equal(vhost.hasQueue("mine"), false);
  });
});

test("auto-delete: the queue goes when its last consumer is cancelled", async () => {
  await withKit(async (_kit, vhost) => {
    await vhost.declareQueue(guest, "ad", { autoDelete: true });
    const a = vhost.consume(guest, "ad", recorder(), {});
    const b = vhost.consume(guest, "ad", recorder(), {});
    a.cancel();
    await vhost.settled();
    assert.ok(vhost.hasQueue("ad"), "one consumer left");
    b.cancel();
    await eventually(() => !vhost.hasQueue("ad"), "auto-delete");
  });
});

test("x-expires: an unused queue is deleted; a consumer or a get keeps it", async () => {
  await withKit(async (_kit, vhost) => {
    await vhost.declareQueue(guest, "short", { arguments: { "x-expires": 150 } });
    await vhost.declareQueue(guest, "held", { arguments: { "x-expires": 150 } });
    const held = vhost.consume(guest, "held", recorder(), {});
    await vhost.declareQueue(guest, "polled", { arguments: { "x-expires": 300 } });
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      await vhost.get(guest, "polled", true);
    }
    assert.equal(vhost.hasQueue("short"), false, "unused for 400 ms with x-expires 150");
    assert.ok(vhost.hasQueue("held"), "a queue with a consumer does not expire");
    assert.ok(vhost.hasQueue("polled"), "basic.get is a use");
    held.cancel();
    await eventually(() => !vhost.hasQueue("held"), "expiry after the consumer left", 2000);
  });
});

test("definitions survive a restart: durable exchanges, queues, bindings and messages; transient ones do not", async () => {
  const kit = await openVhostKit();
  try {
    let vhost = kit.vhosts.get("/")!;
    await vhost.declareExchange(guest, "events", "topic", { durable: true });
    await vhost.declareExchange(guest, "scratch", "fanout", { durable: false });
    await vhost.declareQueue(guest, "keep", {
      durable: true,
      arguments: { "x-max-length": 10, "x-big": 1n << 40n, "x-bytes": new Uint8Array([1, 2]) },
    });
    await vhost.declareQueue(guest, "temp", { durable: false });
    await vhost.bindQueue(guest, "keep", "events", "a.#", noArgs);
    await vhost.bindQueue(guest, "temp", "events", "#", noArgs);
    await vhost.bindQueue(guest, "keep", "amq.fanout", "", noArgs);
    await vhost.bindExchange(guest, "events", "amq.topic", "x.*", noArgs);
    const persistent = message("events", "a.b", "durable one", { deliveryMode: 2 });
    const result = vhost.publish(guest, persistent, {});
    assert.equal(result.routed, true);
    assert.equal(await result.outcome, "ack");
    await kit.reopen();
    vhost = kit.vhosts.get("/")!;
    assert.deepEqual(
      vhost.listQueues().map((q) => [q.name, q.durable, q.messagesReady]),
      [["keep", true, 1]],
    );
    const keep = vhost.listQueues()[0]!;
    assert.equal(keep.arguments["x-big"], 1n << 40n);
    assert.deepEqual(keep.arguments["x-bytes"], new Uint8Array([1, 2]));
    assert.equal(vhost.router.getExchange("events")?.type, "topic");
    assert.equal(vhost.router.hasExchange("scratch"), false);
    const bindings = [...vhost.router.bindings()].map(
      (b) => `${b.source}->${b.destination.name}:${b.routingKey}`,
    );
    assert.deepEqual(bindings.sort(), [
      "amq.fanout->keep:",
      "amq.topic->events:x.*",
      "events->keep:a.#",
    ]);
    // The same queue is routable and its message is there.
    assert.equal(
      vhost.publish(guest, message("amq.topic", "x.y", "via e2e"), {}).routed,
      false,
      "x.y matches no queue binding of events",
    );
    const got = await vhost.get(guest, "keep", true);
    assert.equal(got?.message.body.toString(), "durable one");
    // Redeclare is equivalent after the restart (arguments restored with their types).
    await vhost.declareQueue(guest, "keep", {
      durable: true,
      arguments: { "x-max-length": 10, "x-big": 1n << 40n, "x-bytes": new Uint8Array([1, 2]) },
    });
    // Deleting a durable queue is durable too.
    await vhost.deleteQueue(guest, "keep", {});
    // A log of a queue no definition claims (a crash between the two steps of a delete) and a
    // transient queue's log from the last run: both deleted on open.
    await kit.logStore.openLog("__wharf_q.1.999-p0", defaultLogConfig());
    await kit.logStore.openLog("__wharf_tq.1.7-p0", defaultLogConfig());
    await kit.reopen();
    assert.deepEqual(kit.vhosts.get("/")!.listQueues(), []);
    assert.ok(
      !(await kit.logStore.listLogs()).some(
        (name) => name.startsWith("__wharf_q.") || name.startsWith("__wharf_tq."),
      ),
    );
  } finally {
    await kit.dispose();
  }
});

test("permissions: configure / write / read checked on every operation with RabbitMQ's mapping", async () => {
  await withKit(async (kit, vhost) => {
    await kit.users.add("app", "pw");
    await kit.users.setPermissions("app", "/", {
      configure: "^app\\.",
      write: "^app\\.",
      read: "^app\\.",
    });
    const app = session("app");
    const refused = (resource: string) =>
      fails("ACCESS_REFUSED", `access to ${resource} in vhost '/' refused for user 'app'`);
    await vhost.declareQueue(app, "app.q", {});
    await assert.rejects(vhost.declareQueue(app, "other", {}), refused("queue 'other'"));
    await vhost.declareExchange(app, "app.x", "direct", {});
    await assert.rejects(vhost.declareExchange(app, "x", "direct", {}), refused("exchange 'x'"));
    // queue.bind = write on the queue + read on the exchange
    await vhost.bindQueue(app, "app.q", "app.x", "k", noArgs);
    await assert.rejects(
      vhost.bindQueue(app, "app.q", "amq.direct", "k", noArgs),
      refused("exchange 'amq.direct'"),
    );
    await vhost.declareQueue(guest, "guest.q", {});
    await assert.rejects(
      vhost.bindQueue(app, "guest.q", "app.x", "k", noArgs),
      refused("queue 'guest.q'"),
    );
    // publish = write on the exchange; the default exchange is amq.default
    assert.equal(vhost.publish(app, message("app.x", "k", "m"), {}).routed, true);
    assert.throws(
      () => vhost.publish(app, message("", "app.q", "m"), {}),
      refused("exchange 'amq.default'"),
    );
    // consume / get / purge = read on the queue
    assert.throws(() => vhost.consume(app, "guest.q", recorder(), {}), refused("queue 'guest.q'"));
    await assert.rejects(vhost.get(app, "guest.q", true), refused("queue 'guest.q'"));
    await assert.rejects(vhost.purgeQueue(app, "guest.q"), refused("queue 'guest.q'"));
    assert.equal((await vhost.get(app, "app.q", true))?.message.body.toString(), "m");
    // delete = configure
    await assert.rejects(vhost.deleteQueue(app, "guest.q", {}), refused("queue 'guest.q'"));
    await assert.rejects(
      vhost.deleteExchange(app, "amq.fanout", {}),
      refused("exchange 'amq.fanout'"),
    );
    // exchange.bind = write on the destination + read on the source
    await vhost.declareExchange(guest, "src", "fanout", {});
    await assert.rejects(
      vhost.bindExchange(app, "app.x", "src", "", noArgs),
      refused("exchange 'src'"),
    );
    await kit.users.setPermissions("app", "/", {
      configure: "",
      write: "^app\\.",
      read: "^(app\\.|src$)",
    });
    await vhost.bindExchange(app, "app.x", "src", "", noArgs);
    await assert.rejects(
      vhost.deleteQueue(app, "app.q", {}),
      refused("queue 'app.q'"),
      "changes apply at once",
    );
    assert.ok(!kit.users.canAccessVhost("app", "other"));
    // The publish path memoizes write permission: a change must still apply at once.
    await kit.users.setPermissions("app", "/", { configure: "", write: "", read: "" });
    assert.throws(
      () => vhost.publish(app, message("app.x", "k", "m"), {}),
      refused("exchange 'app.x'"),
    );
  });
});

test("publish outcome: ack at once without persistence, a promise for durable, nack on reject-publish", async () => {
  await withKit(async (_kit, vhost) => {
    assert.deepEqual(
      vhost.publish(guest, message("amq.direct", "nowhere", "x"), { mandatory: true }),
      {
        routed: false,
        outcome: "ack",
      },
    );
    await vhost.declareQueue(guest, "transient", {});
    assert.deepEqual(vhost.publish(guest, message("", "transient", "x"), {}), {
      routed: true,
      outcome: "ack",
    });
    await vhost.declareQueue(guest, "durable", { durable: true });
    const persistent = vhost.publish(guest, message("", "durable", "p", { deliveryMode: 2 }), {});
    assert.ok(persistent.outcome instanceof Promise);
    assert.equal(await persistent.outcome, "ack");
    await vhost.declareQueue(guest, "bounded", {
      durable: true,
      arguments: { "x-max-length": 1, "x-overflow": "reject-publish" },
    });
    await vhost.bindQueue(guest, "bounded", "amq.fanout", "", noArgs);
    await vhost.bindQueue(guest, "durable", "amq.fanout", "", noArgs);
    const first = vhost.publish(guest, message("amq.fanout", "", "1", { deliveryMode: 2 }), {});
    assert.equal(await first.outcome, "ack", "both queues took it");
    await eventually(
      () => vhost.listQueues().find((q) => q.name === "bounded")?.messagesReady === 1,
      "stored",
    );
    const second = vhost.publish(guest, message("amq.fanout", "", "2", { deliveryMode: 2 }), {});
    assert.equal(second.routed, true);
    assert.equal(await second.outcome, "nack", "bounded refused it");
    assert.throws(
      () => vhost.publish(guest, message("nope", "k", "x"), {}),
      fails("NOT_FOUND", "no exchange 'nope' in vhost '/'"),
    );
    await vhost.declareExchange(guest, "inner", "direct", { internal: true });
    assert.throws(
      () => vhost.publish(guest, message("inner", "k", "x"), {}),
      fails("ACCESS_REFUSED"),
    );
    assert.throws(
      () => vhost.publish(guest, message("", "durable", "x", { expiration: "soon" }), {}),
      fails("PRECONDITION_FAILED", "invalid expiration 'soon'"),
    );
  });
});

test("sender-selected distribution: CC and BCC headers add routing keys; BCC is not delivered", async () => {
  await withKit(async (_kit, vhost) => {
    for (const name of ["main", "copy", "hidden"]) {
      await vhost.declareQueue(guest, name, {});
      await vhost.bindQueue(guest, name, "amq.direct", name, noArgs);
    }
    const result = vhost.publish(
      guest,
      message("amq.direct", "main", "fan", { headers: { CC: ["copy", "main"], BCC: ["hidden"] } }),
      {},
    );
    assert.equal(result.routed, true);
    for (const name of ["main", "copy", "hidden"]) {
      await eventually(
        () => vhost.listQueues().find((q) => q.name === name)?.messagesReady === 1,
        name,
      );
      const got = await vhost.get(guest, name, true);
      assert.equal(got?.message.routingKey, "main", "delivered with the original routing key");
      const headers = jsonPropertiesCodec.decode(got!.message.propertiesBytes).headers!;
      assert.deepEqual(headers.CC, ["copy", "main"]);
      assert.equal(headers.BCC, undefined, `BCC removed (${name})`);
    }
  });
});

test("dead-lettering: x-death as RabbitMQ writes it, count increments, expired cycles are dropped", async () => {
  await withKit(async (_kit, vhost) => {
    await vhost.declareExchange(guest, "dlx", "fanout", {});
    await vhost.declareQueue(guest, "dead", {});
    await vhost.bindQueue(guest, "dead", "dlx", "", noArgs);
    await vhost.declareQueue(guest, "work", { arguments: { "x-dead-letter-exchange": "dlx" } });
    vhost.publish(
      guest,
      message("", "work", "payload", {
        expiration: "60000",
        headers: { app: "kept", CC: ["cc-key"] },
      }),
      {},
    );
    const fromWork = await vhost.get(guest, "work", false);
    assert.ok(fromWork);
    const before = Date.now();
    fromWork.message.source.reject(fromWork.message.id, false);
    let dead = null as Awaited<ReturnType<typeof vhost.get>>;
    await eventually(
      () => vhost.listQueues().find((q) => q.name === "dead")?.messagesReady === 1,
      "dead letter",
    );
    dead = await vhost.get(guest, "dead", false);
    assert.ok(dead);
    assert.equal(dead.message.exchange, "dlx");
    assert.equal(dead.message.routingKey, "work");
    const properties = jsonPropertiesCodec.decode(dead.message.propertiesBytes);
    assert.equal(properties.expiration, undefined, "per-message TTL removed");
    const headers = properties.headers!;
    assert.equal(headers.app, "kept");
    const [death] = headers["x-death"] as Record<string, unknown>[];
    assert.deepEqual(
      { ...death, time: undefined },
      {
        count: 1n,
        reason: "rejected",
        queue: "work",
        time: undefined,
        exchange: "",
        "routing-keys": ["work", "cc-key"],
        "original-expiration": "60000",
      },
    );
    assert.ok(death!.time instanceof Date && Math.abs(death!.time.getTime() - before) < 2000);
    assert.equal(headers["x-first-death-queue"], "work");
    assert.equal(headers["x-first-death-reason"], "rejected");
    assert.equal(headers["x-first-death-exchange"], "");
    assert.equal(headers["x-last-death-queue"], "work");

    // A queue dead-lettering rejected messages to itself: count goes up, one entry.
    await vhost.declareQueue(guest, "loop", {
      arguments: { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "loop" },
    });
    vhost.publish(guest, message("", "loop", "again"), {});
    for (let round = 1; round <= 2; round++) {
      await eventually(
        () => vhost.listQueues().find((q) => q.name === "loop")?.messagesReady === 1,
        `round ${round}`,
      );
      const got = await vhost.get(guest, "loop", false);
      got!.message.source.reject(got!.message.id, false);
    }
    await eventually(
      () => vhost.listQueues().find((q) => q.name === "loop")?.messagesReady === 1,
      "third round",
    );
    const last = await vhost.get(guest, "loop", true);
    const deaths = jsonPropertiesCodec.decode(last!.message.propertiesBytes).headers![
      "x-death"
    ] as Record<string, unknown>[];
    assert.equal(deaths.length, 1);
    assert.equal(deaths[0]!.count, 2n);

    // Expiring back into itself with no rejection in the cycle: dropped (RabbitMQ's cycle rule).
    await vhost.declareQueue(guest, "ttl-loop", {
      arguments: {
        "x-message-ttl": 20,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "ttl-loop",
      },
    });
    vhost.publish(guest, message("", "ttl-loop", "cycling"), {});
    await new Promise((resolve) => setTimeout(resolve, 300));
    const info = vhost.listQueues().find((q) => q.name === "ttl-loop")!;
    assert.equal(info.messagesReady + info.messagesUnacknowledged, 0, "expired once, then dropped");
  });
});

test("vhost registry: add, list, delete (with its queues and permissions), durable, '/' stays", async () => {
  const kit = await openVhostKit();
  try {
    const staging = await kit.vhosts.add("staging", { description: "tests" });
    await kit.users.setPermissions("guest", "staging", {
      configure: ".*",
      write: ".*",
      read: ".*",
    });
    await staging.declareQueue(guest, "q", { durable: true });
    staging.publish(guest, message("", "q", "m", { deliveryMode: 2 }), {});
    await kit.reopen();
    assert.deepEqual(
      kit.vhosts
        .list()
        .map((v) => v.name)
        .sort(),
      ["/", "staging"],
    );
    assert.deepEqual(
      kit.vhosts
        .get("staging")!
        .listQueues()
        .map((q) => q.name),
      ["q"],
    );
    assert.ok((await kit.logStore.listLogs()).some((name) => name.startsWith("__wharf_q.2.")));
    await kit.vhosts.delete("staging");
    assert.equal(kit.vhosts.get("staging"), undefined);
    assert.ok(!kit.users.canAccessVhost("guest", "staging"));
    assert.ok(!(await kit.logStore.listLogs()).some((name) => name.startsWith("__wharf_q.2.")));
    await assert.rejects(kit.vhosts.delete("/"));
    await kit.reopen();
    assert.deepEqual(
      kit.vhosts.list().map((v) => v.name),
      ["/"],
    );
    // A new vhost never reuses the deleted one's id (its logs were its own).
    assert.equal((await kit.vhosts.add("staging")).id, 3);
  } finally {
    await kit.dispose();
  }
});
