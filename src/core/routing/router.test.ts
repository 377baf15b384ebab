import assert from "node:assert/strict";
import { test } from "node:test";
import { createRouter, Router } from "./router.ts";
import { type Destination, isRoutingError } from "./types.ts";

const queue = (name: string): Destination => ({ kind: "queue", name });
const stream = (name: string): Destination => ({ kind: "stream", name });
const exchange = (name: string): Destination => ({ kind: "exchange", name });

function names(ds: Destination[]): string[] {
  return ds.map((d) => `${d.kind}:${d.name}`).sort();
}

test("predeclared exchanges and the default exchange", () => {
  const queues = new Set(["orders"]);
  const r = createRouter({ queueExists: (n) => queues.has(n) });
  for (const [name, type] of [
    ["amq.direct", "direct"],
    ["amq.fanout", "fanout"],
    ["amq.topic", "topic"],
    ["amq.headers", "headers"],
    ["amq.match", "headers"],
  ]) {
    assert.equal(r.getExchange(name)?.type, type);
    assert.equal(r.getExchange(name)?.durable, true);
  }
  assert.deepEqual(names(r.route("", "orders")), ["queue:orders"]);
  assert.deepEqual(r.route("", "missing"), []);
  assert.throws(
    () => r.bind("", queue("orders"), "orders"),
    (e) => isRoutingError(e, "ACCESS_REFUSED"),
  );
  assert.throws(
    () => r.declareExchange("amq.mine", "direct"),
    (e) => isRoutingError(e, "ACCESS_REFUSED"),
  );
  assert.throws(
    () => r.deleteExchange("amq.topic"),
    (e) => isRoutingError(e, "ACCESS_REFUSED"),
  );
  assert.throws(
    () => r.route("nope", "k"),
    (e) => isRoutingError(e, "NOT_FOUND") && e.amqpReplyCode === 404,
  );
});

test("direct and fanout; queues and streams as destinations", () => {
  const r = createRouter();
  r.bind("amq.direct", queue("a"), "k1");
  r.bind("amq.direct", stream("s"), "k1");
  r.bind("amq.direct", queue("b"), "k2");
  assert.deepEqual(names(r.route("amq.direct", "k1")), ["queue:a", "stream:s"]);
  assert.deepEqual(names(r.route("amq.direct", "k2")), ["queue:b"]);
  assert.deepEqual(r.route("amq.direct", "k3"), []);
  r.bind("amq.fanout", queue("a"), "ignored");
  r.bind("amq.fanout", queue("b"));
  assert.deepEqual(names(r.route("amq.fanout", "whatever")), ["queue:a", "queue:b"]);
});

test("binding identity, duplicate bind and missing unbind are no-ops", () => {
  const r = createRouter();
  assert.equal(r.bind("amq.direct", queue("a"), "k"), true);
  assert.equal(r.bind("amq.direct", { kind: "queue", name: "a" }, "k"), false);
  assert.equal(r.bind("amq.direct", queue("a"), "k", { x: 1 }), true); // other arguments
  assert.equal(r.bind("amq.direct", queue("a"), "k", { x: "1" }), true); // other type
  assert.equal([...r.bindings("amq.direct")].length, 3);
  // one queue bound three times is delivered once
  assert.deepEqual(names(r.route("amq.direct", "k")), ["queue:a"]);
  assert.equal(r.unbind("amq.direct", queue("a"), "k", { x: 2 }), false);
  assert.equal(r.unbind("amq.direct", queue("zzz"), "k"), false);
  assert.equal(r.unbind("amq.direct", queue("a"), "k"), true);
  assert.equal(r.unbind("amq.direct", queue("a"), "k"), false);
  assert.equal(r.unbind("amq.direct", queue("a"), "k", { x: 1 }), true);
  assert.deepEqual(names(r.route("amq.direct", "k")), ["queue:a"]);
  assert.equal(r.unbind("amq.direct", queue("a"), "k", { x: "1" }), true);
  assert.deepEqual(r.route("amq.direct", "k"), []);
  assert.throws(
    () => r.bind("nope", queue("a")),
    (e) => isRoutingError(e, "NOT_FOUND"),
  );
  assert.throws(
    () => r.bind("amq.direct", exchange("nope")),
    (e) => isRoutingError(e, "NOT_FOUND"),
  );
});

