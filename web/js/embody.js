// @ts-check
/**
 * Embody frontend: a clarity plot on the Hand Clarity node and a live window diagram on the Fusion Schedule node.
 * Drawing maths lives in ./lib (tested with node --test); this file only wires it into ComfyUI's canvas.
 */
import { app } from "../../scripts/app.js";
import { clarityPolylines, passRate } from "./lib/clarity.js";
import { efficientFrameCounts, windowRows } from "./lib/fusion.js";

const FUSION_WIDGETS = { length: "window", overlap: "overlap", weighting: "weighting", anchor: "anchor_reference", tail: "tail" };

/**
 * Call `fn` after the original method, keeping whatever the method returned (never replace prototype methods).
 * @param {any} object
 * @param {string} property
 * @param {(...args: any[]) => void} fn
 */
function chainCallback(object, property, fn) {
  const original = object[property];
  object[property] = function (...args) {
    const result = original?.apply(this, args);
    fn.apply(this, args);
    return result;
  };
}

/** @param {any} node @param {string} name */
function addCanvasWidget(node, name, height) {
  const canvas = document.createElement("canvas");
  canvas.width = 320;
  canvas.height = height;
  canvas.style.width = "100%";
  canvas.style.height = `${height}px`;
  const widget = node.addDOMWidget(name, "embody-canvas", canvas, { serialize: false, getMinHeight: () => height });
  return { canvas, widget };
}

/** @param {HTMLCanvasElement} canvas @param {(number|null)[]} scores @param {number} threshold */
function drawClarity(canvas, scores, threshold) {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const { width, height } = canvas;
  ctx.fillStyle = "#1b1b1b";
  ctx.fillRect(0, 0, width, height);
  // Headroom above the highest score and the threshold, so neither is drawn on the border.
  const finite = scores.filter((v) => typeof v === "number" && Number.isFinite(v));
  const top = 1.15 * Math.max(1, threshold, ...finite);
  const { lines, maxValue } = clarityPolylines(scores, width, height - 14, top);
  const ty = (height - 14) * (1 - Math.min(threshold, maxValue) / maxValue);
  ctx.strokeStyle = "#c0392b";
  ctx.setLineDash([4, 3]);
  ctx.beginPath();
  ctx.moveTo(0, ty);
  ctx.lineTo(width, ty);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.strokeStyle = "#4fc3f7";
  ctx.lineWidth = 2;
  for (const line of lines) {
    ctx.beginPath();
    line.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (line.length === 1) ctx.arc(line[0][0], line[0][1], 1.5, 0, 2 * Math.PI);
    ctx.stroke();
  }
  ctx.fillStyle = "#ddd";
  ctx.font = "11px sans-serif";
  const rate = Math.round(passRate(scores, threshold) * 100);
  ctx.fillText(`${scores.length} frames, ${rate}% pass ${threshold}, max ${finite.length ? Math.max(...finite).toFixed(1) : "-"}`, 4, height - 3);
}

/** @param {any} node @param {HTMLCanvasElement} canvas */
function drawFusion(node, canvas) {
  const value = (/** @type {string} */ name, /** @type {any} */ fallback) =>
    node.widgets?.find((/** @type {any} */ w) => w.name === name)?.value ?? fallback;
  const T = Number(value(FUSION_WIDGETS.length, 16));
  const O = Number(value(FUSION_WIDGETS.overlap, 4));
  const schedule = {
    window: T,
    overlap: O,
    weighting: String(value(FUSION_WIDGETS.weighting, "triangular")),
    anchor: Boolean(value(FUSION_WIDGETS.anchor, true)),
    tail: String(value(FUSION_WIDGETS.tail, "official")),
  };
  // The schedule does not know the video's length; preview one that needs a tail window (3.5 strides past T).
  const frames = Math.max(T, Math.round(T + 3.5 * Math.max(1, T - O)));
  const ctx = canvas.getContext("2d");
  if (!ctx || !(T > 1) || !(frames > 0)) return;
  const { width, height } = canvas;
  ctx.fillStyle = "#1b1b1b";
  ctx.fillRect(0, 0, width, height);
  let rows;
  try {
    rows = windowRows(frames, schedule);
  } catch {
    return;
  }
  const rowH = Math.max(3, Math.floor((height - 16) / Math.max(1, rows.length)));
  const cell = width / Math.max(1, frames);
  rows.forEach((row, r) => {
    for (const p of row) {
      ctx.fillStyle = `rgba(79,195,247,${0.15 + 0.85 * p.w})`;
      ctx.fillRect(p.x * (width - cell), r * rowH, Math.max(1, cell), rowH - 1);
    }
  });
  const eff = efficientFrameCounts(frames, T, O);
  ctx.fillStyle = eff.wasteful ? "#f39c12" : "#ddd";
  ctx.font = "11px sans-serif";
  const note = eff.wasteful ? `; ${eff.lower} or ${eff.upper} frames fill windows exactly` : "";
  ctx.fillText(`example: ${rows.length} windows over ${frames} frames${note}`, 4, height - 3);
}

app.registerExtension({
  name: "embody.widgets",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData?.name === "EmbodyHandClarity") {
      chainCallback(nodeType.prototype, "onNodeCreated", function () {
        const { canvas } = addCanvasWidget(this, "clarity_plot", 90);
        this.embodyClarityCanvas = canvas;
      });
      chainCallback(nodeType.prototype, "onExecuted", function (message) {
        const scores = message?.embody_clarity ?? [];
        const threshold = Number(message?.embody_clarity_threshold?.[0] ?? 0);
        if (this.embodyClarityCanvas) drawClarity(this.embodyClarityCanvas, scores, threshold);
      });
    }
    if (nodeData?.name === "EmbodyFusionSchedule") {
      chainCallback(nodeType.prototype, "onNodeCreated", function () {
        const { canvas } = addCanvasWidget(this, "window_plot", 80);
        const redraw = () => drawFusion(this, canvas);
        for (const w of this.widgets ?? []) chainCallback(w, "callback", redraw);
        requestAnimationFrame(redraw);
      });
    }
  },
});
