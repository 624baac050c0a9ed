// @ts-check
/**
 * Hand clarity plot geometry for the Hand Clarity node's widget. Pure: returns polylines, draws nothing.
 */

/**
 * Split a score series into polylines in pixel space; NaN / null (no hand) breaks the line.
 * @param {(number|null)[]} scores per-frame clarity
 * @param {number} width plot width in px
 * @param {number} height plot height in px
 * @param {number} [maxValue] top of the y axis (default: the largest finite score, at least 1)
 * @returns {{lines: number[][][], maxValue: number}}
 */
export function clarityPolylines(scores, width, height, maxValue) {
  const finite = scores.filter((s) => typeof s === "number" && Number.isFinite(s));
  const top = maxValue ?? Math.max(1, ...finite);
  const n = scores.length;
  /** @type {number[][][]} */
  const lines = [];
  /** @type {number[][]} */
  let current = [];
  scores.forEach((s, i) => {
    if (typeof s !== "number" || !Number.isFinite(s)) {
      if (current.length) lines.push(current);
      current = [];
      return;
    }
    const x = n > 1 ? (i / (n - 1)) * width : width / 2;
    const y = height - (Math.min(s, top) / top) * height;
    current.push([x, y]);
  });
  if (current.length) lines.push(current);
  return { lines, maxValue: top };
}

/**
 * Share of frames that pass a threshold (frames without a hand count as failing).
 * @param {(number|null)[]} scores
 * @param {number} threshold
 */
export function passRate(scores, threshold) {
  if (!scores.length) return 0;
  const ok = scores.filter((s) => typeof s === "number" && Number.isFinite(s) && s >= threshold).length;
  return ok / scores.length;
}

/**
 * Share of frames that pass as the node decided: its own per-frame pass list when sent (so frames without hands
 * count as the node's keep_frames_without_hands says), else the threshold rule with no-hand frames failing.
 * @param {(number|null)[]} scores @param {number} threshold @param {boolean[] | undefined} passed
 */
export function nodePassRate(scores, threshold, passed) {
  if (Array.isArray(passed) && passed.length) return passed.filter(Boolean).length / passed.length;
  return passRate(scores, threshold);
}

/**
 * Round axis ticks from 0 to top (about `count` of them, at 1/2/5 x 10^k steps).
 * @param {number} top @param {number} [count] @returns {number[]}
 */
export function axisTicks(top, count = 3) {
  if (!(top > 0)) return [0];
  const raw = top / count, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks = [];
  for (let v = 0; v <= top + 1e-9; v += step) ticks.push(Number(v.toFixed(6)));
  return ticks;
}
