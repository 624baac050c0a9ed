import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { fusionWindows, fusionWeights, positionWeights, efficientFrameCounts, windowRows, resolveSchedule, scheduleProblem } from "./fusion.js";

const parity = JSON.parse(fs.readFileSync(new URL("../../../tests/data/fusion_parity.json", import.meta.url), "utf8"));

test("windows and weights match the Python sampler's (tests/data/fusion_parity.json)", () => {
  assert.ok(parity.length >= 8);
  for (const c of parity) {
    const wins = fusionWindows(c.frames, c.schedule);
    assert.deepEqual(wins, c.windows, JSON.stringify(c.schedule));
    const weights = fusionWeights(wins, c.schedule);
    weights.forEach((w, j) => w.forEach((v, k) => assert.ok(Math.abs(v - c.weights[j][k]) < 1e-5, `${c.schedule.weighting} ${j},${k}`)));
  }
});

test("official windows: reference frame in every window, stride T-O, tail aligned to the end", () => {
  const w = fusionWindows(20, { window: 8, overlap: 3 });
  assert.deepEqual(w[0], [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(w[1], [0, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(w.at(-1), [0, 13, 14, 15, 16, 17, 18, 19]);
});

test("triangular weights follow the official formula", () => {
  const w = positionWeights("triangular", 16);
  assert.deepEqual([w[0], w[1], w[7], w[8], w[15]], [0.0625, 0.1875, 0.9375, 0.9375, 0.0625]);
  assert.throws(() => positionWeights("nope", 4), /unknown fusion weighting/);
});

test("efficient frame counts flag a wasted tail window", () => {
  assert.deepEqual(efficientFrameCounts(73, 72, 6), { lower: 72, upper: 138, wasteful: true });
  assert.deepEqual(efficientFrameCounts(138, 72, 6), { lower: 138, upper: 138, wasteful: false });
  assert.equal(efficientFrameCounts(10, 16, 4).wasteful, false);
});

test("window rows are normalised for drawing", () => {
  const rows = windowRows(20, { window: 8, overlap: 3, weighting: "overlap-linear" });
  assert.equal(rows.length, 4);
  for (const row of rows) for (const p of row) assert.ok(p.x >= 0 && p.x <= 1 && p.w > 0 && p.w <= 1);
});

const options = JSON.parse(fs.readFileSync(new URL("../../../tests/data/fusion_options_parity.json", import.meta.url), "utf8"));

test("window 0 / overlap -1 resolve to the sampler's defaults (tests/data/fusion_options_parity.json)", () => {
  assert.ok(options.length >= 6);
  for (const c of options) {
    const r = resolveSchedule(c.window, c.overlap, c.version);
    assert.deepEqual({ window: r.window, overlap: r.overlap }, c.resolved, JSON.stringify(c));
    assert.equal(r.defaulted, c.window <= 0 || c.overlap < 0);
  }
});

test("the default schedule draws windows without gaps (each window shares frames with the next)", () => {
  const { window, overlap } = resolveSchedule(0, -1);
  const wins = fusionWindows(window + 3 * (window - overlap) + 10, { window, overlap });
  for (let j = 1; j < wins.length; j++) assert.ok(wins[j][1] <= wins[j - 1].at(-1), `window ${j} starts after a gap`);
  assert.equal(scheduleProblem(window, overlap, true), null);
  assert.match(scheduleProblem(8, 7, true) ?? "", /overlap must be 0..6/);
});