test("exchange-to-exchange: each destination once, cycles terminate", () => {
  const r = createRouter();
  r.declareExchange("x1", "fanout");
  r.declareExchange("x2", "topic");
  r.declareExchange("x3", "direct");
  r.bind("x1", exchange("x2"));
  r.bind("x1", exchange("x3"), "k");
  r.bind("x2", exchange("x1"), "#"); // cycle x1 → x2 → x1
  r.bind("x3", exchange("x3"), "k"); // self loop
  r.bind("x3", exchange("x1"), "k"); // cycle x1 → x3 → x1
  r.bind("x1", queue("q"));
  r.bind("x2", queue("q"), "k"); // q reached twice
  r.bind("x3", queue("q"), "k"); // and thrice
  r.bind("x2", stream("s"), "*");
  r.bind("x3", queue("only-x3"), "k");
  assert.deepEqual(names(r.route("x1", "k")), ["queue:only-x3", "queue:q", "stream:s"]);
  assert.deepEqual(names(r.route("x2", "k")), ["queue:only-x3", "queue:q", "stream:s"]);
  assert.deepEqual(names(r.route("x2", "a.b")), ["queue:q"]);
  // routing state is reset between publishes
  assert.deepEqual(names(r.route("x1", "k")), ["queue:only-x3", "queue:q", "stream:s"]);
});

test("internal exchanges cannot be published to but route when bound", () => {
  const r = createRouter();
  r.declareExchange("inner", "fanout", { internal: true });
  r.bind("inner", queue("q"));
  r.bind("amq.fanout", exchange("inner"));
  assert.throws(
    () => r.route("inner", ""),
    (e) => isRoutingError(e, "ACCESS_REFUSED") && e.amqpReplyCode === 403,
  );
  assert.deepEqual(names(r.route("amq.fanout", "")), ["queue:q"]);
});

test("alternate exchanges: chains, AE of the AE, cycles, missing AE", () => {
  const r = createRouter();
  r.declareExchange("main", "direct", { alternateExchange: "ae1" });
  r.declareExchange("ae1", "direct", { alternateExchange: "ae2", internal: true });
  r.declareExchange("ae2", "fanout", { alternateExchange: "main" }); // AE cycle
  r.bind("main", queue("main-q"), "good");
  r.bind("ae1", queue("ae1-q"), "second");
  // ae2 has no bindings yet: main → ae1 → ae2 → (main already seen): nothing, terminates
  assert.deepEqual(r.route("main", "other"), []);
  r.bind("ae2", queue("unrouted"));
  assert.deepEqual(names(r.route("main", "good")), ["queue:main-q"]);
  assert.deepEqual(names(r.route("main", "second")), ["queue:ae1-q"]);
  assert.deepEqual(names(r.route("main", "other")), ["queue:unrouted"]);
  // the alternate-exchange argument works too, and is part of declare equivalence
  r.declareExchange("viaArg", "topic", { arguments: { "alternate-exchange": "ae2" } });
  assert.deepEqual(names(r.route("viaArg", "x")), ["queue:unrouted"]);
  assert.throws(
    () => r.declareExchange("viaArg", "topic"),
    (e) => isRoutingError(e, "PRECONDITION_FAILED"),
  );
  // a missing AE is ignored
  r.declareExchange("lonely", "direct", { alternateExchange: "does-not-exist" });
  assert.deepEqual(r.route("lonely", "k"), []);
});

