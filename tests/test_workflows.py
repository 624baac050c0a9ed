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


NOTE_TYPES = ("MarkdownNote", "Note")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_example_reads_as_an_artist_opens_it(path: Path) -> None:
    """Saved at a zoom where ComfyUI draws text, nodes in titled groups per stage, muted branches in their own
    groups below the main row, and a note naming every file the graph loads and where it goes."""
    ui = json.loads(path.read_text())
    assert ui["extra"]["ds"]["scale"] >= 0.6, "below ~0.6 ComfyUI draws grey boxes instead of text"
    groups = ui.get("groups", [])
    assert len(groups) >= 3 and all(g["title"] for g in groups)
    nodes = [n for n in ui["nodes"] if n["type"] not in NOTE_TYPES]

    def inside(n: dict, g: dict) -> bool:
        x, y, w, h = g["bounding"]
        return x <= n["pos"][0] and y <= n["pos"][1] and n["pos"][0] + n["size"][0] <= x + w + 1 \
            and n["pos"][1] + n["size"][1] <= y + h + 1
    for n in nodes:
        homes = [g for g in groups if inside(n, g)]
        assert len(homes) == 1, (n["type"], n.get("title"), [g["title"] for g in homes])
        muted = n.get("mode", 0) == 2
        assert homes[0]["title"].startswith("Optional") == muted, (n.get("title"), homes[0]["title"])
    main_bottom = max(g["bounding"][1] + g["bounding"][3] for g in groups if not g["title"].startswith("Optional"))
    for g in groups:
        if g["title"].startswith("Optional"):
            assert g["bounding"][1] > main_bottom, f"muted group {g['title']!r} must sit apart, below the main row"
    notes = [n for n in ui["nodes"] if n["type"] in NOTE_TYPES]
    assert len(notes) == 1
    text = notes[0]["widgets_values"][0]
    files = {v for n in _example_graphs()[path.stem].values() for v in n["inputs"].values()
             if isinstance(v, str) and v.endswith((".png", ".mp4", ".wav", ".onnx", ".pth", ".safetensors"))}
    for f in files:
        assert f in text, f"the note does not say where {f} goes"


def test_talking_body_has_one_fps_source() -> None:
    """Sound and motion stay in sync: the audio features and every video take their fps from one node."""
    graph = _example_graphs()["talking_body"]
    users = [n for n in graph.values() if n["class_type"] in ("EmbodyAudioFeatures", "CreateVideo")]
    sources = {tuple(n["inputs"]["fps"]) if isinstance(n["inputs"]["fps"], list) else n["inputs"]["fps"]
               for n in users}
    assert len(users) >= 3 and len(sources) == 1 and isinstance(next(iter(sources)), tuple), sources


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_matches_its_graph_and_the_contract(path: Path) -> None:
    ui = json.loads(path.read_text())
    graph = _example_graphs()[path.stem]
    nodes = {n["id"]: n for n in ui["nodes"] if n["type"] not in NOTE_TYPES}
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
