import { test } from "node:test";
import assert from "node:assert/strict";
import { clarityPolylines, passRate } from "./clarity.js";

test("missing hands break the line", () => {
  const { lines, maxValue } = clarityPolylines([1, 2, NaN, 4, null, 3], 100, 50);
  assert.equal(maxValue, 4);
  assert.equal(lines.length, 3);
  assert.deepEqual(lines[0], [[0, 37.5], [20, 25]]);
  assert.deepEqual(lines[1], [[60, 0]]);
});

test("values are clamped to the axis", () => {
  const { lines } = clarityPolylines([10, 0], 10, 10, 5);
  assert.deepEqual(lines[0], [[0, 0], [10, 10]]);
});

test("pass rate counts no-hand frames as failing", () => {
  assert.equal(passRate([5, NaN, 1, 6], 4), 0.5);
  assert.equal(passRate([], 4), 0);
});

import { nodePassRate, axisTicks } from "./clarity.js";

test("the pass rate follows the node's own decision when frames without hands are kept", () => {
  // node with keep_frames_without_hands: NaN frame passes
  assert.equal(nodePassRate([5, NaN, 1, 6], 4, [true, true, false, true]), 0.75);
  assert.equal(nodePassRate([5, NaN, 1, 6], 4, undefined), 0.5);
});

test("axis ticks are round numbers covering the plot", () => {
  assert.deepEqual(axisTicks(46), [0, 20, 40]);
  assert.deepEqual(axisTicks(9.2), [0, 5]);
  assert.deepEqual(axisTicks(0), [0]);
});
