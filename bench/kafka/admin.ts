/**
 * Topic administration for the benchmark, through kafkajs's admin client, the same calls
 * against WharfMQ and Apache Kafka: create a topic (with topic configs such as
 * `flush.messages=1`), delete it, and wait until a broker answers admin requests.
 */
import { type Admin, Kafka, logLevel } from "kafkajs";

export class BenchAdmin {
  private constructor(private readonly admin: Admin) {}

  static async connect(port: number): Promise<BenchAdmin> {
    const kafka = new Kafka({
      clientId: "wharf-bench-admin",
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 3 },
    });
    const admin = kafka.admin();
    await admin.connect();
    return new BenchAdmin(admin);
  }

  /**
   * Connects once the broker serves admin requests: a probe topic can be created and deleted.
   * `alive` is polled between attempts so a broker that died is reported at once.
   */
  static async waitReady(
    port: number,
    timeoutMs: number,
    alive: () => boolean,
  ): Promise<BenchAdmin> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (!alive()) throw new Error("the broker exited before it was ready");
      let admin: BenchAdmin | undefined;
      try {
        admin = await BenchAdmin.connect(port);
        await admin.createTopic("wharf-bench-probe", 1, {});
        await admin.deleteTopic("wharf-bench-probe");
        return admin;
      } catch (error) {
        lastError = error;
        await admin?.close();
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    throw new Error(
      `broker on port ${port} not ready within ${timeoutMs} ms: ${String(lastError)}`,
    );
  }

  async createTopic(
    name: string,
    partitions: number,
    configs: Record<string, string>,
  ): Promise<void> {
    const created = await this.admin.createTopics({
      waitForLeaders: true,
      timeout: 30_000,
      topics: [
        {
          topic: name,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: Object.entries(configs).map(([key, value]) => ({ name: key, value })),
        },
      ],
    });
    if (!created) throw new Error(`topic ${name} already exists`);
  }

  async deleteTopic(name: string): Promise<void> {
    await this.admin.deleteTopics({ topics: [name], timeout: 30_000 });
  }

  async close(): Promise<void> {
    await this.admin.disconnect().catch(() => undefined);
  }
}
