// Drive a running ComfyUI (with Embody installed) in headless chromium.
//   node check_frontend.mjs BASE_URL OUT_DIR [workflow_api.json ...]
// Checks: the pack's JS loads without console errors, its widgets attach and draw; each API-format workflow loads
// into the graph with no missing nodes. Writes OUT_DIR/<name>.json (UI format) + <name>.png (canvas screenshot) and
// OUT_DIR/report.json. Exit code 1 on any failure.
// EXECUTE_RUNS=runs.json ([{name, api, timeout_s}]): lays each API graph out like the examples, queues it from the page,
// waits, and reports what every Embody widget drew (run_<name>_<kind>_<node>.png), the live training messages and
// progress text (run_<name>_text_<node>.png), and the nodes that grew or overlap after the run (run_<name>.png).
// EXECUTE_API=file: runs one hands graph and checks the clarity plot, the pose scrubber and a reload from /history.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

/**
 * Runs in the page: load an API-format graph and lay it out as the shipped examples are (titled groups per stage, a
 * note on top, muted optional branches in a second row). Returns the node count, missing node types and the UI-format
 * workflow. Installed as window.__embodyLayout.
 */
async function layoutInPage([api, name, metas, note]) {
  await window.app.loadApiJson(api, `${name}.json`);
  await new Promise((r) => setTimeout(r, 500));
  const graph = window.app.graph;
  const nodes = [...graph._nodes];
  // Sizes the graph asks for (example_graphs.py `_size`: e.g. a plot preview wide enough to read).
  // Nodes that show an image or a video (a loaded file, a preview after a run) get room for it now: the frontend
  // makes them as tall as the picture needs once it arrives, which would put them over the node below.
  const PICTURE_ROOM = { LoadImage: [320, 420], LoadVideo: [320, 420], PreviewImage: [320, 320], SaveImage: [320, 340],
    SaveVideo: [320, 440] };
  for (const n of nodes) {
    const room = PICTURE_ROOM[n.type];
    const size = metas[n.title]?.size ?? (room && [Math.max(n.size[0], room[0]), Math.max(n.size[1], room[1])]);
    if (size && n.setSize) n.setSize(size);
    else if (size) n.size = size;
  }
  // Branches that need files the user may not have yet ship muted (mode 2 = never).
  for (const n of nodes) if (String(n.title).startsWith("Optional:")) n.mode = 2;
  const missing = nodes.filter((n) => !window.LiteGraph.registered_node_types[n.type]).map((n) => n.type);
  // Layout for any graph: depth = longest path from a source; nodes go in titled groups (their stage, or
  // "Step k" by depth when the graph names none); groups run left to right in order of depth, optional
  // (muted) groups in a second row below, visibly apart; a note with the files to place sits on top.
  const depth = new Map();
  const inputsOf = (n) => (n.inputs ?? []).filter((i) => i.link != null).map((i) => graph.links[i.link]?.origin_id);
  const visit = (n, seen = new Set()) => {
    if (depth.has(n.id)) return depth.get(n.id);
    if (seen.has(n.id)) return 0;
    seen.add(n.id);
    const d = Math.max(-1, ...inputsOf(n).map((id) => visit(graph.getNodeById(id), seen))) + 1;
    depth.set(n.id, d);
    return d;
  };
  nodes.forEach((n) => visit(n));
  const stageOf = (n) => metas[n.title]?.stage ?? (String(n.title).startsWith("Optional:") ? "Optional (muted)" : `Step ${depth.get(n.id) + 1}`);
  const groups = new Map();
  for (const n of [...nodes].sort((a, b) => depth.get(a.id) - depth.get(b.id) || a.id - b.id)) {
    const s = stageOf(n);
    if (!groups.has(s)) groups.set(s, []);
    groups.get(s).push(n);
  }
  const PAD = 30, TITLE = 50, GAP_X = 60, GAP_Y = 40;
  // Nodes that show a line of progress text while they run (nodes/_api.py progress_text, the trainer's loss text):
  // the frontend adds a ~58 px text widget under them, so the layout keeps that room free below them.
  const PROGRESS_TEXT = new Set(["EmbodyPoseExtract", "EmbodySampler", "EmbodyDecode", "EmbodyTrainMotionModel"]);
  const TEXT_ROOM = 64;
  let noteNode = null, top = 40;
  if (note) {
    noteNode = window.LiteGraph.createNode("MarkdownNote") ?? window.LiteGraph.createNode("Note");
    if (noteNode) {
      graph.add(noteNode);
      noteNode.title = "Read me: files and weights";
      const w = noteNode.widgets?.[0];
      if (w) w.value = note;
      noteNode.pos = [40, 40];
      noteNode.size = [900, 330];
      top = 40 + 330 + 80;
    }
  }
  const rows = [[...groups.entries()].filter(([s]) => !s.startsWith("Optional")), [...groups.entries()].filter(([s]) => s.startsWith("Optional"))];
  let y = top;
  for (const [r, row] of rows.entries()) {
    let x = 40, rowH = 0;
    for (const [stage, members] of row) {
      // inside a group: one column per depth, nodes stacked
      const d0 = Math.min(...members.map((n) => depth.get(n.id)));
      const cols = new Map();
      for (const n of members) {
        const c = depth.get(n.id) - d0;
        if (!cols.has(c)) cols.set(c, []);
        cols.get(c).push(n);
      }
      let cx = x + PAD, gh = 0;
      for (const c of [...cols.keys()].sort((a, b) => a - b)) {
        let cy = y + TITLE, cw = 0;
        for (const n of cols.get(c)) {
          const [w, h] = n.size ?? [300, 100];
          n.pos = [cx, cy + window.LiteGraph.NODE_TITLE_HEIGHT];
          cy += h + window.LiteGraph.NODE_TITLE_HEIGHT + GAP_Y + (PROGRESS_TEXT.has(n.type) ? TEXT_ROOM : 0);
          cw = Math.max(cw, w);
        }
        gh = Math.max(gh, cy - y);
        cx += cw + GAP_X;
      }
      const group = new window.LiteGraph.LGraphGroup(stage);
      group.pos = [x, y];
      group.size = [cx - x - GAP_X + PAD, gh + PAD - GAP_Y];
      group.color = r === 1 ? "#555555" : ["#3f789e", "#8A8", "#a1309b", "#b58b2a", "#88A"][[...groups.keys()].indexOf(stage) % 5];
      graph.add(group);
      x += group.size[0] + 80;
      rowH = Math.max(rowH, group.size[1]);
    }
    y += rowH + (r === 0 ? 160 : 80);
  }
  // Saved view: readable zoom (ComfyUI draws node text above ~0.6), starting at the note and the first groups.
  window.app.canvas.ds.scale = 0.8;
  window.app.canvas.ds.offset = [70, 70];
  graph.setDirtyCanvas(true, true);
  await new Promise((r) => setTimeout(r, 500));
  const out = graph.serialize();
  out.extra = { ...(out.extra ?? {}), ds: { scale: 0.8, offset: [70, 70] } };
  return { nodes: nodes.length, missing, ui: out };
}

