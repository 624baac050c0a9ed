"""Every node has a help page (web/js/docs/<NodeId>.md, shown in ComfyUI's node help panel) naming all its sockets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = json.loads((ROOT / "tests" / "data" / "node_contract.json").read_text())


@pytest.mark.parametrize("node_id", sorted(CONTRACT))
def test_node_has_a_help_page_naming_every_socket(node_id: str) -> None:
    path = ROOT / "web" / "js" / "docs" / f"{node_id}.md"
    assert path.is_file(), f"regenerate with: python tests/browser/node_docs.py <ComfyUI url>  ({path})"
    text = path.read_text()
    assert text.startswith("# ") and f"`{node_id}`" in text
    for name in CONTRACT[node_id]["inputs"]:
        assert f"| `{name}`" in text, (node_id, name)
    assert text.count("\n| `") == len(CONTRACT[node_id]["inputs"]) + len(CONTRACT[node_id]["outputs"])
