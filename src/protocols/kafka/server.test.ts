/**
 * KafkaServer on a real loopback socket, in process: the connection limit and the idle
 * timeout, and that a refused or idle connection does not disturb the others.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { InProcessKafka } from "../../../test/helpers/in-process-kafka.ts";
import { KafkaWireClient } from "../../../test/helpers/kafka-wire-client.ts";

const apiVersionsBody = { clientSoftwareName: "test", clientSoftwareVersion: "1" };

test("connections beyond the limit are closed at accept; idle ones after the idle time", async (t) => {
  const kafka = await InProcessKafka.start({ server: { connectionsMax: 2, idleMsMax: 300 } });
  t.after(() => kafka.stop());
  const listener = kafka.server.netServer;
  listener.listen({ host: "127.0.0.1", port: 0 });
  await once(listener, "listening");
  const { port } = listener.address() as AddressInfo;

  const first = await KafkaWireClient.connect(port);
  const second = await KafkaWireClient.connect(port);
  assert.equal((await first.request(18, 3, apiVersionsBody)).body.errorCode, 0);
  assert.equal((await second.request(18, 3, apiVersionsBody)).body.errorCode, 0);
  const third = await KafkaWireClient.connect(port);
  assert.equal(await third.waitClosed(2000), true, "the third connection is refused");
  assert.equal(kafka.server.stats.connectionsRefused, 1);
  assert.equal(
    (await first.request(18, 3, apiVersionsBody)).body.errorCode,
    0,
    "the others are served",
  );

  // Both go idle and are closed; then there is room again.
  assert.equal(await first.waitClosed(3000), true, "idle connection closed");
  assert.equal(await second.waitClosed(3000), true);
  const fourth = await KafkaWireClient.connect(port);
  assert.equal((await fourth.request(18, 3, apiVersionsBody)).body.errorCode, 0);
  fourth.close();
  third.close();
});
