import { test } from "node:test";
import assert from "node:assert/strict";
import { lossPolyline } from "./training.js";

test("loss on a log axis over the whole run", () => {
  const { points, low, high } = lossPolyline([[0, 1], [50, 0.1], [100, 0.01]], 200, 100, 40);
  assert.deepEqual(points.map((p) => p[0]), [0, 25, 50]); // x spans all planned steps, not only those done
  assert.deepEqual(points.map((p) => Math.round(p[1])), [0, 20, 40]); // equal ratios, equal heights
  assert.ok(Math.abs(low - 0.01) < 1e-9 && Math.abs(high - 1) < 1e-9);
});

test("NaN and non-positive losses are skipped; a flat loss is centred", () => {
  assert.deepEqual(lossPolyline([[1, NaN], [2, 0]], 10, 100, 40).points, []);
  const flat = lossPolyline([[1, 0.5], [2, 0.5]], 10, 100, 40);
  assert.deepEqual(flat.points.map((p) => p[1]), [20, 20]);
});
