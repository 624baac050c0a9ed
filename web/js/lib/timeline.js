// @ts-check
/**
 * Voice and motion on one time axis (the audio nodes' widget): lays out the payload of models/audio/timeline.py as
 * lanes of polylines that share the x axis. Pure geometry, no DOM.
 */

/** Lanes from top to bottom: key in the payload, label, colour. Missing keys are skipped. */
export const LANES = [
  { key: "wave", label: "voice", color: "#90a4ae" },
  { key: "loudness", label: "loudness", color: "#4fc3f7" },
  { key: "onset", label: "onsets", color: "#ffb74d" },
  { key: "mouth", label: "mouth opening", color: "#f06292" },
  { key: "hands", label: "hand speed", color: "#aed581" },
];

/**
 * Polyline of a 0..1 curve inside a lane: x spans the full width so every lane shares the time axis.
 * @param {number[]} values @param {number} x0 @param {number} width @param {number} top @param {number} height
 * @returns {number[][]}
 */
export function curvePoints(values, x0, width, top, height) {
  const n = values.length;
  return values.map((v, i) => [x0 + (n > 1 ? (i / (n - 1)) * width : width / 2),
    top + height * (1 - Math.max(0, Math.min(1, v)))]);
}

/**
 * Vertical bars (one per bucket) of a [min, max] waveform envelope centred in a lane.
 * @param {number[][]} wave @param {number} x0 @param {number} width @param {number} top @param {number} height
 * @returns {{x: number, y1: number, y2: number}[]}
 */
export function envelopeBars(wave, x0, width, top, height) {
  const n = wave.length, mid = top + height / 2;
  return wave.map(([lo, hi], i) => ({
    x: x0 + (n > 1 ? (i / (n - 1)) * width : width / 2),
    y1: mid - (Math.max(-1, Math.min(1, hi)) * height) / 2,
    y2: mid - (Math.max(-1, Math.min(1, lo)) * height) / 2,
  }));
}

/**
 * The lanes present in a payload with their vertical slots.
 * @param {Record<string, any>} payload @param {number} height total plot height
 * @returns {{key: string, label: string, color: string, top: number, height: number}[]}
 */
export function laneLayout(payload, height) {
  const present = LANES.filter((l) => Array.isArray(payload?.[l.key]) && payload[l.key].length);
  const h = present.length ? height / present.length : height;
  return present.map((l, i) => ({ ...l, top: i * h + 1, height: h - 3 }));
}

/**
 * Seconds between time ticks so that about `count` ticks fit.
 * @param {number} duration @param {number} [count]
 */
export function timeStep(duration, count = 5) {
  const raw = Math.max(duration, 1e-3) / count;
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
  return steps.find((s) => s >= raw) ?? 600;
}

/**
 * The time ticks of the shared axis with their labels. A label that would run into the caption at the right end
 * (which starts at x = captionLeft) is left out (empty string), though its grid line stays, so the caption is never
 * drawn over a tick label.
 * @param {number} duration seconds @param {number} x0 left of the plot @param {number} width plot width
 * @param {number} captionLeft where the caption starts @param {(text: string) => number} measure label width
 * @returns {{t: number, x: number, label: string}[]}
 */
export function timeTicks(duration, x0, width, captionLeft, measure) {
  const step = timeStep(duration);
  const count = Math.floor(Math.max(0, duration) / step + 1e-9);
  const ticks = [];
  for (let i = 0; i <= count; i++) {
    const t = i * step; // multiples, not a running sum, so 0.1 s steps do not drift
    const x = x0 + (duration > 0 ? (t / duration) * width : 0);
    const label = `${Number(t.toFixed(1))}s`;
    const fits = x + 2 + measure(label) + 6 <= captionLeft;
    ticks.push({ t, x, label: fits ? label : "" });
  }
  return ticks;
}