/**
 * Runs in the page: lay out an API-format graph like the examples, queue it from the page, wait for it, then measure
 * what the Embody widgets drew with the data Python sent (live training messages and progress text included) and
 * whether any node grew over another. Returns the measurements and each widget as a PNG data URL.
 */
async function runInPage([api, name, metas, note, timeoutMs]) {
  const { api: comfy } = await import("/scripts/api.js");
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  await window.__embodyLayout([api, name, metas, note]);
  const graph = window.app.graph;
  const TH = window.LiteGraph.NODE_TITLE_HEIGHT;
  const box = (n) => [n.pos[0], n.pos[1] - TH, n.size[0], n.size[1] + TH];
  const overlaps = () => {
    const out = [], ns = graph._nodes;
    for (let i = 0; i < ns.length; i++) {
      for (let j = i + 1; j < ns.length; j++) {
        const [ax, ay, aw, ah] = box(ns[i]), [bx, by, bw, bh] = box(ns[j]);
        if (ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah) out.push(`${ns[i].title} / ${ns[j].title}`);
      }
    }
    return out;
  };
  // Every node drawn once (a node's previews load and size it only when it is drawn), then the sizes as laid out.
  await window.__embodyFit();
  await sleep(1500);
  const before = Object.fromEntries(graph._nodes.map((n) => [n.id, [...n.size]]));
  const overlapsBefore = overlaps();
  const live = { training: [], text: {} };
  let finished = null;
  const handlers = {
    "embody.training": (e) => live.training.push({ step: e.detail?.step, total: e.detail?.total, text: e.detail?.text }),
    progress_text: (e) => { const d = e.detail ?? {}; (live.text[d.nodeId] ??= []).push(d.text); },
    execution_success: () => { finished ??= { status: "success" }; },
    execution_error: (e) => { finished ??= { status: "error", node: e.detail?.node_type, message: e.detail?.exception_message }; },
  };
  for (const [k, f] of Object.entries(handlers)) comfy.addEventListener(k, f);
  const t0 = Date.now();
  try {
    await window.app.queuePrompt(0, 1);
    while (!finished && Date.now() - t0 < timeoutMs) await sleep(250);
  } finally {
    for (const [k, f] of Object.entries(handlers)) comfy.removeEventListener(k, f);
  }
  const seconds = Math.round((Date.now() - t0) / 100) / 10;
  await window.__embodyFit(); // every node on screen, so each preview is drawn (and sized) as an artist would see it
  await sleep(2000); // the previews load their images and the widgets draw on the next frames
  graph.setDirtyCanvas(true, true);
  await sleep(300);
  const pixels = (c) => c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  // Drawn data, not the grey placeholder text: saturated pixels (curves, bones, joints, windows).
  const coloured = (c) => { const d = pixels(c); let k = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) k++;
    return k; };
  const count = (c, test) => { const d = pixels(c); let k = 0; for (let i = 0; i < d.length; i += 4) if (test(d[i], d[i + 1], d[i + 2])) k++; return k; };
  const widgets = [];
  for (const n of graph._nodes) {
    const found = [["pose", n.embodyPose?.canvas], ["clarity", n.embodyClarityCanvas], ["timeline", n.embodyTimelineCanvas],
                   ["training", n.embodyTrainingCanvas], ["fusion", n.embodyFusionCanvas]];
    for (const [kind, c] of found) {
      if (!c) continue;
      const w = { kind, node: n.id, type: n.type, title: n.title, mode: n.mode, coloured: coloured(c), png: c.toDataURL("image/png") };
      if (kind === "pose") w.frames = n.embodyPose.state.pose?.frames ?? 0;
      if (kind === "timeline") { // the motion lanes under the voice: mouth opening (pink) and hand speed (green)
        w.mouth = count(c, (r, g, b) => r > 200 && g < 130 && b > 110);
        w.hands = count(c, (r, g, b) => g > 180 && r > 140 && r < 200 && b < 150);
      }
      widgets.push(w);
    }
  }
  const text = graph._nodes.flatMap((n) => (n.widgets ?? []).filter((w) => w.name === "$$node-text-preview")
    .map((w) => ({ node: n.id, type: n.type, title: n.title, text: String(w.value ?? "") })));
  const grown = graph._nodes.filter((n) => before[n.id] && (n.size[0] > before[n.id][0] + 1 || n.size[1] > before[n.id][1] + 1))
    .map((n) => ({ title: n.title, type: n.type, before: before[n.id], after: [...n.size] }));
  // Core image previews: how large the node shows the image it got (the plot must stay readable).
  const previews = graph._nodes.filter((n) => n.type === "PreviewImage").map((n) => ({ title: n.title, size: [...n.size],
    image: n.imgs?.[0] ? [n.imgs[0].naturalWidth, n.imgs[0].naturalHeight] : null }));
  return { status: finished ?? { status: "timeout" }, seconds, widgets, live, text, grown, previews,
           overlaps_before: overlapsBefore, overlaps_after: overlaps() };
}

