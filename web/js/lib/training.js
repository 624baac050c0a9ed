// @ts-check
/**
 * Loss curve geometry for the trainer nodes' widget (payload of models/audio/progress.py). Pure, no DOM.
 */

/**
 * Polyline of [step, loss] points: x over steps 0..total, y on a log scale between the smallest and largest loss
 * (losses fall by orders of magnitude; a linear axis would flatten everything after the first steps).
 * @param {number[][]} curve @param {number} total @param {number} width @param {number} height
 * @returns {{points: number[][], low: number, high: number}}
 */
export function lossPolyline(curve, total, width, height) {
  const good = curve.filter(([, l]) => Number.isFinite(l) && l > 0);
  if (!good.length) return { points: [], low: NaN, high: NaN };
  const logs = good.map(([, l]) => Math.log10(l));
  let lo = Math.min(...logs), hi = Math.max(...logs);
  if (hi - lo < 1e-6) { lo -= 0.5; hi += 0.5; }
  const points = good.map(([s], i) => [(s / Math.max(1, total)) * width, height * (1 - (logs[i] - lo) / (hi - lo))]);
  return { points, low: 10 ** lo, high: 10 ** hi };
}
