// @ts-check
/**
 * Pose scrubber maths: decodes the compact pose preview the Embody pose nodes send (models/pose/preview.py; both
 * sides are checked against tests/data/pose_preview_parity.json) and lays one frame out as lines and dots.
 * Pure functions (no DOM); web/js/embody.js only draws what these return.
 */

/**
 * @typedef {{v: number, frames: number, total_frames: number, stride: number, fps: number, people: number,
 *   canvas: number[], kp: string}} PosePreview
 * @typedef {{frames: number, people: number, totalFrames: number, stride: number, fps: number,
 *   canvas: number[], data: Uint8Array}} DecodedPose
 */

export const NUM_KEYPOINTS = 133;

/** COCO-WholeBody edges: body (COCO-17), feet, and both 21-point hands (left from 91, right from 112). */
const HAND = [[0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [0, 9], [9, 10], [10, 11], [11, 12],
  [0, 13], [13, 14], [14, 15], [15, 16], [0, 17], [17, 18], [18, 19], [19, 20]];
export const EDGES = [
  [5, 6], [5, 7], [7, 9], [6, 8], [8, 10], [5, 11], [6, 12], [11, 12], [11, 13], [13, 15], [12, 14], [14, 16],
  [0, 1], [0, 2], [1, 3], [2, 4], [15, 17], [15, 18], [15, 19], [16, 20], [16, 21], [16, 22],
  ...HAND.map(([a, b]) => [a + 91, b + 91]),
  ...HAND.map(([a, b]) => [a + 112, b + 112]),
];

/** One colour per person slot (distinct hues; cycles after eight). */
export const PERSON_COLORS = ["#4fc3f7", "#f06292", "#aed581", "#ffb74d", "#ba68c8", "#4db6ac", "#fff176", "#90a4ae"];

/** @param {string} b64 @returns {Uint8Array} */
function fromBase64(b64) {
  if (typeof atob === "function") return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  // node --test has atob too (Node >= 16); this is a fallback for older runtimes.
  return Uint8Array.from(globalThis.Buffer.from(b64, "base64"));
}

/**
 * Decode a preview payload; throws on a payload whose size does not match its header.
 * @param {PosePreview} payload @returns {DecodedPose}
 */
export function decodePose(payload) {
  if (!payload || payload.v !== 1) throw new Error(`unknown pose preview version ${payload?.v}`);
  const data = fromBase64(payload.kp);
  const expected = payload.frames * payload.people * NUM_KEYPOINTS * 3;
  if (data.length !== expected) throw new Error(`pose preview holds ${data.length} bytes; expected ${expected}`);
  return {
    frames: payload.frames, people: payload.people, totalFrames: payload.total_frames, stride: payload.stride,
    fps: payload.fps, canvas: payload.canvas, data,
  };
}

/**
 * x, y, confidence (0..1) of one keypoint.
 * @param {DecodedPose} pose @param {number} frame @param {number} person @param {number} k @returns {number[]}
 */
export function keypoint(pose, frame, person, k) {
  const i = ((frame * pose.people + person) * NUM_KEYPOINTS + k) * 3;
  return [pose.data[i] / 255, pose.data[i + 1] / 255, pose.data[i + 2] / 255];
}

/**
 * Colour of a joint by confidence: red (unsure) -> yellow -> green (certain).
 * @param {number} c confidence 0..1 @returns {string}
 */
export function confidenceColor(c) {
  const t = Math.max(0, Math.min(1, c));
  const r = t < 0.5 ? 255 : Math.round(255 * (1 - t) * 2);
  const g = t < 0.5 ? Math.round(255 * t * 2) : 255;
  return `rgb(${r},${g},60)`;
}

/**
 * The largest box of the canvas's aspect that fits a width x height area, centred.
 * @param {number[]} canvas [w, h] @param {number} width @param {number} height
 */
export function fitBox(canvas, width, height) {
  const scale = Math.min(width / Math.max(1, canvas[0]), height / Math.max(1, canvas[1]));
  const w = canvas[0] * scale, h = canvas[1] * scale;
  return { x: (width - w) / 2, y: (height - h) / 2, w, h };
}

/**
 * Everything to draw for one frame inside a width x height area: bones in the person's colour, joints coloured by
 * confidence. Points with confidence below minConfidence are left out (as are bones touching them).
 * @param {DecodedPose} pose @param {number} frame @param {number} width @param {number} height
 * @param {number} [minConfidence]
 */
export function frameLayout(pose, frame, width, height, minConfidence = 0.05) {
  const box = fitBox(pose.canvas, width, height);
  /** @type {{x1: number, y1: number, x2: number, y2: number, color: string}[]} */
  const bones = [];
  /** @type {{x: number, y: number, r: number, color: string, c: number}[]} */
  const joints = [];
  if (frame < 0 || frame >= pose.frames) return { box, bones, joints };
  for (let p = 0; p < pose.people; p++) {
    const pts = Array.from({ length: NUM_KEYPOINTS }, (_, k) => {
      const [x, y, c] = keypoint(pose, frame, p, k);
      return { x: box.x + x * box.w, y: box.y + y * box.h, c };
    });
    const color = PERSON_COLORS[p % PERSON_COLORS.length];
    for (const [a, b] of EDGES) {
      if (pts[a].c >= minConfidence && pts[b].c >= minConfidence) {
        bones.push({ x1: pts[a].x, y1: pts[a].y, x2: pts[b].x, y2: pts[b].y, color });
      }
    }
    pts.forEach((q, k) => {
      if (q.c >= minConfidence) joints.push({ x: q.x, y: q.y, r: k < 23 ? 2.5 : 1.2, color: confidenceColor(q.c), c: q.c });
    });
  }
  return { box, bones, joints };
}

/**
 * Which preview frame to show `seconds` into playback (looping), and the pose frame it stands for.
 * @param {DecodedPose} pose @param {number} seconds @returns {{index: number, poseFrame: number}}
 */
export function frameAtTime(pose, seconds) {
  if (pose.frames < 1) return { index: 0, poseFrame: 0 };
  const poseFrame = Math.floor(Math.max(0, seconds) * pose.fps) % Math.max(1, pose.totalFrames);
  const index = Math.min(pose.frames - 1, Math.floor(poseFrame / Math.max(1, pose.stride)));
  return { index, poseFrame: index * pose.stride };
}

/**
 * The caption under the scrubber: which frame, how many, fps, people, and whether frames were thinned.
 * @param {DecodedPose} pose @param {number} index
 */
export function caption(pose, index) {
  const time = pose.fps > 0 ? (index * pose.stride) / pose.fps : 0;
  const thin = pose.stride > 1 ? `, every ${pose.stride}th shown` : "";
  const who = pose.people === 1 ? "1 person" : `${pose.people} people`;
  return `frame ${index * pose.stride + 1}/${pose.totalFrames} (${time.toFixed(2)} s) · ${pose.fps.toFixed(2).replace(/\.?0+$/, "")} fps · ${who}${thin}`;
}
