// @ts-check
/**
 * Progressive latent fusion windows and weights (MimicMotion), for the Fusion Schedule node's live preview.
 * Pure functions (no DOM), the JavaScript twin of models/video/fusion.py: tests/data/fusion_parity.json is written
 * from the Python code and both test suites check against it, so the preview never disagrees with the sampler.
 */

/**
 * @typedef {{window: number, overlap: number, weighting?: string, anchor?: boolean, tail?: string}} Schedule
 */

/**
 * The schedule with its window shrunk to a video shorter than one window (as FusionSchedule.fitted).
 * @param {number} numFrames @param {Schedule} s @returns {Required<Schedule>}
 */
function fitted(numFrames, s) {
  const full = { weighting: "triangular", anchor: true, tail: "official", ...s };
  if (numFrames >= full.window) return full;
  const overlap = Math.max(Math.min(full.overlap, numFrames - 2), full.anchor ? 1 : 0);
  return { ...full, window: numFrames, overlap };
}

/**
 * Frame indices of every window. Anchored (official): every window holds frame 0 (the reference pose) plus T-1
 * new frames; windows start every T-O frames; a tail window covers what is left ("official": a full window aligned
 * to the end, "shrink": only the frames not yet covered plus the overlap).
 * @param {number} numFrames total frames including the reference frame 0
 * @param {Schedule} schedule
 * @returns {number[][]}
 */
export function fusionWindows(numFrames, schedule) {
  const s = fitted(numFrames, schedule);
  const n = numFrames, t = s.window, stride = s.window - s.overlap;
  const starts = [];
  for (let i = 0; i <= n - t; i += stride) starts.push(i);
  const range = (/** @type {number} */ a, /** @type {number} */ b) => Array.from({ length: Math.max(0, b - a) }, (_, k) => a + k);
  /** @type {number[][]} */
  let wins;
  if (s.anchor) {
    wins = starts.map((i) => [0, ...range(i + 1, i + t)]);
    if (wins[wins.length - 1].at(-1) < n - 1) {
      const first = s.tail === "official" ? n - t + 1 : starts.at(-1) + stride + 1;
      wins.push([0, ...range(first, n)]);
    }
  } else {
    wins = starts.map((i) => range(i, i + t));
    if (wins[wins.length - 1].at(-1) < n - 1) {
      const first = s.tail === "official" ? n - t : starts.at(-1) + stride;
      wins.push(range(first, n));
    }
  }
  return wins;
}

/**
 * Weights by position for one window of `length` frames.
 * @param {string} kind @param {number} length @returns {number[]}
 */
export function positionWeights(kind, length) {
  return Array.from({ length }, (_, k) => {
    if (kind === "triangular") {
      const u = ((k + 0.5) * 2) / length; // official: 1/T at the edges, ~1 in the middle
      return Math.min(u, 2 - u);
    }
    if (kind === "pyramid") return Math.min(k + 1, length - k);
    if (kind === "flat") return 1;
    if (kind === "gaussian") {
      const centre = (length - 1) / 2, sd = Math.max(length / 4, 1e-3);
      return Math.exp(-0.5 * ((k - centre) / sd) ** 2);
    }
    throw new Error(`unknown fusion weighting ${kind}`);
  });
}

/**
 * Weights for every window; "overlap-linear" ramps only over the frames a window really shares with its neighbours.
 * @param {number[][]} windows @param {Schedule} schedule @returns {number[][]}
 */
export function fusionWeights(windows, schedule) {
  const s = { weighting: "triangular", anchor: true, ...schedule };
  if (s.weighting !== "overlap-linear") return windows.map((w) => positionWeights(s.weighting, w.length));
  const skip = s.anchor ? 1 : 0;
  const gens = windows.map((w) => w.slice(skip));
  return gens.map((gen, j) => {
    const shared = (/** @type {number[] | undefined} */ other) => (other ? gen.filter((f) => other.includes(f)).length : 0);
    const sin = shared(gens[j - 1]), sout = shared(gens[j + 1]);
    const w = gen.map(() => 1);
    for (let r = 0; r < sin; r++) w[r] = Math.min(w[r], (r + 1) / (sin + 1));
    for (let r = 0; r < sout; r++) w[gen.length - 1 - r] = Math.min(w[gen.length - 1 - r], (r + 1) / (sout + 1));
    return [...Array(skip).fill(1), ...w];
  });
}

/**
 * Frame counts (reference frame included) that fill anchored windows exactly: T + m(T-O).
 * @param {number} numFrames @param {number} T @param {number} O
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
 * Layout for drawing: one row per window, x in 0..1 per frame and the weight normalised to the window's peak.
 * @param {number} numFrames @param {Schedule} schedule
 */
export function windowRows(numFrames, schedule) {
  const windows = fusionWindows(numFrames, schedule);
  const weights = fusionWeights(windows, schedule);
  return windows.map((idx, j) => {
    const peak = Math.max(...weights[j]);
    return idx.map((frame, k) => ({ x: frame / Math.max(1, numFrames - 1), w: weights[j][k] / peak }));
  });
}

/** Official window / overlap per MimicMotion version (models/video/fusion.py DEFAULT_WINDOWS). */
export const DEFAULT_WINDOWS = { "1.1": [72, 6], "1.0": [16, 4] };

/**
 * The concrete window and overlap the sampler uses for the node's widget values (as FusionSchedule.resolved):
 * window 0 = the model's default, overlap -1 = the default overlap (clamped to fit a custom window).
 * @param {number} window @param {number} overlap @param {string} [version]
 * @returns {{window: number, overlap: number, defaulted: boolean}}
 */
export function resolveSchedule(window, overlap, version = "1.1") {
  let [w, o] = DEFAULT_WINDOWS[/** @type {"1.1"|"1.0"} */ (version)] ?? DEFAULT_WINDOWS["1.1"];
  if (window > 0) {
    w = window;
    if (overlap < 0) o = Math.min(o, Math.max(w - 2, 1));
  }
  if (overlap >= 0) o = overlap;
  return { window: w, overlap: o, defaulted: !(window > 0) || overlap < 0 };
}

/**
 * Why a schedule cannot run (the sampler's FusionSchedule checks), or null when it can.
 * @param {number} window @param {number} overlap @param {boolean} anchor @returns {string | null}
 */
export function scheduleProblem(window, overlap, anchor) {
  if (window < 2) return `window must be at least 2 frames (got ${window})`;
  if (!(overlap >= 0 && overlap < window - 1)) return `overlap must be 0..${window - 2} for window ${window}`;
  if (anchor && overlap < 1) return "with anchor_reference the overlap must be at least 1";
  return null;
}
