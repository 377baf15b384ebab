/**
 * SaslHandshake (key 17), v1, and SaslAuthenticate (key 36), v0-2, with the PLAIN mechanism
 * (RFC 4616): `[authzid] NUL authcid NUL passwd`. The core's Authenticator checks the
 * credentials (for now the default user guest/guest, from loopback only).
 *
 * Authentication is offered, not yet required: a session that never authenticates is served
 * as before. The security issue decides enforcement (per listener) and adds SCRAM; the session
 * keeps `principal` for it.
 *
 * SaslHandshake v0 (raw SASL tokens outside Kafka framing) is not offered; clients since Kafka
 * 1.0 use v1 plus SaslAuthenticate. A failed SaslAuthenticate is answered, then the session
 * closes the connection, as Kafka does.
 */
import { Buffer } from "node:buffer";
import { WharfError } from "../../../errors/index.ts";
import { KafkaErrorCode, kafkaErrorOf } from "../errors.ts";
import type { KafkaHandler } from "./handler.ts";

export const saslHandshakeVersions = { minVersion: 1, maxVersion: 1 } as const;
export const saslAuthenticateVersions = { minVersion: 0, maxVersion: 2 } as const;

const plain = "PLAIN";
const emptyBytes = Buffer.alloc(0);

export const handleSaslHandshake: KafkaHandler<17> = (context, request) => {
  const mechanisms = [...context.broker.authenticator.mechanisms];
  if (context.session.principal !== null || context.session.saslMechanism !== null) {
    return { errorCode: KafkaErrorCode.ILLEGAL_SASL_STATE, mechanisms };
  }
  if (!mechanisms.includes(request.body.mechanism)) {
    return { errorCode: KafkaErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
  }
  context.session.saslMechanism = request.body.mechanism;
  return { errorCode: KafkaErrorCode.NONE, mechanisms };
};

/** Splits a PLAIN message into its three parts; null when it is not of that form. */
export function parsePlain(
  message: Buffer,
): { authzid: string; user: string; password: string } | null {
  const first = message.indexOf(0);
  const second = first < 0 ? -1 : message.indexOf(0, first + 1);
  if (first < 0 || second < 0 || message.indexOf(0, second + 1) >= 0) return null;
  return {
    authzid: message.toString("utf8", 0, first),
    user: message.toString("utf8", first + 1, second),
    password: message.toString("utf8", second + 1),
  };
}

export const handleSaslAuthenticate: KafkaHandler<36> = (context, request) => {
  const fail = (errorCode: number, errorMessage: string) => ({
    errorCode,
    errorMessage,
    authBytes: emptyBytes,
    sessionLifetimeMs: 0,
  });
  const { session } = context;
  if (session.saslMechanism !== plain || session.principal !== null) {
    return fail(
      KafkaErrorCode.ILLEGAL_SASL_STATE,
      "SaslAuthenticate must follow a SaslHandshake for PLAIN, once",
    );
  }
  const credentials = parsePlain(request.body.authBytes);
  try {
    if (!credentials || credentials.user === "") {
      throw new WharfError("WHARF_AUTHENTICATION_FAILED", "malformed PLAIN message");
    }
    if (credentials.authzid !== "" && credentials.authzid !== credentials.user) {
      throw new WharfError(
        "WHARF_AUTHENTICATION_FAILED",
        "authorization identity differs from the user",
      );
    }
    const principal = context.broker.authenticator.authenticatePassword(
      credentials.user,
      credentials.password,
      session.remoteAddress,
    );
    session.principal = principal.user;
    context.logger.info(
      { user: principal.user, session: session.id },
      "kafka client authenticated",
    );
    return {
      errorCode: KafkaErrorCode.NONE,
      errorMessage: null,
      authBytes: emptyBytes,
      sessionLifetimeMs: 0,
    };
  } catch (error) {
    const mapped = kafkaErrorOf(error);
    context.logger.warn(
      { user: credentials?.user, remote: session.remoteAddress, reason: mapped.message },
      "kafka authentication failed",
    );
    // The client is told only that authentication failed, never which part was wrong.
    return fail(
      mapped.expected ? mapped.code : KafkaErrorCode.UNKNOWN_SERVER_ERROR,
      "authentication failed",
    );
  }
};
