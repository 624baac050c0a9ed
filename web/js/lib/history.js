// @ts-check
/**
 * Finding a node's last outputs in ComfyUI's /history, so widgets show their data again after a workflow or the page
 * is reloaded (ComfyUI keeps ui outputs in its history, not in the workflow; widgets are never serialised).
 * Pure: takes the parsed /history answer, touches no DOM.
 */

/**
 * The newest ui output for a node that ran with the same id, class and widget values as the node on the canvas.
 * @param {Record<string, any>} history parsed GET /history (prompt id -> {prompt: [n, id, graph, ...], outputs, status})
 * @param {string|number} nodeId
 * @param {string} classType
 * @param {Record<string, unknown>} widgetValues the node's current primitive widget values by name
 * @param {string} key the ui key the widget draws (e.g. "embody_pose")
 * @returns {Record<string, any> | null}
 */
export function latestOutput(history, nodeId, classType, widgetValues, key) {
  const id = String(nodeId);
  /** @type {{t: number, out: Record<string, any>}[]} */
  const found = [];
  for (const entry of Object.values(history ?? {})) {
    const graph = entry?.prompt?.[2];
    const out = entry?.outputs?.[id];
    const node = graph?.[id];
    if (!node || node.class_type !== classType || !out || !(key in out)) continue;
    if (entry?.status && entry.status.status_str && entry.status.status_str !== "success") continue;
    const same = Object.entries(widgetValues).every(([name, value]) => {
      const ran = node.inputs?.[name];
      return ran === undefined || Array.isArray(ran) || ran === value;
    });
    if (!same) continue;
    const messages = entry?.status?.messages ?? [];
    const t = Math.max(0, ...messages.map((/** @type {any[]} */ m) => Number(m?.[1]?.timestamp) || 0));
    found.push({ t, out });
  }
  found.sort((a, b) => b.t - a.t);
  return found.length ? found[0].out : null;
}