/** Runs in the page: show node `id` at zoom 1 at the canvas' top left; returns its box in page pixels. */
async function focusNodeInPage(id) {
  const n = window.app.graph.getNodeById(id);
  const TH = window.LiteGraph.NODE_TITLE_HEIGHT, ds = window.app.canvas.ds;
  const el = window.app.canvas.canvas, r = el.getBoundingClientRect();
  // centred in the canvas, clear of the side bar and the floating tool bars
  const left = Math.round((r.width - n.size[0]) / 2), top = Math.round((r.height - n.size[1] - TH) / 2);
  ds.scale = 1;
  ds.offset = [left - n.pos[0], top + TH - n.pos[1]];
  window.app.graph.setDirtyCanvas(true, true);
  await new Promise((r) => setTimeout(r, 600)); // DOM widgets follow the canvas on its next frames
  // How far the node's DOM widgets (the Embody canvases) reach past its bottom edge, in pixels at zoom 1.
  const bottom = r.top + top + TH + n.size[1];
  const shown = (n.widgets ?? []).filter((w) => w.element?.isConnected && w.element.getClientRects().length);
  const overflow = Math.max(0, ...shown.map((w) => Math.round(w.element.getBoundingClientRect().bottom - bottom)));
  return { clip: { x: r.left + left - 8, y: r.top + top - 8, width: Math.round(n.size[0] + 16),
                   height: Math.round(n.size[1] + TH + 16) }, overflow };
}

