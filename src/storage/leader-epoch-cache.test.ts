import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LeaderEpochCache } from "./leader-epoch-cache.ts";

const entries = (cache: LeaderEpochCache) => cache.list().map((e) => [e.epoch, e.startOffset]);

describe("LeaderEpochCache", () => {
  test("assign appends new epochs and ignores repeats", () => {
    const cache = new LeaderEpochCache();
    assert.equal(cache.latestEpoch, -1);
    assert.equal(cache.assign(1, 0), true);
    assert.equal(cache.assign(1, 5), false, "same epoch, later offset: nothing new");
    assert.equal(cache.assign(3, 10), true);
    assert.deepEqual(entries(cache), [
      [1, 0],
      [3, 10],
    ]);
    assert.equal(cache.latestEpoch, 3);
  });

  test("assign removes entries it contradicts (Kafka's non-monotonic truncation)", () => {
    const cache = new LeaderEpochCache();
    cache.assign(1, 0);
    cache.assign(2, 10);
    cache.assign(3, 20);
    cache.assign(4, 15); // starts before epoch 3 did: epoch 3 goes
    assert.deepEqual(entries(cache), [
      [1, 0],
      [2, 10],
      [4, 15],
    ]);
  });

  test("endOffsetFor follows Kafka's OffsetsForLeaderEpoch", () => {
    const cache = new LeaderEpochCache();
    assert.deepEqual(cache.endOffsetFor(0, 100), { epoch: -1, endOffset: -1 });
    cache.assign(2, 0);
    cache.assign(4, 30);
    cache.assign(7, 50);
    assert.deepEqual(cache.endOffsetFor(7, 100), { epoch: 7, endOffset: 100 });
    assert.deepEqual(cache.endOffsetFor(9, 100), { epoch: 7, endOffset: 100 });
    assert.deepEqual(cache.endOffsetFor(4, 100), { epoch: 4, endOffset: 50 });
    assert.deepEqual(cache.endOffsetFor(5, 100), { epoch: 4, endOffset: 50 });
    assert.deepEqual(cache.endOffsetFor(2, 100), { epoch: 2, endOffset: 30 });
    assert.deepEqual(cache.endOffsetFor(1, 100), { epoch: -1, endOffset: -1 });
  });

  test("truncation from either end", () => {
    const cache = new LeaderEpochCache();
    cache.assign(1, 0);
    cache.assign(2, 10);
    cache.assign(3, 20);
    assert.equal(cache.truncateFromStart(12), true);
    assert.deepEqual(entries(cache), [
      [2, 12],
      [3, 20],
    ]);
    assert.equal(cache.truncateFromStart(12), false);
    assert.equal(cache.truncateFromStart(5), false);
    assert.equal(cache.truncateFromEnd(20), true);
    assert.deepEqual(entries(cache), [[2, 12]]);
  });

  test("the checkpoint text round-trips; bad text is refused", () => {
    const cache = new LeaderEpochCache();
    cache.assign(1, 0);
    cache.assign(5, 42);
    assert.equal(cache.format(), "0\n2\n1 0\n5 42\n");
    assert.deepEqual(entries(LeaderEpochCache.parse(cache.format())!), entries(cache));
    assert.equal(LeaderEpochCache.parse("0\n2\n1 0\n"), null, "count mismatch");
    assert.equal(LeaderEpochCache.parse("1\n0\n"), null, "unknown version");
    assert.equal(LeaderEpochCache.parse("0\n2\n5 0\n1 3\n"), null, "epochs not increasing");
    assert.equal(LeaderEpochCache.parse("0\n1\nx y\n"), null);
  });
});
