// Drive a running ComfyUI (with Embody installed) in headless chromium.
//   node check_frontend.mjs BASE_URL OUT_DIR [workflow_api.json ...]
// Checks: the pack's JS loads without console errors, its widgets attach and draw; each API-format workflow loads
// into the graph with no missing nodes. Writes OUT_DIR/<name>.json (UI format) + <name>.png (canvas screenshot) and
// OUT_DIR/report.json. Exit code 1 on any failure.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

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
    g.clear();
    return out;
  });
  if (report.checks.widgets.fusion_png) {
    fs.writeFileSync(path.join(outDir, "fusion_widget.png"), Buffer.from(report.checks.widgets.fusion_png.split(",")[1], "base64"));
    delete report.checks.widgets.fusion_png;
  }

  for (const file of workflows) {
    const name = path.basename(file).replace(/_api\.json$/, "");
    const api = JSON.parse(fs.readFileSync(file, "utf8"));
    for (const k of Object.keys(api)) if (k.startsWith("_")) delete api[k];
    const result = await page.evaluate(async ([api, name]) => {
      await window.app.loadApiJson(api, `${name}.json`);
      await new Promise((r) => setTimeout(r, 500));
      const nodes = window.app.graph._nodes;
      // Branches that need files the user may not have yet ship muted (mode 2 = never).
      for (const n of nodes) if (String(n.title).startsWith("Optional:")) n.mode = 2;
      const missing = nodes.filter((n) => !window.LiteGraph.registered_node_types[n.type]).map((n) => n.type);
      // Left-to-right layered layout: column = longest path from a source node, stacked by column.
      const depth = new Map();
      const inputsOf = (n) => (n.inputs ?? []).filter((i) => i.link != null).map((i) => window.app.graph.links[i.link]?.origin_id);
      const visit = (n, seen = new Set()) => {
        if (depth.has(n.id)) return depth.get(n.id);
        if (seen.has(n.id)) return 0;
        seen.add(n.id);
        const d = Math.max(-1, ...inputsOf(n).map((id) => visit(window.app.graph.getNodeById(id), seen))) + 1;
        depth.set(n.id, d);
        return d;
      };
      nodes.forEach((n) => visit(n));
      const columns = new Map();
      for (const n of [...nodes].sort((a, b) => a.id - b.id)) {
        const d = depth.get(n.id);
        const y = columns.get(d) ?? 60;
        n.pos = [60 + d * 380, y];
        columns.set(d, y + (n.size?.[1] ?? 100) + 70);
      }
      try {
        await window.app.extensionManager.command.execute("Comfy.Canvas.FitView");
      } catch {
        window.app.canvas.ds.offset = [20, 20];
        window.app.canvas.ds.scale = 0.55;
      }
      window.app.graph.setDirtyCanvas(true, true);
      await new Promise((r) => setTimeout(r, 500));
      return { nodes: nodes.length, missing, ui: window.app.graph.serialize() };
    }, [api, name]);
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
      await new Promise((r) => setTimeout(r, 2500));
      const again = window.app.graph._nodes.find((n) => n.type === "EmbodyPoseExtract");
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
  await page.screenshot({ path: path.join(outDir, "page.png") });
} catch (err) {
  report.errors.push(`driver: ${err.message}`);
} finally {
  await browser.close();
}
fs.writeFileSync(path.join(outDir, "report.json"), JSON.stringify(report, null, 1));
console.log(JSON.stringify({ errors: report.errors, checks: report.checks, workflows: report.workflows }, null, 1));
process.exit(report.errors.length ? 1 : 0);
