import assert from "node:assert/strict";
import { test } from "node:test";
import { isWharfError } from "../../errors/index.ts";
import { Authenticator, isLoopbackAddress } from "./authenticator.ts";

test("loopback addresses", () => {
  for (const address of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
    assert.ok(isLoopbackAddress(address), address);
  for (const address of ["10.0.0.1", "::ffff:10.0.0.1", "128.0.0.1", "::2", "localhost", ""])
    assert.ok(!isLoopbackAddress(address), address);
});

test("the default user guest/guest is accepted from loopback only", () => {
  const authenticator = new Authenticator();
  assert.deepEqual(authenticator.authenticatePassword("guest", "guest", "127.0.0.1"), {
    user: "guest",
  });
  assert.deepEqual(authenticator.authenticatePassword("guest", "guest", "::1"), { user: "guest" });
  const refused = (user: string, password: string, address: string) =>
    assert.throws(
      () => authenticator.authenticatePassword(user, password, address),
      (error) => isWharfError(error, "WHARF_AUTHENTICATION_FAILED"),
    );
  refused("guest", "guest", "192.168.1.5");
  refused("guest", "wrong", "127.0.0.1");
  refused("admin", "guest", "127.0.0.1");
  refused("guest", "", "127.0.0.1");
});

test("a user directory is the seam for real users", () => {
  const authenticator = new Authenticator({
    find: (name) =>
      name === "app"
        ? { name, passwordSha256: Buffer.from("0".repeat(64), "hex"), loopbackOnly: false }
        : undefined,
  });
  assert.throws(() => authenticator.authenticatePassword("app", "x", "10.0.0.1"));
  assert.deepEqual(authenticator.mechanisms, ["PLAIN"]);
});
