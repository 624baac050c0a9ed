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
