/** The ack floor and the settled offsets above it (ack holes, purged ranges). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LaneCursor } from "./lane-cursor.ts";

test("in-order settles move the floor; out-of-order ones wait above it", () => {
  const cursor = new LaneCursor(10);
  assert.equal(cursor.settle(10), true);
  assert.equal(cursor.floor, 11);
  assert.equal(cursor.settle(13), false);
  assert.equal(cursor.settle(12), false);
  assert.deepEqual([...cursor.settled].sort(), [12, 13]);
  assert.equal(cursor.isSettled(11), false);
  assert.equal(cursor.isSettled(12), true);
  assert.equal(cursor.settle(11), true);
  assert.equal(cursor.floor, 14, "the holes above closed");
  assert.equal(cursor.settled.size, 0);
  assert.equal(cursor.settle(5), false, "below the floor: already settled");
});

test("ranges merge, count, and carry the floor over them", () => {
  const cursor = new LaneCursor(0);
  cursor.settleRange(20, 30);
  cursor.settleRange(5, 10);
  cursor.settleRange(9, 12);
  cursor.settle(40);
  assert.deepEqual(cursor.ranges, [5, 12, 20, 30]);
  assert.equal(cursor.settledBelow(100), 7 + 10 + 1);
  assert.equal(cursor.isSettled(25), true);
  assert.equal(cursor.isSettled(15), false);
  for (let offset = 0; offset < 5; offset++) cursor.settle(offset);
  assert.equal(cursor.floor, 12);
  for (let offset = 12; offset < 20; offset++) cursor.settle(offset);
  assert.equal(cursor.floor, 30);
  assert.deepEqual(cursor.ranges, []);
  assert.deepEqual([...cursor.settled], [40]);
});

test("raising the floor drops what lies below it", () => {
  const cursor = new LaneCursor(0);
  cursor.settle(3);
  cursor.settle(8);
  cursor.settleRange(10, 20);
  cursor.raiseFloor(5);
  assert.deepEqual([...cursor.settled], [8]);
  cursor.raiseFloor(8);
  assert.equal(cursor.floor, 9);
  cursor.raiseFloor(10);
  assert.equal(cursor.floor, 20, "a range starting at the floor is passed at once");
  cursor.reset(100, [99, 101, 105], [102, 104]);
  assert.equal(cursor.floor, 100);
  assert.deepEqual([...cursor.settled].sort(), [101, 105]);
  assert.deepEqual(cursor.ranges, [102, 104]);
});
