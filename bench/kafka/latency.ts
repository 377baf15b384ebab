/**
 * Latency at a fixed rate: produce `rate` records/s to a fresh one-partition topic and consume
 * them at once, through the benchmark's wire client (the same client against each broker).
 *
 * - Schedule: record k is due at start + k / rate. About every millisecond the producer sends
 *   every record that has come due as one batch (one Produce v9 request; requests pipeline,
 *   no waiting for acks). Each record carries its due time (µs, float64) in its first 8 bytes.
 * - Produce latency of a record: from its due time to the arrival of the Produce response
 *   that acknowledges it. Measuring from the due time, not from the moment of sending, keeps a
 *   stalled producer from hiding the stall (coordinated omission).
 * - End-to-end latency: from the due time to the moment a Fetch response carrying the record
 *   is read by the consumer (one Fetch v12 long poll in flight, min bytes 1, max wait 500 ms).
 * - Records due during the warm-up are not counted. After the window the producer stops and
 *   the consumer reads up to the last acknowledged offset (bounded wait).
 */
import { performance } from "node:perf_hooks";
import { decodeRecords, encodeBatch } from "../../src/storage/record-batch.ts";
import { latencyHistogram, round, summarize } from "../harness.ts";
import { fetchVersion, type Phase, produceVersion } from "./load-generator.ts";
import { WireConnection } from "./wire-client.ts";

export interface LatencyJob {
  tool: "latency";
  port: number;
  topic: string;
  acks: number;
  recordBytes: number;
  /** Records per second. */
  rate: number;
  warmupSeconds: number;
  seconds: number;
  /** Most records in one request (a backlog after a stall is sent in batches of this). */
  batchRecordsMax: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function latencyRun(job: LatencyJob, phase: (phase: Phase) => void) {
  const producer = await WireConnection.connect("127.0.0.1", job.port);
  const consumer = await WireConnection.connect("127.0.0.1", job.port);
  const produceLatency = latencyHistogram();
  const endToEndLatency = latencyHistogram();
  const origin = performance.now();
  const nowMicros = () => (performance.now() - origin) * 1000;
  const intervalMicros = 1e6 / job.rate;
  const measureFromMicros = job.warmupSeconds * 1e6;
  const stopAtMicros = measureFromMicros + job.seconds * 1e6;
  let scheduled = 0;
  let acknowledged = 0;
  let consumed = 0;
  let ackedEndOffset = 0;
  let produceErrors = 0;
  let firstError: string | null = null;
  let failure: unknown;
  let producing = true;
  let measureStarted = false;
  const pendingRequests = new Set<Promise<void>>();
  const value = Buffer.alloc(job.recordBytes, 0x61);

  const sendDue = () => {
    const now = nowMicros();
    if (!measureStarted && now >= measureFromMicros) {
      measureStarted = true;
      phase("measure-start");
    }
    const dueCount = Math.min(
      Math.floor(now / intervalMicros) + 1,
      Math.ceil(stopAtMicros / intervalMicros),
    );
    while (scheduled < dueCount) {
      const count = Math.min(dueCount - scheduled, job.batchRecordsMax);
      const first = scheduled;
      const records = Array.from({ length: count }, (_, index) => {
        const record = Buffer.from(value);
        record.writeDoubleBE((first + index) * intervalMicros, 0);
        return { value: record };
      });
      scheduled += count;
      const request = producer
        .request(0, produceVersion, {
          transactionalId: null,
          acks: job.acks,
          timeoutMs: 30_000,
          topicData: [
            { name: job.topic, partitionData: [{ index: 0, records: encodeBatch(records) }] },
          ],
        })
        .then((response) => {
          const ackMicros = nowMicros();
          const partition = response.responses[0]?.partitionResponses[0];
          if (partition?.errorCode !== 0) {
            produceErrors++;
            firstError ??= `error code ${partition?.errorCode} ${partition?.errorMessage ?? ""}`;
            return;
          }
          acknowledged += count;
          ackedEndOffset = Math.max(ackedEndOffset, partition.baseOffset + count);
          for (let index = 0; index < count; index++) {
            const due = (first + index) * intervalMicros;
            if (due >= measureFromMicros)
              produceLatency.recordValue(Math.max(1, Math.round(ackMicros - due)));
          }
        });
      pendingRequests.add(request);
      request.then(
        () => pendingRequests.delete(request),
        (error: unknown) => {
          failure ??= error;
          pendingRequests.delete(request);
        },
      );
    }
    if (now >= stopAtMicros) producing = false;
  };

  let fetchOffset = 0;
  let consuming = true;
  const consume = async () => {
    while (consuming) {
      const response = await consumer.request(1, fetchVersion, {
        replicaId: -1,
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: 16 * 1024 * 1024,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic: job.topic,
            partitions: [
              {
                partition: 0,
                currentLeaderEpoch: -1,
                fetchOffset,
                lastFetchedEpoch: -1,
                logStartOffset: -1,
                partitionMaxBytes: 4 * 1024 * 1024,
              },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: "",
      });
      const readMicros = nowMicros();
      const data = response.responses[0]?.partitions[0];
      if (data?.errorCode !== 0) throw new Error(`Fetch: error ${data?.errorCode}`);
      const buffer = data.records;
      if (buffer === null) continue;
      let pos = 0;
      while (pos + 61 <= buffer.length) {
        const size = buffer.readInt32BE(pos + 8) + 12;
        if (pos + size > buffer.length) break;
        for (const record of decodeRecords(buffer, pos)) {
          if (record.offset < fetchOffset || record.value === null) continue;
          const due = record.value.readDoubleBE(0);
          if (due >= measureFromMicros && due < stopAtMicros) {
            endToEndLatency.recordValue(Math.max(1, Math.round(readMicros - due)));
          }
          consumed++;
          fetchOffset = record.offset + 1;
        }
        pos += size;
      }
    }
  };
  const consumerDone = consume().catch((error: unknown) => {
    if (consuming) failure ??= error;
  });

  while (producing && failure === undefined) {
    sendDue();
    await sleep(1);
  }
  phase("measure-end");
  const drainUntil = Date.now() + 10_000;
  while (pendingRequests.size > 0 && Date.now() < drainUntil) await sleep(5);
  while (fetchOffset < ackedEndOffset && Date.now() < drainUntil && failure === undefined) {
    await sleep(5);
  }
  consuming = false;
  producer.close();
  consumer.close();
  await consumerDone;
  if (failure !== undefined) throw failure;
  if (produceErrors > 0) throw new Error(`${produceErrors} produce requests failed: ${firstError}`);
  return {
    records_scheduled: scheduled,
    records_acknowledged: acknowledged,
    records_consumed: consumed,
    rate_achieved_per_s: round(acknowledged / (job.warmupSeconds + job.seconds), 1),
    produce_latency: summarize(produceLatency),
    end_to_end_latency: summarize(endToEndLatency),
  };
}
