/**
 * Authentication of protocol sessions: checks a user name and password and answers with a
 * principal, or fails with WHARF_AUTHENTICATION_FAILED. Protocol adapters parse their own
 * mechanism's bytes (Kafka SASL PLAIN, AMQP PLAIN, MQTT CONNECT, RESP AUTH) and call this.
 *
 * Until the security issue adds a user store, the one user is the built-in default
 * `guest`/`guest`, and, as RabbitMQ does with its default user, it is accepted only on
 * connections from a loopback address. The `UserDirectory` interface is the seam: a real
 * store (hashed passwords, per-vhost permissions, SCRAM credentials) replaces
 * `defaultUserDirectory` without changing the adapters.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { WharfError } from "../../errors/index.ts";

export interface Principal {
  readonly user: string;
}

export interface UserRecord {
  readonly name: string;
  /** SHA-256 of the password; compared in constant time. */
  readonly passwordSha256: Buffer;
  /** Accepted only from a loopback address (the default user). */
  readonly loopbackOnly: boolean;
}

export interface UserDirectory {
  find(name: string): UserRecord | undefined;
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** The built-in default user, as RabbitMQ ships `guest`/`guest`, loopback only. */
export const defaultUserDirectory: UserDirectory = {
  find(name) {
    return name === "guest"
      ? { name, passwordSha256: sha256("guest"), loopbackOnly: true }
      : undefined;
  },
};

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.x.y.z). */
export function isLoopbackAddress(address: string): boolean {
  const bare = address.startsWith("::ffff:") ? address.slice(7) : address;
  return bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

export class Authenticator {
  constructor(private readonly users: UserDirectory = defaultUserDirectory) {}

  /** SASL mechanisms that adapters may offer. */
  get mechanisms(): readonly string[] {
    return ["PLAIN"];
  }

  /**
   * Checks a user name and password presented on a connection from `remoteAddress`. The
   * error says only "authentication failed" to the client; the reason is in the detail for the
   * broker's log, never which of name or password was wrong.
   */
  authenticatePassword(user: string, password: string, remoteAddress: string): Principal {
    const record = this.users.find(user);
    const given = sha256(password);
    const expected = record?.passwordSha256 ?? sha256(`\u0000${password}`);
    const matches = timingSafeEqual(given, expected) && record !== undefined;
    if (!matches)
      throw new WharfError("WHARF_AUTHENTICATION_FAILED", "invalid user name or password");
    if (record.loopbackOnly && !isLoopbackAddress(remoteAddress)) {
      throw new WharfError(
        "WHARF_AUTHENTICATION_FAILED",
        `user '${user}' may connect only from a loopback address`,
      );
    }
    return { user: record.name };
  }
}
