/**
 * Password hashing for the user store: scrypt (RFC 7914) with a random 16-byte salt per
 * password, compared in constant time. The parameters are stored with each hash so that they
 * can be raised later without invalidating stored passwords.
 *
 * The adapters authenticate synchronously (Kafka SASL, RESP AUTH, AMQP PLAIN call
 * `Authenticator.authenticatePassword` inline), so verification uses `scryptSync`. Its cost
 * (~16 MiB, tens of milliseconds) would make every connection pay it; after one successful
 * scrypt check the store keeps, in memory only, a SHA-256 of (salt, password) for that user,
 * and later logins with the same password compare against it. A changed password drops it.
 */
import { createHash, randomBytes, scryptSync, timingSafeEqual } from "node:crypto";
import {
  passwordHashKeyBytes,
  passwordHashSaltBytes,
  passwordScryptCost,
} from "../../config/limits.ts";

export interface PasswordHash {
  readonly algorithm: "scrypt";
  /** CPU/memory cost N (a power of two), block size r, parallelization p. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
  /** base64 */
  readonly salt: string;
  /** base64 */
  readonly hash: string;
}

function scryptMemoryBytes(N: number, r: number): number {
  // scrypt needs 128 * N * r bytes; Node refuses above `maxmem` (32 MiB by default).
  return 128 * N * r * 2;
}

export function hashPassword(password: string, N = passwordScryptCost): PasswordHash {
  const salt = randomBytes(passwordHashSaltBytes);
  const r = 8;
  const p = 1;
  const hash = scryptSync(password, salt, passwordHashKeyBytes, {
    N,
    r,
    p,
    maxmem: scryptMemoryBytes(N, r),
  });
  return {
    algorithm: "scrypt",
    N,
    r,
    p,
    salt: salt.toString("base64"),
    hash: hash.toString("base64"),
  };
}

/** True when `password` hashes to `stored`; constant time in the comparison. */
export function verifyPassword(password: string, stored: PasswordHash): boolean {
  const expected = Buffer.from(stored.hash, "base64");
  const given = scryptSync(password, Buffer.from(stored.salt, "base64"), expected.length, {
    N: stored.N,
    r: stored.r,
    p: stored.p,
    maxmem: scryptMemoryBytes(stored.N, stored.r),
  });
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The in-memory fast-path digest of a password verified once (never written to disk). */
export function quickDigest(salt: string, password: string): Buffer {
  return createHash("sha256").update(salt).update("\u0000").update(password, "utf8").digest();
}

export function isPasswordHash(raw: unknown): raw is PasswordHash {
  const h = raw as PasswordHash;
  return (
    typeof h === "object" &&
    h !== null &&
    h.algorithm === "scrypt" &&
    Number.isInteger(h.N) &&
    Number.isInteger(h.r) &&
    Number.isInteger(h.p) &&
    typeof h.salt === "string" &&
    typeof h.hash === "string"
  );
}