test("alternate exchange is used only when the exchange's own bindings select nothing", () => {
  const r = createRouter();
  r.declareExchange("front", "direct", { alternateExchange: "ae" });
  r.declareExchange("ae", "fanout");
  r.declareExchange("empty", "fanout"); // bound, but routes nowhere and has no AE
  r.bind("ae", queue("ae-q"));
  r.bind("front", exchange("empty"), "k");
  // front's binding selected exchange "empty": not unroutable for front, so no AE
  assert.deepEqual(r.route("front", "k"), []);
  assert.deepEqual(names(r.route("front", "other")), ["queue:ae-q"]);
  // the AE of a downstream exchange applies to it
  r.declareExchange("down", "direct", { alternateExchange: "ae" });
  r.bind("amq.fanout", exchange("down"));
  assert.deepEqual(names(r.route("amq.fanout", "x")), ["queue:ae-q"]);
});

test("headers exchange through the router", () => {
  const r = createRouter();
  r.bind("amq.headers", queue("pdf"), "", { "x-match": "all", format: "pdf", type: "report" });
  r.bind("amq.headers", queue("any"), "", { "x-match": "any", format: "zip", type: "log" });
  assert.deepEqual(names(r.route("amq.headers", "", { format: "pdf", type: "report" })), [
    "queue:pdf",
  ]);
  assert.deepEqual(names(r.route("amq.headers", "", { format: "zip" })), ["queue:any"]);
  assert.deepEqual(r.route("amq.headers", "", undefined), []);
  assert.throws(
    () => r.bind("amq.match", queue("q"), "", { "x-match": "bad" }),
    (e) => isRoutingError(e, "PRECONDITION_FAILED"),
  );
  assert.equal([...r.bindings("amq.match")].length, 0);
});

test("declare, delete and cascades", () => {
  const r = new Router();
  assert.equal(r.hasExchange("amq.direct"), false); // bare router: only the default exchange
  r.declareExchange("t", "topic", { durable: true });
  assert.equal(r.declareExchange("t", "topic", { durable: true }).type, "topic");
  assert.throws(
    () => r.declareExchange("t", "direct", { durable: true }),
    (e) => isRoutingError(e, "PRECONDITION_FAILED"),
  );
  assert.throws(
    () => r.declareExchange("t", "topic"),
    (e) => isRoutingError(e, "PRECONDITION_FAILED"),
  );
  assert.throws(
    () => r.declareExchange("u", "x-custom"),
    (e) => isRoutingError(e, "COMMAND_INVALID"),
  );
  r.declareExchange("f", "fanout");
  r.bind("f", exchange("t"));
  r.bind("t", queue("q"), "a.*");
  assert.deepEqual(names(r.route("f", "a.b")), ["queue:q"]);
  assert.throws(
    () => r.deleteExchange("t", { ifUnused: true }),
    (e) => isRoutingError(e, "PRECONDITION_FAILED"),
  );
  r.removeDestination(queue("q"));
  assert.deepEqual(r.route("f", "a.b"), []);
  assert.equal(r.deleteExchange("t", { ifUnused: true }), true);
  assert.equal([...r.bindings("f")].length, 0); // binding f → t went with t
  assert.equal(r.deleteExchange("t"), false);
});

test("auto-delete exchange goes with its last binding", () => {
  const r = createRouter();
  r.declareExchange("tmp", "direct", { autoDelete: true });
  r.bind("tmp", queue("a"), "k");
  r.bind("tmp", queue("b"), "k");
  r.unbind("tmp", queue("a"), "k");
  assert.equal(r.hasExchange("tmp"), true);
  r.removeDestination(queue("b"));
  assert.equal(r.hasExchange("tmp"), false);
});

test("routeInto appends to a caller-owned array", () => {
  const r = createRouter();
  r.bind("amq.topic", queue("a"), "#");
  const out: Destination[] = [queue("pre")];
  assert.equal(r.routeInto("amq.topic", "x.y", undefined, out), 1);
  assert.deepEqual(names(out), ["queue:a", "queue:pre"]);
  // results are interned: the same object each time
  assert.equal(r.route("amq.topic", "z")[0], r.route("amq.topic", "w")[0]);
});