/** Runs in the page: zoom so the whole graph (nodes and groups) fits the canvas. */
async function fitGraphInPage() {
  const g = window.app.graph, TH = window.LiteGraph.NODE_TITLE_HEIGHT;
  const boxes = [...g._nodes.map((n) => [n.pos[0], n.pos[1] - TH, n.size[0], n.size[1] + TH]),
                 ...(g._groups ?? g.groups ?? []).map((gr) => [gr.pos[0], gr.pos[1], gr.size[0], gr.size[1]])];
  const x0 = Math.min(...boxes.map((b) => b[0])), y0 = Math.min(...boxes.map((b) => b[1]));
  const x1 = Math.max(...boxes.map((b) => b[0] + b[2])), y1 = Math.max(...boxes.map((b) => b[1] + b[3]));
  const el = window.app.canvas.canvas, ds = window.app.canvas.ds;
  // the side bar (left) and the tool bars (top) cover the canvas' edges
  const [L, T, R, B] = [80, 110, 20, 60];
  ds.scale = Math.min((el.clientWidth - L - R) / (x1 - x0), (el.clientHeight - T - B) / (y1 - y0));
  ds.offset = [L / ds.scale - x0, T / ds.scale - y0];
  g.setDirtyCanvas(true, true);
  await new Promise((r) => setTimeout(r, 600));
}

