// @ts-check
/**
 * Progressive latent fusion windows and weights (MimicMotion), for the Fusion Schedule node's preview.
 * Pure functions: no DOM, tested with `node --test web/js/lib/`. The Python twin is models/video/fusion.py; both
 * follow the official pipeline as documented in the pack's design notes.
 */

/**
 * Windows over frames 0..numFrames-1 where frame 0 is the reference frame. Every window holds frame 0 plus T-1 new
 * frames; windows start every T-O frames; a tail window is added when the last frame would be missed.
 * @param {number} numFrames total frames including the reference frame 0
 * @param {number} windowLength T
 * @param {number} overlap O
 * @returns {number[][]} frame indices per window
 */
export function fusionWindows(numFrames, windowLength, overlap) {
  const T = Math.min(windowLength, numFrames);
  const stride = Math.max(1, T - overlap);
  /** @type {number[][]} */
  const windows = [];
  for (let i = 0; i <= numFrames - T; i += stride) {
    const idx = [0];
    for (let k = i + 1; k < i + T; k++) idx.push(k);
    windows.push(idx);
  }
  const last = windows.length ? windows[windows.length - 1] : [0];
  if (last[last.length - 1] < numFrames - 1) {
    const idx = [0];
    for (let k = numFrames - T + 1; k < numFrames; k++) idx.push(k);
    windows.push(idx);
  }
  return windows;
}

/**
 * Per-position weights of one window.
 * @param {string} kind "triangular" (official), "pyramid", "flat", "overlap-linear" or "gaussian"
 * @param {number} T window length
 * @param {number} overlap O (used by overlap-linear)
 * @returns {number[]}
 */
export function fusionWeights(kind, T, overlap = 0) {
  const w = [];
  for (let k = 0; k < T; k++) {
    if (kind === "triangular") {
      const u = (2 * (k + 0.5)) / T;
      w.push(Math.min(u, 2 - u));
    } else if (kind === "pyramid") {
      w.push(Math.min(k + 1, T - k));
    } else if (kind === "flat") {
      w.push(1);
    } else if (kind === "overlap-linear") {
      const ramp = Math.max(1, overlap);
      w.push(Math.min(1, (k + 1) / (ramp + 1), (T - k) / (ramp + 1)));
    } else if (kind === "gaussian") {
      const mid = (T - 1) / 2;
      const sigma = Math.max(T / 6, 1e-6);
      w.push(Math.exp(-0.5 * ((k - mid) / sigma) ** 2));
    } else {
      throw new Error(`unknown fusion weighting ${kind}`);
    }
  }
  return w;
}

/**
 * Frame counts (including the reference frame) that fill windows exactly: T + m(T-O).
 * @param {number} numFrames
 * @param {number} T
 * @param {number} O
 * @returns {{lower: number, upper: number, wasteful: boolean}}
 */
export function efficientFrameCounts(numFrames, T, O) {
  const stride = Math.max(1, T - O);
  if (numFrames <= T) return { lower: numFrames, upper: T, wasteful: false };
  const m = Math.floor((numFrames - T) / stride);
  const lower = T + m * stride;
  const upper = lower === numFrames ? lower : lower + stride;
  return { lower, upper, wasteful: lower !== numFrames };
}

/**
 * Layout for drawing: one row per window, x in 0..1 per frame, with each frame's weight.
 * @param {number} numFrames
 * @param {number} T
 * @param {number} O
 * @param {string} kind
 */
export function windowRows(numFrames, T, O, kind) {
  const windows = fusionWindows(numFrames, T, O);
  const weights = fusionWeights(kind, Math.min(T, numFrames), O);
  const peak = Math.max(...weights);
  return windows.map((idx) => idx.map((frame, k) => ({ x: frame / Math.max(1, numFrames - 1), w: weights[k] / peak })));
}
