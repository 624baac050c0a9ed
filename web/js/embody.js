// @ts-check
/**
 * Embody frontend: a pose scrubber on every node that outputs EMBODY_POSE, a clarity plot on the Hand Clarity node and
 * a live window diagram on the Fusion Schedule node. Drawing maths lives in ./lib (tested with node --test); this
 * file only wires it into ComfyUI's canvas, through the public extension API (registerExtension, addDOMWidget,
 * onExecuted, api.fetchApi). Widgets are never serialised into workflows; after a reload they find their node's last
 * outputs in ComfyUI's /history.
 */
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { axisTicks, clarityPolylines, nodePassRate } from "./lib/clarity.js";
import { efficientFrameCounts, resolveSchedule, scheduleProblem, windowRows } from "./lib/fusion.js";
import { latestOutput } from "./lib/history.js";
import { caption, decodePose, frameAtTime, frameLayout } from "./lib/pose.js";
import { curvePoints, envelopeBars, laneLayout, timeTicks } from "./lib/timeline.js";
import { lossPolyline } from "./lib/training.js";

const FUSION_WIDGETS = { length: "window", overlap: "overlap", weighting: "weighting", anchor: "anchor_reference", tail: "tail" };
/** Nodes that output EMBODY_POSE and send a pose preview (models/pose/preview.py) as ui "embody_pose". */
const POSE_NODES = new Set(["EmbodyPoseExtract", "EmbodyPoseAlign", "EmbodyPoseSmooth", "EmbodyAudioToMotion",
  "EmbodyRhythmMotion", "EmbodyKeypointsToPose", "EmbodyPoseLoad", "EmbodyPoseSave"]);
/** Audio nodes that send a voice-and-motion timeline (models/audio/timeline.py) as ui "embody_timeline". */
const TIMELINE_NODES = new Set(["EmbodyAudioFeatures", "EmbodyRhythmMotion", "EmbodyAudioToMotion"]);
const BG = "#1b1b1b";

/**
 * Call `fn` after the original method, keeping whatever the method returned (never replace prototype methods).
 * @param {any} object @param {string} property @param {(...args: any[]) => void} fn
 */
function chainCallback(object, property, fn) {
  const original = object[property];
  object[property] = function (...args) {
    const result = original?.apply(this, args);
    fn.apply(this, args);
    return result;
  };
}

/**
 * A fixed-height canvas; fixed so a run never makes the node grow over its neighbours. Its drawing width follows the
 * width it is shown at (one canvas pixel per CSS pixel), so text and lines stay sharp on wide nodes instead of a
 * 320-pixel drawing stretched; the last drawing is redone when the node is resized (`embodyRedraw`).
 */
function makeCanvas(/** @type {number} */ height) {
  const canvas = /** @type {HTMLCanvasElement & {embodyRedraw?: () => void}} */ (document.createElement("canvas"));
  canvas.width = 320;
  canvas.height = height;
  canvas.style.width = "100%";
  canvas.style.height = `${height}px`;
  canvas.style.display = "block";
  if (typeof ResizeObserver !== "undefined") {
    new ResizeObserver(() => {
      const shown = Math.round(canvas.clientWidth);
      if (shown >= 64 && shown !== canvas.width) { // 0 while hidden (low zoom): keep the last drawing
        canvas.width = shown;
        canvas.embodyRedraw?.();
      }
    }).observe(canvas);
  }
  return canvas;
}

/** Remember how to redraw `canvas` (after a resize). @param {any} canvas @param {() => void} redraw */
function remember(canvas, redraw) {
  canvas.embodyRedraw = redraw;
}

/** Space the frontend keeps above and below a DOM widget (its default is 10 px). */
const WIDGET_MARGIN = 5;

/**
 * A DOM widget of a fixed height: its slot is the element's height plus the margins, so the element never runs past
 * the bottom of the node (a slot of just `height` let a fixed-height canvas overflow by the margin).
 * @param {any} node @param {string} name @param {HTMLElement} element @param {number} height
 */
