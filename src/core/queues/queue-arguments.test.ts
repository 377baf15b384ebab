/** queue.declare argument validation, worded as RabbitMQ 3.x (rabbit_amqqueue:declare_args). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type FieldTable, isRoutingError } from "../routing/types.ts";
import { laneFor, parseQueueArguments } from "./queue-arguments.ts";

function refused(args: FieldTable, message: string): void {
  assert.throws(
    () => parseQueueArguments("q", "/", args),
    (error: unknown) => {
      assert.ok(isRoutingError(error, "PRECONDITION_FAILED"), String(error));
      assert.equal(error.amqpReplyCode, 406);
      assert.equal(error.message, message);
      return true;
    },
  );
}

test("defaults: drop-head, no limits, no single active consumer", () => {
  assert.deepEqual(parseQueueArguments("q", "/", {}), {
    overflow: "drop-head",
    singleActiveConsumer: false,
  });
});

test("every known argument is parsed", () => {
  const settings = parseQueueArguments("q", "/", {
    "x-message-ttl": 1000,
    "x-expires": 60_000n,
    "x-max-length": 10,
    "x-max-length-bytes": 4096,
    "x-overflow": "reject-publish-dlx",
    "x-dead-letter-exchange": "dlx",
    "x-dead-letter-routing-key": "dead",
    "x-max-priority": 10,
    "x-single-active-consumer": true,
    "x-delivery-limit": 3,
    "x-something-else": "ignored",
  });
  assert.deepEqual(settings, {
    messageTtlMs: 1000,
    expiresMs: 60_000,
    maxLength: 10,
    maxLengthBytes: 4096,
    overflow: "reject-publish-dlx",
    deadLetterExchange: "dlx",
    deadLetterRoutingKey: "dead",
    maxPriority: 10,
    singleActiveConsumer: true,
    deliveryLimit: 3,
  });
});

test("negative, zero, oversized and mistyped values are refused with RabbitMQ's terms", () => {
  const prefix = "invalid arg '";
  const where = "' for queue 'q' in vhost '/': ";
  refused({ "x-max-length": -1 }, `${prefix}x-max-length${where}{value_negative,-1}`);
  refused({ "x-max-length-bytes": -5 }, `${prefix}x-max-length-bytes${where}{value_negative,-5}`);
  refused(
    { "x-message-ttl": "1000" },
    `${prefix}x-message-ttl${where}"expected integer, got longstr"`,
  );
  refused({ "x-message-ttl": -1 }, `${prefix}x-message-ttl${where}{value_negative,-1}`);
  refused(
    { "x-message-ttl": 4_294_967_296 },
    `${prefix}x-message-ttl${where}{value_too_large,4294967296}`,
  );
  refused({ "x-expires": 0 }, `${prefix}x-expires${where}{value_zero,0}`);
  refused({ "x-expires": 1.5 }, `${prefix}x-expires${where}"expected integer, got double"`);
  refused({ "x-max-priority": 256 }, `${prefix}x-max-priority${where}{max_value_exceeded,256}`);
  refused({ "x-overflow": "drop-tail" }, `${prefix}x-overflow${where}invalid_overflow`);
  refused({ "x-overflow": 1 }, `${prefix}x-overflow${where}{unacceptable_type,long}`);
  refused(
    { "x-dead-letter-exchange": 5 },
    `${prefix}x-dead-letter-exchange${where}{unacceptable_type,long}`,
  );
  refused(
    { "x-dead-letter-routing-key": "k" },
    `${prefix}x-dead-letter-routing-key${where}routing_key_but_no_dlx_defined`,
  );
  refused(
    { "x-single-active-consumer": "true" },
    `${prefix}x-single-active-consumer${where}{unacceptable_type,longstr}`,
  );
  refused({ "x-delivery-limit": -2 }, `${prefix}x-delivery-limit${where}{value_negative,-2}`);
});

test("the first failing argument in RabbitMQ's order is reported", () => {
  refused(
    { "x-max-length": -1, "x-expires": 0 },
    "invalid arg 'x-expires' for queue 'q' in vhost '/': {value_zero,0}",
  );
});

test("x-max-priority 0 means one lane; priorities are clamped to the maximum", () => {
  assert.equal(parseQueueArguments("q", "/", { "x-max-priority": 0 }).maxPriority, undefined);
  const settings = parseQueueArguments("q", "/", { "x-max-priority": 5 });
  assert.equal(laneFor(settings, 0), 0);
  assert.equal(laneFor(settings, 3), 3);
  assert.equal(laneFor(settings, 9), 5);
  assert.equal(laneFor(settings, -1), 0);
  assert.equal(laneFor(parseQueueArguments("q", "/", {}), 9), 0);
});