const [base, outDir, ...workflows] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const report = { errors: [], pack_console: [], checks: {}, workflows: {} };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const [vw, vh] = (process.env.VIEWPORT || "1400x900").split("x").map(Number);
  const page = await browser.newPage({ viewport: { width: vw, height: vh } });
  page.on("console", (msg) => {
    const text = msg.text();
    if (/embody/i.test(text) || /extensions\/[^/]*\/embody/i.test(msg.location()?.url ?? "")) {
      report.pack_console.push(`${msg.type()}: ${text}`);
      if (msg.type() === "error") report.errors.push(`console: ${text}`);
    }
  });
  page.on("pageerror", (err) => {
    if (/embody/i.test(`${err.message}\n${err.stack}`)) report.errors.push(`pageerror: ${err.message}`);
  });
  await page.goto(base, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => window.app?.graph && window.LiteGraph, null, { timeout: 120000 });
  await page.waitForTimeout(2000);
  await page.keyboard.press("Escape"); // the first-run templates dialog
  await page.waitForTimeout(300);
  await page.evaluate(async () => {
    const settings = window.app.extensionManager?.setting;
    for (const [id, value] of [["Comfy.Minimap.Visible", false], ["LiteGraph.Canvas.LowQualityRenderingZoomThreshold", 0.1]]) {
      try { await settings?.set(id, value); } catch { /* older frontends */ }
    }
  });
  await page.evaluate(`window.__embodyLayout = ${layoutInPage.toString()}; window.__embodyFit = ${fitGraphInPage.toString()}`);
  const exts = await (await page.request.get(`${base}/extensions`)).json();
  report.checks.extension_served = exts.some((e) => /embody\.js$/.test(e));

  report.checks.widgets = await page.evaluate(async () => {
    const out = {};
    const g = window.app.graph;
    const clarity = window.LiteGraph.createNode("EmbodyHandClarity");
    g.add(clarity);
    out.clarity_widget = !!clarity.widgets?.find((w) => w.name === "clarity_plot");
    clarity.onExecuted?.({ embody_clarity: [3, 5, NaN, 8, 2], embody_clarity_threshold: [4] });
    const canvas = clarity.embodyClarityCanvas;
    if (canvas) {
      const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let lit = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i + 2] > 200 && px[i] < 120) lit++;
      out.clarity_drawn_pixels = lit;
    }
    const fusion = window.LiteGraph.createNode("EmbodyFusionSchedule");
    if (fusion) {
      g.add(fusion);
      out.fusion_widget = !!fusion.widgets?.find((w) => w.name === "window_plot");
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50)));
      const fc = fusion.embodyFusionCanvas;
      if (fc) {
        const d = fc.getContext("2d").getImageData(0, 0, fc.width, fc.height - 30).data;
        let lit = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 120 && d[i + 2] > d[i] + 40) lit++;
        out.fusion_drawn_pixels = lit; // at window 0 (the model default) the windows must be drawn
        out.fusion_png = fc.toDataURL("image/png");
      }
    }
    // Voice-and-motion and loss widgets, fed the payload shapes the Python nodes send (models/audio/timeline.py,
    // models/audio/learned/progress.py), so their drawing is checked without a long run.
    const n = 200, wave = [], loud = [], onset = [], mouth = [], hands = [];
    for (let i = 0; i < n; i++) {
      const env = 0.5 + 0.5 * Math.sin(i / 9);
      wave.push([-0.8 * env, 0.8 * env]); loud.push(env); onset.push(i % 25 === 0 ? 1 : 0.1);
      mouth.push(env * 0.9); hands.push(i % 25 < 6 ? 0.8 : 0.1);
    }
    const audioNode = window.LiteGraph.createNode("EmbodyRhythmMotion");
    const trainNode = window.LiteGraph.createNode("EmbodyTrainMotionModel");
    const lit = (c) => { const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data; let k = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 200) k++; return k; };
    if (audioNode?.embodyTimelineCanvas) {
      g.add(audioNode);
      audioNode.onExecuted({ embody_timeline: [{ v: 1, duration_s: 8, fps: 25, wave, loudness: loud, onset, mouth, hands }] });
      out.timeline_drawn_pixels = lit(audioNode.embodyTimelineCanvas);
      out.timeline_png = audioNode.embodyTimelineCanvas.toDataURL("image/png");
    }
    if (trainNode?.embodyTrainingCanvas) {
      g.add(trainNode);
      const curve = Array.from({ length: 60 }, (_, i) => [(i + 1) * 10, 1.2 * Math.exp(-i / 15) + 0.05]);
      trainNode.onExecuted({ embody_training: [{ step: 600, total: 2000, loss: 0.07, text: "step 600 of 2000 · loss 0.07 · 4 min 40 s left", curve }] });
      out.training_drawn_pixels = lit(trainNode.embodyTrainingCanvas);
      out.training_png = trainNode.embodyTrainingCanvas.toDataURL("image/png");
    }
    g.clear();
    return out;
  });
  for (const key of ["timeline", "training"]) {
    if (report.checks.widgets[`${key}_png`]) {
      fs.writeFileSync(path.join(outDir, `${key}_widget.png`), Buffer.from(report.checks.widgets[`${key}_png`].split(",")[1], "base64"));
      delete report.checks.widgets[`${key}_png`];
    }
  }
  if (report.checks.widgets.fusion_png) {
    fs.writeFileSync(path.join(outDir, "fusion_widget.png"), Buffer.from(report.checks.widgets.fusion_png.split(",")[1], "base64"));
    delete report.checks.widgets.fusion_png;
  }

  for (const file of workflows) {
    const name = path.basename(file).replace(/_api\.json$/, "");
    const api = JSON.parse(fs.readFileSync(file, "utf8"));
    const note = typeof api._note === "string" ? api._note : "";
    for (const k of Object.keys(api)) if (k.startsWith("_")) delete api[k];
    // title -> _meta (stage: the titled group a node goes in; size: a size it asks for; example_graphs.py names them)
    const metas = Object.fromEntries(Object.values(api).filter((n) => n._meta?.title).map((n) => [n._meta.title, n._meta]));
    const result = await page.evaluate((args) => window.__embodyLayout(args), [api, name, metas, note]);
    report.workflows[name] = { nodes: result.nodes, missing: result.missing };
    if (result.missing.length) report.errors.push(`${name}: missing node types ${result.missing}`);
    fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(result.ui, null, 1));
    const canvasEl = await page.$("canvas#graph-canvas") ?? await page.$("canvas");
    await (canvasEl ?? page).screenshot({ path: path.join(outDir, `${name}.png`) });
  }
  // Optional: run a real workflow (EXECUTE_API=file) and check the clarity widget draws what Python sent.
  if (process.env.EXECUTE_API) {
    const api = JSON.parse(fs.readFileSync(process.env.EXECUTE_API, "utf8"));
    report.checks.executed = await page.evaluate(async (api) => {
      await window.app.loadApiJson(api, "execute.json");
      const clarity = window.app.graph._nodes.find((n) => n.type === "EmbodyHandClarity");
      if (!clarity) return { error: "no EmbodyHandClarity node in EXECUTE_API" };
      let message = null;
      const original = clarity.onExecuted;
      clarity.onExecuted = function (m) { message = m; return original?.apply(this, arguments); };
      await window.app.queuePrompt(0, 1);
      const t0 = Date.now();
      while (!message && Date.now() - t0 < 240000) await new Promise((r) => setTimeout(r, 250));
      if (!message) return { error: "the workflow did not execute the clarity node in time" };
      await new Promise((r) => setTimeout(r, 300));
      const canvas = clarity.embodyClarityCanvas;
      const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
      let line = 0, threshold = 0;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i + 2] > px[i] + 80) line++; // the score polyline (light blue)
        if (px[i] > 150 && px[i + 1] < 90 && px[i + 2] < 90) threshold++; // the red threshold line
      }
      // The pose scrubber on the extract node: the skeleton drawn from the keypoints Python sent.
      const extract = window.app.graph._nodes.find((n) => n.type === "EmbodyPoseExtract");
      const poseCanvas = extract?.embodyPose?.canvas;
      const countLit = (/** @type {HTMLCanvasElement} */ c) => {
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 1] > 150 && d[i] < 120) n++; // green joints / blue bones
        return n;
      };
      const pose = poseCanvas ? { frames: extract.embodyPose.state.pose?.frames ?? 0, lit: countLit(poseCanvas),
                                  png: poseCanvas.toDataURL("image/png") } : { error: "no pose scrubber" };
      // Widgets are not serialised: the saved workflow holds no preview data.
      const saved = JSON.stringify(window.app.graph.serialize());
      // (the widget names may appear as input slots of newer frontends; the data must not)
      const exNode = JSON.parse(saved).nodes.find((n) => n.type === "EmbodyPoseExtract");
      const serialised = /"kp":/.test(saved) || JSON.stringify(exNode?.widgets_values ?? []).length > 2000
        ? { kp: /"kp":/.test(saved), values: exNode?.widgets_values, size: saved.length } : false;
      // Reload the same workflow: the widgets find their last run in /history and draw it again.
      await window.app.loadGraphData(JSON.parse(saved));
      let again = null;
      for (let t0 = Date.now(); Date.now() - t0 < 30000;) { // /history answers slowly on a busy machine
        await new Promise((r) => setTimeout(r, 500));
        again = window.app.graph._nodes.find((n) => n.type === "EmbodyPoseExtract");
        if (again?.embodyPose?.state?.pose) break;
      }
      await new Promise((r) => setTimeout(r, 500));
      const clarity2 = window.app.graph._nodes.find((n) => n.type === "EmbodyHandClarity");
      let clarityAfter = 0;
      if (clarity2?.embodyClarityCanvas) {
        const d = clarity2.embodyClarityCanvas.getContext("2d").getImageData(0, 0, 320, 110).data;
        for (let i = 0; i < d.length; i += 4) if (d[i + 2] > d[i] + 80) clarityAfter++;
      }
      const reload = { pose_frames: again?.embodyPose?.state?.pose?.frames ?? 0,
                       pose_lit: again?.embodyPose ? countLit(again.embodyPose.canvas) : 0, clarity_line_pixels: clarityAfter };
      return { frames: message.embody_clarity?.length ?? 0, scores: message.embody_clarity, threshold: message.embody_clarity_threshold?.[0],
               line_pixels: line, threshold_pixels: threshold, png: canvas.toDataURL("image/png"), pose, serialised, reload };
    }, api);
    if (report.checks.executed.pose?.png) {
      fs.writeFileSync(path.join(outDir, "pose_widget.png"), Buffer.from(report.checks.executed.pose.png.split(",")[1], "base64"));
      delete report.checks.executed.pose.png;
    }
    if (report.checks.executed.error) report.errors.push(report.checks.executed.error);
    if (report.checks.executed.png) {
      fs.writeFileSync(path.join(outDir, "clarity_widget.png"), Buffer.from(report.checks.executed.png.split(",")[1], "base64"));
      delete report.checks.executed.png;
    }
  }
  // Real runs (EXECUTE_RUNS=file: [{name, api, timeout_s}]): each graph is laid out like the examples, queued from the
  // page and measured; every widget with data in it, the nodes with progress text and the whole graph are saved as PNGs.
  if (process.env.EXECUTE_RUNS) {
    report.checks.runs = {};
    const save = (file, dataUrl) => fs.writeFileSync(path.join(outDir, file), Buffer.from(dataUrl.split(",")[1], "base64"));
    for (const run of JSON.parse(fs.readFileSync(process.env.EXECUTE_RUNS, "utf8"))) {
      const api = JSON.parse(fs.readFileSync(run.api, "utf8"));
      const note = typeof api._note === "string" ? api._note : "";
      for (const k of Object.keys(api)) if (k.startsWith("_")) delete api[k];
      const metas = Object.fromEntries(Object.values(api).filter((n) => n._meta?.title).map((n) => [n._meta.title, n._meta]));
      const result = await page.evaluate(runInPage, [api, run.name, metas, note, (run.timeout_s ?? 240) * 1000]);
      for (const w of result.widgets) {
        w.file = `run_${run.name}_${w.kind}_${w.node}.png`;
        save(w.file, w.png);
        delete w.png;
      }
      for (const t of result.text) {
        t.file = `run_${run.name}_text_${t.node}.png`;
        const { clip } = await page.evaluate(focusNodeInPage, t.node);
        await page.screenshot({ path: path.join(outDir, t.file), clip });
      }
      for (const w of result.widgets) { // the node as an artist sees it, and whether its widgets stay inside it
        w.node_file = `run_${run.name}_node_${w.node}.png`;
        const { clip, overflow } = await page.evaluate(focusNodeInPage, w.node);
        w.overflow = overflow;
        await page.screenshot({ path: path.join(outDir, w.node_file), clip });
      }
      await page.evaluate(fitGraphInPage);
      const canvasEl = await page.$("canvas#graph-canvas") ?? await page.$("canvas");
      await (canvasEl ?? page).screenshot({ path: path.join(outDir, `run_${run.name}.png`) });
      report.checks.runs[run.name] = result;
      if (result.status.status !== "success") report.errors.push(`${run.name}: ${JSON.stringify(result.status)}`);
    }
  }
  await page.screenshot({ path: path.join(outDir, "page.png") });
} catch (err) {
  report.errors.push(`driver: ${err.message}`);
} finally {
  await browser.close();
}
fs.writeFileSync(path.join(outDir, "report.json"), JSON.stringify(report, null, 1));
console.log(JSON.stringify({ errors: report.errors, checks: report.checks, workflows: report.workflows }, null, 1));
process.exit(report.errors.length ? 1 : 0);
