import { test } from "node:test";
import assert from "node:assert/strict";
import { latestOutput } from "./history.js";

const entry = (/** @type {number} */ t, /** @type {any} */ inputs, /** @type {any} */ out, status = "success") => ({
  prompt: [0, `p${t}`, { 7: { class_type: "EmbodyPoseSmooth", inputs } }, {}, ["7"]],
  outputs: { 7: out },
  status: { status_str: status, messages: [["execution_start", { timestamp: t }]] },
});

test("the newest successful run of the same node with the same widget values wins", () => {
  const history = {
    a: entry(1, { beta: 0.05, pose: ["3", 0] }, { embody_pose: ["old"] }),
    b: entry(3, { beta: 0.05, pose: ["3", 0] }, { embody_pose: ["new"] }),
    c: entry(5, { beta: 0.9, pose: ["3", 0] }, { embody_pose: ["other settings"] }),
    d: entry(9, { beta: 0.05, pose: ["3", 0] }, { embody_pose: ["failed"] }, "error"),
  };
  assert.deepEqual(latestOutput(history, 7, "EmbodyPoseSmooth", { beta: 0.05 }, "embody_pose"), { embody_pose: ["new"] });
  assert.deepEqual(latestOutput(history, 7, "EmbodyPoseSmooth", { beta: 0.9 }, "embody_pose"), { embody_pose: ["other settings"] });
});

test("another class, another id or no data gives nothing", () => {
  const history = { a: entry(1, { beta: 0.05 }, { embody_pose: ["x"] }) };
  assert.equal(latestOutput(history, 7, "EmbodyPoseAlign", {}, "embody_pose"), null);
  assert.equal(latestOutput(history, 8, "EmbodyPoseSmooth", {}, "embody_pose"), null);
  assert.equal(latestOutput(history, 7, "EmbodyPoseSmooth", {}, "embody_clarity"), null);
  assert.equal(latestOutput({}, 7, "EmbodyPoseSmooth", {}, "embody_pose"), null);
});
