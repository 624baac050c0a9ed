"""The example workflows in workflows/ (UI format, written by tests/browser/export_examples.sh in a real ComfyUI page).

Checks they are complete (thumbnail beside each), in sync with tests/browser/example_graphs.py, use only node ids and
sockets that the node contract freezes, and that their links are consistent. The integration tests run the same graphs
with tiny models in a real ComfyUI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / "workflows").glob("*.json"))
CONTRACT = json.loads((ROOT / "tests" / "data" / "node_contract.json").read_text())


def _example_graphs() -> dict:
    import importlib.util

    spec = importlib.util.spec_from_file_location("example_graphs", ROOT / "tests" / "browser" / "example_graphs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: make() for name, make in module.EXAMPLES.items()}


def test_every_example_is_shipped_with_a_thumbnail() -> None:
    names = {p.stem for p in WORKFLOWS}
    assert names == set(_example_graphs()), "run tests/browser/export_examples.sh after editing example_graphs.py"
    for p in WORKFLOWS:
        # ComfyUI's templates dialog asks custom packs for <name>.jpg (mediaSubtype "jpg"), never .png.
        thumb = p.with_suffix(".jpg")
        assert thumb.exists() and thumb.stat().st_size > 10_000, thumb
        assert thumb.read_bytes()[:3] == b"\xff\xd8\xff", f"{thumb} is not a JPEG"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_matches_its_graph_and_the_contract(path: Path) -> None:
    ui = json.loads(path.read_text())
    graph = _example_graphs()[path.stem]
    nodes = {n["id"]: n for n in ui["nodes"]}
    assert sorted(n["type"] for n in nodes.values()) == sorted(v["class_type"] for v in graph.values())
    titles = {v["_meta"]["title"] for v in graph.values()}
    for n in nodes.values():  # the frontend drops a title equal to the node's display name
        assert n.get("title") is None or n["title"] in titles, n.get("title")
    for n in nodes.values():
        if n["type"].startswith("Embody"):
            spec = CONTRACT[n["type"]]
            assert [o["type"] for o in n.get("outputs", [])] == spec["outputs"], n["type"]
            for inp in n.get("inputs", []):
                assert inp["name"] in spec["inputs"], (n["type"], inp["name"])
        optional = str(n.get("title", "")).startswith("Optional:")
        assert n.get("mode", 0) == (2 if optional else 0), (n["type"], n.get("title"))
    # Links: [id, from_node, from_slot, to_node, to_slot, type] and both ends exist with that type.
    for link_id, src, src_slot, dst, dst_slot, kind in ui["links"]:
        assert nodes[src]["outputs"][src_slot]["type"] == kind or kind == "*", (link_id, kind)
        assert nodes[dst]["inputs"][dst_slot]["link"] == link_id