function addFixedWidget(node, name, element, height) {
  const slot = height + 2 * WIDGET_MARGIN;
  return node.addDOMWidget(name, "embody-canvas", element, {
    serialize: false, margin: WIDGET_MARGIN, getMinHeight: () => slot, getMaxHeight: () => slot, getHeight: () => slot,
  });
}

/** Grey "run to see" text on an empty plot. @param {HTMLCanvasElement} canvas @param {string} text */
function drawPlaceholder(canvas, text) {
  remember(canvas, () => drawPlaceholder(canvas, text));
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.fillStyle = BG;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#888";
  ctx.font = "12px sans-serif";
  ctx.textAlign = "center";
  ctx.fillText(text, canvas.width / 2, canvas.height / 2 + 4);
  ctx.textAlign = "left";
}

/** Text that fits the width: shrinks the font, then cuts with an ellipsis. */
function fitText(/** @type {CanvasRenderingContext2D} */ ctx, /** @type {string} */ text, /** @type {number} */ x,
  /** @type {number} */ y, /** @type {number} */ maxWidth) {
  let size = 11;
  ctx.font = `${size}px sans-serif`;
  while (ctx.measureText(text).width > maxWidth && size > 8) ctx.font = `${--size}px sans-serif`;
  let t = text;
  while (ctx.measureText(t).width > maxWidth && t.length > 4) t = `${t.slice(0, -2)}…`;
  ctx.fillText(t, x, y);
}

// ---------------------------------------------------------------- pose scrubber

/** @param {any} node */
function addPoseScrubber(node) {
  const root = document.createElement("div");
  root.style.cssText = "display:flex;flex-direction:column;gap:2px;width:100%;";
  const canvas = makeCanvas(200);
  const bar = document.createElement("div");
  bar.style.cssText = "display:flex;gap:4px;align-items:center;height:22px;";
  const play = document.createElement("button");
  play.textContent = "▶";
  play.title = "Play / pause";
  play.style.cssText = "width:28px;height:20px;padding:0;font-size:11px;";
  const slider = document.createElement("input");
  slider.type = "range";
  slider.min = "0";
  slider.max = "0";
  slider.value = "0";
  slider.title = "Frame";
  slider.style.cssText = "flex:1;min-width:0;";
  bar.append(play, slider);
  root.append(canvas, bar);
  addFixedWidget(node, "pose_preview", root, 224); // canvas 200 + gap 2 + bar 22
  /** @type {{pose: any, index: number, playing: boolean, raf: number, start: number}} */
  const state = { pose: null, index: 0, playing: false, raf: 0, start: 0 };
  const draw = () => drawPose(canvas, state.pose, state.index);
  const stop = () => {
    state.playing = false;
    play.textContent = "▶";
    cancelAnimationFrame(state.raf);
  };
  const tick = (/** @type {number} */ now) => {
    if (!state.playing || !state.pose) return;
    const { index } = frameAtTime(state.pose, (now - state.start) / 1000);
    if (index !== state.index) {
      state.index = index;
      slider.value = String(index);
      draw();
    }
    state.raf = requestAnimationFrame(tick);
  };
  play.addEventListener("click", () => {
    if (!state.pose || state.pose.frames < 2) return;
    if (state.playing) return stop();
    state.playing = true;
    play.textContent = "⏸";
    state.start = performance.now() - (state.index * state.pose.stride * 1000) / state.pose.fps;
    state.raf = requestAnimationFrame(tick);
  });
  slider.addEventListener("input", () => {
    stop();
    state.index = Number(slider.value);
    draw();
  });
  node.embodyPose = {
    canvas, state, slider,
    show(/** @type {any} */ payload) {
      stop();
      try {
        state.pose = decodePose(payload);
      } catch (err) {
        console.warn("Embody: could not read the pose preview", err);
        state.pose = null;
      }
      state.index = 0;
      slider.max = String(Math.max(0, (state.pose?.frames ?? 1) - 1));
      slider.value = "0";
      draw();
    },
  };
  chainCallback(node, "onRemoved", stop);
  drawPlaceholder(canvas, "run the graph to see the poses");
}

