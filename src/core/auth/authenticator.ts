/**
 * Authentication of protocol sessions: checks a user name and password and answers with a
 * principal, or fails with WHARF_AUTHENTICATION_FAILED. Protocol adapters parse their own
 * mechanism's bytes (Kafka SASL PLAIN, AMQP PLAIN, MQTT CONNECT, RESP AUTH) and call this.
 *
 * Backed by the durable `UserStore` (salted scrypt hashes, per-vhost permissions). The
 * default user `guest`/`guest` is accepted, as RabbitMQ does with its default user, only on
 * connections from a loopback address.
 */
import { isLoopbackAddress, type Principal, type UserStore } from "./user-store.ts";

export { isLoopbackAddress, type Principal };

export class Authenticator {
  constructor(private readonly users: UserStore) {}

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
    return this.users.authenticate(user, password, remoteAddress);
  }
}
