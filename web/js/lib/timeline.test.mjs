import { test } from "node:test";
import assert from "node:assert/strict";
import { curvePoints, envelopeBars, laneLayout, timeStep, timeTicks } from "./timeline.js";

test("every lane spans the same time axis", () => {
  const a = curvePoints([0, 1, 0.5], 20, 300, 0, 10);
  const b = curvePoints([0, 0, 0, 0, 1], 20, 300, 50, 10);
  assert.deepEqual([a[0][0], a.at(-1)[0]], [20, 320]);
  assert.deepEqual([b[0][0], b.at(-1)[0]], [20, 320]);
  assert.deepEqual(a.map((p) => p[1]), [10, 0, 5]);
});

test("the waveform envelope is centred in its lane", () => {
  const bars = envelopeBars([[-0.5, 0.5], [-1, 2]], 0, 100, 10, 20);
  assert.deepEqual(bars[0], { x: 0, y1: 15, y2: 25 });
  assert.deepEqual(bars[1], { x: 100, y1: 10, y2: 30 }); // clipped to -1..1
});

test("lanes: only those sent, stacked top to bottom", () => {
  const lanes = laneLayout({ wave: [[0, 0]], loudness: [0.5], onset: [], mouth: [0.1] }, 90);
  assert.deepEqual(lanes.map((l) => l.key), ["wave", "loudness", "mouth"]);
  assert.deepEqual(lanes.map((l) => l.top), [1, 31, 61]);
});

test("time ticks are round", () => {
  assert.equal(timeStep(2), 0.5);
  assert.equal(timeStep(600), 120);
});

test("tick labels never run into the caption at the right end", () => {
  const measure = (/** @type {string} */ s) => 6 * s.length; // 6 px a character
  // 8 s over 312 px: ticks every 2 s at x = 4, 82, 160, 238, 316; the caption starts at x = 240.
  const ticks = timeTicks(8, 4, 312, 240, measure);
  assert.deepEqual(ticks.map((t) => t.t), [0, 2, 4, 6, 8]);
  assert.deepEqual(ticks.map((t) => t.label), ["0s", "2s", "4s", "", ""]);
  for (const t of ticks) if (t.label) assert.ok(t.x + 2 + measure(t.label) <= 240);
  // with room for every label, all are kept; 0.1 s steps land on round labels
  assert.deepEqual(timeTicks(0.3, 0, 300, 1000, measure).map((t) => t.label), ["0s", "0.1s", "0.2s", "0.3s"]);
});
