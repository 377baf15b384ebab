import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isWharfError } from "../../errors/index.ts";
import { silentLogger } from "../../logging/logger.ts";
import { isRoutingError } from "../routing/types.ts";
import { Authenticator, isLoopbackAddress } from "./authenticator.ts";
import { hashPassword, verifyPassword } from "./password-hash.ts";
import { UserStore } from "./user-store.ts";

/** A low scrypt cost keeps the tests fast; the stored parameters make it a real scrypt hash. */
const scryptCost = 1024;

async function withStore(run: (store: UserStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "wharf-users-"));
  try {
    const store = await UserStore.open(dir, { logger: silentLogger, scryptCost });
    await run(store, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const refusedAuth = (error: unknown) => isWharfError(error, "WHARF_AUTHENTICATION_FAILED");

test("loopback addresses", () => {
  for (const address of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
    assert.ok(isLoopbackAddress(address), address);
  for (const address of ["10.0.0.1", "::ffff:10.0.0.1", "128.0.0.1", "::2", "localhost", ""])
    assert.ok(!isLoopbackAddress(address), address);
});

test("scrypt hashes: salted, verified, never the password", () => {
  const a = hashPassword("secret", scryptCost);
  const b = hashPassword("secret", scryptCost);
  assert.notEqual(a.salt, b.salt);
  assert.notEqual(a.hash, b.hash, "same password, different salt, different hash");
  assert.ok(verifyPassword("secret", a));
  assert.ok(!verifyPassword("Secret", a));
  assert.ok(!verifyPassword("", a));
  assert.ok(!JSON.stringify(a).includes("secret"));
});

test("the default user guest/guest is created on first start and accepted from loopback only", async () => {
  await withStore(async (store, dir) => {
    const authenticator = new Authenticator(store);
    assert.deepEqual(authenticator.authenticatePassword("guest", "guest", "127.0.0.1"), {
      user: "guest",
    });
    // Twice: the second check takes the in-memory fast path and must agree.
    assert.deepEqual(authenticator.authenticatePassword("guest", "guest", "::1"), {
      user: "guest",
    });
    const refused = (user: string, password: string, address: string) =>
      assert.throws(() => authenticator.authenticatePassword(user, password, address), refusedAuth);
    refused("guest", "guest", "192.168.1.5");
    refused("guest", "wrong", "127.0.0.1");
    refused("admin", "guest", "127.0.0.1");
    refused("guest", "", "127.0.0.1");
    assert.deepEqual(authenticator.mechanisms, ["PLAIN"]);
    assert.deepEqual(store.get("guest")?.tags, ["administrator"]);
    assert.ok(store.canAccessVhost("guest", "/"));
    const file = await readFile(join(dir, "users.json"), "utf8");
    assert.ok(!file.includes('"guest"\n') && file.includes('"algorithm": "scrypt"'));
  });
});

test("users: add, authenticate, change password, tags, delete; durable across reopen", async () => {
  await withStore(async (store, dir) => {
    await store.add("app", "pw1", { tags: ["monitoring"] });
    await assert.rejects(store.add("app", "x"), (e) => isWharfError(e, "WHARF_DEFINITION_INVALID"));
    assert.deepEqual(store.authenticate("app", "pw1", "10.0.0.1"), { user: "app" });
    await store.changePassword("app", "pw2");
    assert.throws(() => store.authenticate("app", "pw1", "10.0.0.1"), refusedAuth);
    assert.deepEqual(store.authenticate("app", "pw2", "10.0.0.1"), { user: "app" });
    await store.setTags("app", ["administrator", "management"]);
    await store.setPermissions("app", "/", { configure: "^app\\.", write: ".*", read: "" });
    await store.delete("guest");

    const reopened = await UserStore.open(dir, { logger: silentLogger, scryptCost });
    assert.deepEqual(
      reopened.list().map((u) => u.name),
      ["app"],
      "guest stays deleted: it is created on the first start only",
    );
    assert.deepEqual(reopened.get("app")?.tags, ["administrator", "management"]);
    assert.deepEqual(reopened.authenticate("app", "pw2", "10.0.0.1"), { user: "app" });
    assert.throws(() => reopened.authenticate("app", "pw1", "10.0.0.1"), refusedAuth);
    assert.deepEqual(reopened.permissions("app", "/"), {
      configure: "^app\\.",
      write: ".*",
      read: "",
    });
    await reopened.delete("app");
    assert.throws(() => reopened.authenticate("app", "pw2", "10.0.0.1"), refusedAuth);
    assert.equal(reopened.permissions("app", "/"), undefined);
  });
});

test("permissions: RabbitMQ's regular expressions per (user, vhost)", async () => {
  await withStore(async (store) => {
    await store.add("u", "p");
    assert.ok(!store.canAccessVhost("u", "/"), "no permissions entry: no access");
    assert.ok(!store.allows("u", "/", "read", "queue", "q"));
    await store.setPermissions("u", "/", {
      configure: "^u-",
      write: "^(amq\\.default|logs)$",
      read: "",
    });
    assert.ok(store.canAccessVhost("u", "/"));
    assert.ok(!store.canAccessVhost("u", "other"));
    const cases: [Parameters<UserStore["allows"]>[2], "queue" | "exchange", string, boolean][] = [
      ["configure", "queue", "u-work", true],
      ["configure", "queue", "work", false],
      ["configure", "exchange", "u-x", true],
      // an unanchored expression is a search, as RabbitMQ's re:run
      ["configure", "queue", "x-u-", false],
      ["write", "exchange", "", true], // the default exchange is checked as amq.default
      ["write", "exchange", "logs", true],
      ["write", "exchange", "logs2", false],
      ["read", "queue", "anything", false], // "" matches nothing
    ];
    for (const [kind, resource, name, expected] of cases)
      assert.equal(
        store.allows("u", "/", kind, resource, name),
        expected,
        `${kind} ${resource} '${name}'`,
      );
    assert.throws(
      () => store.check("u", "/", "read", "queue", "q1"),
      (error) =>
        isRoutingError(error, "ACCESS_REFUSED") &&
        error.amqpReplyCode === 403 &&
        error.message === "access to queue 'q1' in vhost '/' refused for user 'u'",
    );
    store.check("u", "/", "write", "exchange", ""); // allowed: does not throw
    await store.setPermissions("u", "/", { configure: ".*", write: "app", read: ".*" });
    assert.ok(store.allows("u", "/", "write", "exchange", "myapp1"), "search, not full match");
    assert.ok(
      store.allows("u", "/", "read", "queue", "anything"),
      "changed permissions apply at once",
    );
    await assert.rejects(
      store.setPermissions("u", "/", { configure: "(", write: "", read: "" }),
      (e) => isWharfError(e, "WHARF_DEFINITION_INVALID"),
    );
    await store.forgetVhost("/");
    assert.ok(!store.canAccessVhost("u", "/"));
  });
});
