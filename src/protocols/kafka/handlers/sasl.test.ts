import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePlain } from "./sasl.ts";

test("SASL PLAIN messages (RFC 4616)", () => {
  assert.deepEqual(parsePlain(Buffer.from("\u0000guest\u0000guest")), {
    authzid: "",
    user: "guest",
    password: "guest",
  });
  assert.deepEqual(parsePlain(Buffer.from("admin\u0000bob\u0000p\u00e4ss")), {
    authzid: "admin",
    user: "bob",
    password: "päss",
  });
  assert.equal(parsePlain(Buffer.from("guest guest")), null);
  assert.equal(parsePlain(Buffer.from("\u0000a\u0000b\u0000c")), null);
  assert.equal(parsePlain(Buffer.alloc(0)), null);
});
