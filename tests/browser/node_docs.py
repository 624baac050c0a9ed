"""Write web/js/docs/<NodeId>.md (ComfyUI's node help panel) from a running server's /object_info.

    python tests/browser/node_docs.py http://127.0.0.1:8188

The text comes from the nodes' own descriptions and tooltips, so the help panel never disagrees with the node;
tests/test_node_docs.py checks every node has a page that names all of its inputs and outputs.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "web" / "js" / "docs"


def _kind(spec: list) -> str:
    return "COMBO" if isinstance(spec[0], list) or spec[0] == "COMBO" else str(spec[0])


def page(node_id: str, node: dict) -> str:
    lines = [f"# {node['display_name']}", "", node.get("description", "").strip(), "", "## Inputs", "",
             "| input | type | default | what it does |", "|---|---|---|---|"]
    for group in ("required", "optional"):
        for name, spec in node["input"].get(group, {}).items():
            opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            default = opts.get("default", "")
            if _kind(spec) == "COMBO" and not default:
                choices = spec[0] if isinstance(spec[0], list) else opts.get("options", [])
                default = choices[0] if choices else ""
            tip = str(opts.get("tooltip", "")).replace("|", "/").replace("\n", " ")
            optional = " (optional)" if group == "optional" else ""
            lines.append(f"| `{name}`{optional} | {_kind(spec)} | {default} | {tip} |")
    lines += ["", "## Outputs", "", "| output | type | what it is |", "|---|---|---|"]
    tips = node.get("output_tooltips") or [""] * len(node["output"])
    for name, kind, tip in zip(node["output_name"], node["output"], tips, strict=True):
        lines.append(f"| `{name}` | {kind} | {(tip or '').replace('|', '/')} |")
    lines += ["", f"Node id `{node_id}`, category *{node['category']}*. Example workflows: the pack's `workflows/`."]
    return "\n".join(lines) + "\n"


def main(base: str) -> None:
    info = json.load(urllib.request.urlopen(f"{base}/object_info", timeout=60))
    DOCS.mkdir(parents=True, exist_ok=True)
    for node_id, node in sorted(info.items()):
        if node_id.startswith("Embody"):
            (DOCS / f"{node_id}.md").write_text(page(node_id, node))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8188")