/** @param {HTMLCanvasElement} canvas @param {any} pose @param {number} index */
function drawPose(canvas, pose, index) {
  remember(canvas, () => drawPose(canvas, pose, index));
  if (!pose) return drawPlaceholder(canvas, "run the graph to see the poses");
  if (!pose.frames) return drawPlaceholder(canvas, "the pose has no frames");
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const { width, height } = canvas;
  const plotH = height - 16;
  ctx.fillStyle = BG;
  ctx.fillRect(0, 0, width, height);
  const { box, bones, joints } = frameLayout(pose, index, width, plotH);
  ctx.fillStyle = "#000";
  ctx.fillRect(box.x, box.y, box.w, box.h);
  ctx.strokeStyle = "#444";
  ctx.strokeRect(box.x + 0.5, box.y + 0.5, box.w - 1, box.h - 1);
  ctx.lineWidth = 2;
  for (const b of bones) {
    ctx.strokeStyle = b.color;
    ctx.beginPath();
    ctx.moveTo(b.x1, b.y1);
    ctx.lineTo(b.x2, b.y2);
    ctx.stroke();
  }
  for (const j of joints) {
    ctx.fillStyle = j.color;
    ctx.beginPath();
    ctx.arc(j.x, j.y, j.r, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.fillStyle = "#ddd";
  fitText(ctx, caption(pose, index), 4, height - 4, width - 8);
}

// ---------------------------------------------------------------- hand clarity

/**
 * @param {HTMLCanvasElement} canvas @param {(number|null)[]} scores @param {number} threshold
 * @param {boolean[] | undefined} passed
 */
function drawClarity(canvas, scores, threshold, passed) {
  remember(canvas, () => drawClarity(canvas, scores, threshold, passed));
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  if (!scores.length) return drawPlaceholder(canvas, "run the graph to see the hand clarity per frame");
  const { width, height } = canvas;
  const left = 30, plotH = height - 18, plotW = width - left - 4;
  ctx.fillStyle = BG;
  ctx.fillRect(0, 0, width, height);
  // Headroom above the highest score and the threshold, so neither is drawn on the border.
  const finite = /** @type {number[]} */ (scores.filter((v) => typeof v === "number" && Number.isFinite(v)));
  const top = 1.15 * Math.max(1, threshold, ...finite);
  const { lines, maxValue } = clarityPolylines(scores, plotW, plotH - 4, top);
  const yOf = (/** @type {number} */ v) => 4 + (plotH - 4) * (1 - Math.min(v, maxValue) / maxValue);
  ctx.font = "11px sans-serif";
  for (const t of axisTicks(maxValue)) {
    ctx.strokeStyle = "#333";
    ctx.beginPath();
    ctx.moveTo(left, yOf(t));
    ctx.lineTo(width, yOf(t));
    ctx.stroke();
    ctx.fillStyle = "#999";
    ctx.fillText(String(t), 2, yOf(t) + 4);
  }
  ctx.strokeStyle = "#e74c3c";
  ctx.setLineDash([4, 3]);
  ctx.beginPath();
  ctx.moveTo(left, yOf(threshold));
  ctx.lineTo(width, yOf(threshold));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.strokeStyle = "#4fc3f7";
  ctx.lineWidth = 2;
  for (const line of lines) {
    ctx.beginPath();
    line.forEach(([x, y], i) => (i ? ctx.lineTo(left + x, 4 + y) : ctx.moveTo(left + x, 4 + y)));
    if (line.length === 1) ctx.arc(left + line[0][0], 4 + line[0][1], 1.5, 0, 2 * Math.PI);
    ctx.stroke();
  }
  ctx.lineWidth = 1;
  ctx.fillStyle = "#ddd";
  const rate = Math.round(nodePassRate(scores, threshold, passed) * 100);
  const max = finite.length ? Math.max(...finite).toFixed(1) : "-";
  fitText(ctx, `${scores.length} frames · ${rate}% pass (red line = ${threshold}) · max ${max}`, 4, height - 3, width - 8);
}

// ---------------------------------------------------------------- fusion windows

/** @param {any} node @param {HTMLCanvasElement} canvas */
function drawFusion(node, canvas) {
  remember(canvas, () => drawFusion(node, canvas));
  const value = (/** @type {string} */ name, /** @type {any} */ fallback) =>
    node.widgets?.find((/** @type {any} */ w) => w.name === name)?.value ?? fallback;
  const anchor = Boolean(value(FUSION_WIDGETS.anchor, true));
  const resolved = resolveSchedule(Number(value(FUSION_WIDGETS.length, 0)), Number(value(FUSION_WIDGETS.overlap, -1)));
  const T = resolved.window, O = resolved.overlap;
  const problem = scheduleProblem(T, O, anchor);
  if (problem) return drawPlaceholder(canvas, `cannot run: ${problem}`);
  const schedule = { window: T, overlap: O, weighting: String(value(FUSION_WIDGETS.weighting, "triangular")),
    anchor, tail: String(value(FUSION_WIDGETS.tail, "official")) };
  // The schedule does not know the video's length; preview one that needs a tail window (3.5 strides past T).
  const frames = Math.round(T + 3.5 * Math.max(1, T - O));
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const { width, height } = canvas;
  ctx.fillStyle = BG;
  ctx.fillRect(0, 0, width, height);
  let rows;
  try {
    rows = windowRows(frames, schedule);
  } catch (err) {
    return drawPlaceholder(canvas, `cannot run: ${err}`);
  }
  const rowH = Math.max(3, Math.floor((height - 30) / Math.max(1, rows.length)));
  const cell = width / frames;
  rows.forEach((row, r) => {
    for (const p of row) {
      // Frame f spans [f, f+1) * cell in whole pixels, so consecutive frames never leave a gap.
      const f = Math.round(p.x * (frames - 1));
      const x0 = Math.floor(f * cell), x1 = Math.max(x0 + 1, Math.floor((f + 1) * cell));
      ctx.fillStyle = `rgba(79,195,247,${0.15 + 0.85 * p.w})`;
      ctx.fillRect(x0, r * rowH, x1 - x0, rowH - 1);
    }
  });
  const eff = efficientFrameCounts(frames, T, O);
  ctx.fillStyle = "#ddd";
  const assumed = resolved.defaulted ? " (MimicMotion 1.1 default; 1.0: 16/4)" : "";
  fitText(ctx, `window ${T}, overlap ${O}${assumed}`, 4, height - 17, width - 8);
  ctx.fillStyle = eff.wasteful ? "#f39c12" : "#aaa";
  const note = eff.wasteful ? ` · ${eff.lower} or ${eff.upper} fill exactly` : "";
  fitText(ctx, `e.g. ${frames} frames → ${rows.length} windows${note}`, 4, height - 4, width - 8);
}

// ---------------------------------------------------------------- voice and motion

/** @param {HTMLCanvasElement} canvas @param {Record<string, any> | null} payload */
function drawTimeline(canvas, payload) {
  remember(canvas, () => drawTimeline(canvas, payload));
  if (!payload) return drawPlaceholder(canvas, "run the graph to see the voice and the motion");
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const { width, height } = canvas;
  const left = 4, plotW = width - 8, plotH = height - 16;
  ctx.fillStyle = BG;
  ctx.fillRect(0, 0, width, height);
  const duration = Number(payload.duration_s) || 0;
  // time grid shared by every lane; tick labels stop before the caption at the right end
  ctx.font = "9px sans-serif";
  const captionText = `${duration.toFixed(1)} s at ${Number(payload.fps)} fps`;
  const captionLeft = width - 4 - ctx.measureText(captionText).width;
  for (const tick of timeTicks(duration, left, plotW, captionLeft, (s) => ctx.measureText(s).width)) {
    ctx.strokeStyle = "#2c2c2c";
    ctx.beginPath();
    ctx.moveTo(tick.x, 0);
    ctx.lineTo(tick.x, plotH);
    ctx.stroke();
    ctx.fillStyle = "#888";
    if (tick.label) ctx.fillText(tick.label, tick.x + 2, height - 3);
  }
  for (const lane of laneLayout(payload, plotH)) {
    ctx.strokeStyle = lane.color;
    ctx.fillStyle = lane.color;
    ctx.lineWidth = 1;
    if (lane.key === "wave") {
      for (const b of envelopeBars(payload.wave, left, plotW, lane.top, lane.height)) ctx.fillRect(b.x, b.y1, 1, Math.max(1, b.y2 - b.y1));
    } else {
      ctx.beginPath();
      curvePoints(payload[lane.key], left, plotW, lane.top, lane.height).forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
    }
    ctx.fillStyle = "#ddd";
    ctx.font = "9px sans-serif";
    ctx.fillText(lane.label, left + 2, lane.top + 9);
  }
  ctx.fillStyle = "#aaa";
  ctx.font = "9px sans-serif";
  ctx.textAlign = "right";
  ctx.fillText(captionText, width - 4, height - 3);
  ctx.textAlign = "left";
}

// ---------------------------------------------------------------- training

/** @param {HTMLCanvasElement} canvas @param {Record<string, any> | null} p */
function drawTraining(canvas, p) {
  remember(canvas, () => drawTraining(canvas, p));
  if (!p) return drawPlaceholder(canvas, "run the graph to see the loss as it trains");
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const { width, height } = canvas;
  const plotH = height - 18;
  ctx.fillStyle = BG;
  ctx.fillRect(0, 0, width, height);
  const { points, low, high } = lossPolyline(p.curve ?? [], Number(p.total) || 1, width - 8, plotH - 8);
  ctx.strokeStyle = "#4fc3f7";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  points.forEach(([x, y], i) => (i ? ctx.lineTo(4 + x, 4 + y) : ctx.moveTo(4 + x, 4 + y)));
  ctx.stroke();
  ctx.fillStyle = "#999";
  ctx.font = "9px sans-serif";
  if (Number.isFinite(high)) {
    ctx.fillText(`${high.toPrecision(2)}`, 4, 12);
    ctx.fillText(`${low.toPrecision(2)} (log scale)`, 4, plotH - 2);
  }
  ctx.fillStyle = "#ddd";
  fitText(ctx, String(p.text ?? ""), 4, height - 4, width - 8);
}

/** Live training messages (sent by the trainer node while it runs) go to that node's loss plot. */
function listenForTraining() {
  api.addEventListener("embody.training", (/** @type {any} */ event) => {
    const detail = event?.detail;
    const node = detail && app.graph?.getNodeById?.(Number(detail.node) || detail.node);
    if (node?.embodyTrainingCanvas) drawTraining(node.embodyTrainingCanvas, detail);
  });
}

// ---------------------------------------------------------------- restore after reload

/** @type {Promise<Record<string, any>> | null} */
let historyPromise = null;
function recentHistory() {
  historyPromise ??= api.fetchApi("/history?max_items=64").then((r) => (r.ok ? r.json() : {})).catch(() => ({}));
  setTimeout(() => { historyPromise = null; }, 3000);
  return historyPromise;
}

/** Ask ComfyUI's history for the node's last ui output and show it (the data is never stored in the workflow). */
async function restoreFromHistory(/** @type {any} */ node, /** @type {string} */ key) {
  const values = Object.fromEntries((node.widgets ?? [])
    .filter((/** @type {any} */ w) => w.name && ["string", "number", "boolean"].includes(typeof w.value))
    .map((/** @type {any} */ w) => [w.name, w.value]));
  const output = latestOutput(await recentHistory(), node.id, node.type, values, key);
  if (output) node.onExecuted?.(output);
}

app.registerExtension({
  name: "embody.widgets",
  setup() {
    listenForTraining();
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    const name = nodeData?.name;
    if (POSE_NODES.has(name)) {
      chainCallback(nodeType.prototype, "onNodeCreated", function () { addPoseScrubber(this); });
      chainCallback(nodeType.prototype, "onExecuted", function (message) {
        const payload = message?.embody_pose?.[0];
        if (payload && this.embodyPose) this.embodyPose.show(payload);
      });
      chainCallback(nodeType.prototype, "onConfigure", function () { restoreFromHistory(this, "embody_pose"); });
    }
    if (TIMELINE_NODES.has(name)) {
      chainCallback(nodeType.prototype, "onNodeCreated", function () {
        const canvas = makeCanvas(130);
        addFixedWidget(this, "voice_and_motion", canvas, 130);
        this.embodyTimelineCanvas = canvas;
        drawTimeline(canvas, null);
      });
      chainCallback(nodeType.prototype, "onExecuted", function (message) {
        const payload = message?.embody_timeline?.[0];
        if (payload && this.embodyTimelineCanvas) drawTimeline(this.embodyTimelineCanvas, payload);
      });
      if (!POSE_NODES.has(name)) {
        chainCallback(nodeType.prototype, "onConfigure", function () { restoreFromHistory(this, "embody_timeline"); });
      }
    }
    if (name === "EmbodyTrainMotionModel") {
      chainCallback(nodeType.prototype, "onNodeCreated", function () {
        const canvas = makeCanvas(110);
        addFixedWidget(this, "loss_plot", canvas, 110);
        this.embodyTrainingCanvas = canvas;
        drawTraining(canvas, null);
      });
      chainCallback(nodeType.prototype, "onExecuted", function (message) {
        const payload = message?.embody_training?.[0];
        if (payload && this.embodyTrainingCanvas) drawTraining(this.embodyTrainingCanvas, payload);
      });
      chainCallback(nodeType.prototype, "onConfigure", function () { restoreFromHistory(this, "embody_training"); });
    }
    if (name === "EmbodyHandClarity") {
      chainCallback(nodeType.prototype, "onNodeCreated", function () {
        // 150 px: the scores, the axis labels and the caption read at ComfyUI's usual zoom (110 px was cramped)
        const canvas = makeCanvas(150);
        addFixedWidget(this, "clarity_plot", canvas, 150);
        this.embodyClarityCanvas = canvas;
        drawClarity(canvas, [], 0, undefined);
      });
      chainCallback(nodeType.prototype, "onExecuted", function (message) {
        const scores = message?.embody_clarity ?? [];
        const threshold = Number(message?.embody_clarity_threshold?.[0] ?? 0);
        if (this.embodyClarityCanvas) drawClarity(this.embodyClarityCanvas, scores, threshold, message?.embody_clarity_passed);
      });
      chainCallback(nodeType.prototype, "onConfigure", function () { restoreFromHistory(this, "embody_clarity"); });
    }
    if (name === "EmbodyFusionSchedule") {
      chainCallback(nodeType.prototype, "onNodeCreated", function () {
        const canvas = makeCanvas(96);
        addFixedWidget(this, "window_plot", canvas, 96);
        this.embodyFusionCanvas = canvas;
        const redraw = () => drawFusion(this, canvas);
        for (const w of this.widgets ?? []) chainCallback(w, "callback", redraw);
        requestAnimationFrame(redraw);
      });
      chainCallback(nodeType.prototype, "onConfigure", function () {
        requestAnimationFrame(() => this.embodyFusionCanvas && drawFusion(this, this.embodyFusionCanvas));
      });
    }
  },
});
