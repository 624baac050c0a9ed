import { test } from "node:test";
import assert from "node:assert/strict";
import { fusionWindows, fusionWeights, efficientFrameCounts, windowRows } from "./fusion.js";

test("official windows: reference frame in every window, stride T-O, tail window", () => {
  const w = fusionWindows(20, 8, 3);
  assert.deepEqual(w[0], [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(w[1], [0, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(w[2], [0, 11, 12, 13, 14, 15, 16, 17]);
  assert.deepEqual(w[3], [0, 13, 14, 15, 16, 17, 18, 19]); // tail, aligned to the end
  assert.equal(w.length, 4);
  for (const win of w) assert.equal(win.length, 8);
});

test("no tail window when the frames fit exactly", () => {
  assert.equal(fusionWindows(72 + 66, 72, 6).length, 2);
  assert.equal(fusionWindows(73, 72, 6).length, 2); // wasteful: a near-duplicate tail
});

test("triangular weights match the official formula", () => {
  const w = fusionWeights("triangular", 16);
  assert.equal(w[0], 0.0625);
  assert.equal(w[1], 0.1875);
  assert.equal(w[7], 0.9375);
  assert.equal(w[8], 0.9375);
  assert.equal(w[15], 0.0625);
});

test("other weightings are positive and symmetric", () => {
  for (const kind of ["pyramid", "flat", "overlap-linear", "gaussian"]) {
    const w = fusionWeights(kind, 9, 3);
    assert.equal(w.length, 9);
    for (let k = 0; k < 9; k++) {
      assert.ok(w[k] > 0, kind);
      assert.ok(Math.abs(w[k] - w[8 - k]) < 1e-12, kind);
    }
  }
  assert.throws(() => fusionWeights("nope", 4), /unknown fusion weighting/);
});

test("efficient frame counts flag a wasted tail window", () => {
  assert.deepEqual(efficientFrameCounts(73, 72, 6), { lower: 72, upper: 138, wasteful: true });
  assert.deepEqual(efficientFrameCounts(138, 72, 6), { lower: 138, upper: 138, wasteful: false });
  assert.equal(efficientFrameCounts(10, 16, 4).wasteful, false);
});

test("window rows are normalised for drawing", () => {
  const rows = windowRows(20, 8, 3, "triangular");
  assert.equal(rows.length, 4);
  for (const row of rows) for (const p of row) assert.ok(p.x >= 0 && p.x <= 1 && p.w > 0 && p.w <= 1);
});
