import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { caption, confidenceColor, decodePose, EDGES, fitBox, frameAtTime, frameLayout, keypoint, PERSON_COLORS } from "./pose.js";

const parity = JSON.parse(fs.readFileSync(new URL("../../../tests/data/pose_preview_parity.json", import.meta.url), "utf8"));

test("decodes the Python encoder's payload exactly (tests/data/pose_preview_parity.json)", () => {
  assert.ok(parity.length >= 1);
  for (const c of parity) {
    const pose = decodePose(c.payload);
    assert.equal(pose.frames, c.decoded.length);
    assert.equal(pose.people, c.decoded[0].length);
    for (let f = 0; f < pose.frames; f++)
      for (let p = 0; p < pose.people; p++)
        for (let k = 0; k < 133; k++) {
          const got = keypoint(pose, f, p, k), want = c.decoded[f][p][k];
          for (let d = 0; d < 3; d++) assert.ok(Math.abs(got[d] - want[d]) < 1e-5, `${f},${p},${k},${d}`);
        }
  }
});

test("a truncated payload is refused", () => {
  const bad = { ...parity[0].payload, frames: parity[0].payload.frames + 1 };
  assert.throws(() => decodePose(bad), /expected/);
});

/** one frame, two people: person 0 a confident left arm, person 1 an unsure one */
function twoPeople() {
  const data = new Uint8Array(2 * 133 * 3);
  const set = (/** @type {number} */ p, /** @type {number} */ k, /** @type {number[]} */ v) => data.set(v, (p * 133 + k) * 3);
  set(0, 5, [51, 51, 255]); set(0, 7, [51, 102, 255]); set(0, 9, [51, 153, 255]);
  set(1, 5, [204, 51, 30]); set(1, 7, [204, 102, 30]);
  return { frames: 1, people: 2, totalFrames: 1, stride: 1, fps: 25, canvas: [100, 200], data };
}

test("bones in person colours, joints coloured by confidence, missing points left out", () => {
  const { box, bones, joints } = frameLayout(twoPeople(), 0, 200, 200);
  assert.deepEqual(box, { x: 50, y: 0, w: 100, h: 200 });
  assert.equal(bones.length, 3); // 5-7, 7-9 for person 0; 5-7 for person 1
  assert.deepEqual(bones.map((b) => b.color), [PERSON_COLORS[0], PERSON_COLORS[0], PERSON_COLORS[1]]);
  assert.equal(joints.length, 5);
  assert.deepEqual(joints[0], { x: 50 + 20, y: 40, r: 2.5, color: confidenceColor(1), c: 1 });
  assert.notEqual(joints[0].color, joints[3].color); // certain vs unsure joints differ
  assert.deepEqual(frameLayout(twoPeople(), 3, 200, 200).bones, []);
});

test("confidence colours run red -> yellow -> green", () => {
  assert.equal(confidenceColor(0), "rgb(255,0,60)");
  assert.equal(confidenceColor(0.5), "rgb(255,255,60)");
  assert.equal(confidenceColor(1), "rgb(0,255,60)");
});

test("the skeleton covers body, feet and both hands", () => {
  assert.equal(EDGES.length, 16 + 6 + 40);
  assert.ok(EDGES.every(([a, b]) => a >= 0 && b < 133 && a !== b));
});

test("playback follows the pose's fps and thinning", () => {
  const pose = { frames: 300, people: 1, totalFrames: 15000, stride: 50, fps: 25, canvas: [1, 1], data: new Uint8Array(0) };
  assert.deepEqual(frameAtTime(pose, 0), { index: 0, poseFrame: 0 });
  assert.deepEqual(frameAtTime(pose, 4), { index: 2, poseFrame: 100 });
  assert.deepEqual(frameAtTime(pose, 600), { index: 0, poseFrame: 0 }); // loops
  assert.equal(caption(pose, 2), "frame 101/15000 (4.00 s) · 25 fps · 1 person, every 50th shown");
  assert.equal(caption({ ...pose, stride: 1, people: 2, fps: 29.97 }, 0), "frame 1/15000 (0.00 s) · 29.97 fps · 2 people");
});

test("fitBox keeps the canvas aspect", () => {
  assert.deepEqual(fitBox([200, 100], 100, 100), { x: 0, y: 25, w: 100, h: 50 });
});
