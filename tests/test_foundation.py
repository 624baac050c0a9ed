"""House rules that apply to the whole pack, checked on the source, plus the shared pose data type and layout."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from models.pose.layout import (
    LEFT_HAND,
    NUM_KEYPOINTS,
    OPENPOSE18_FROM_COCO,
    RIGHT_HAND,
    coco_to_openpose18,
    openpose18_to_coco,
    part_index,
)
from models.pose.types import PoseSequence

ROOT = Path(__file__).resolve().parents[1]
PACK_SOURCES = sorted(p for d in ("models", "nodes") for p in (ROOT / d).rglob("*.py")) + [ROOT / "__init__.py"]
# Command-line entry points (python -m scripts.X from the pack folder): never imported by ComfyUI, absolute imports.
SCRIPT_SOURCES = sorted((ROOT / "scripts").rglob("*.py"))
COMFY_MODULES = {"comfy", "comfy_api", "comfy_extras", "folder_paths", "server", "nodes", "execution"}


def _imports(path: Path) -> list[tuple[int, str, int]]:
    """(line, module, level) for every import in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.lineno, node.module or "", node.level))
    return out


MODEL_SOURCES = [p for p in PACK_SOURCES if "models" in p.parts]


@pytest.mark.parametrize("path", MODEL_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_models_never_import_comfyui(path: Path) -> None:
    for line, module, level in _imports(path):
        if level == 0:
            assert module.split(".")[0] not in COMFY_MODULES, f"{path}:{line} imports {module}"


@pytest.mark.parametrize("path", PACK_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pack_code_imports_itself_relatively(path: Path) -> None:
    """Inside ComfyUI the names `models` and `nodes` belong to others; the pack must use relative imports."""
    for line, module, level in _imports(path):
        if level == 0:
            top = module.split(".")[0]
            assert top not in {"models", "nodes", "tests", "scripts"}, f"{path}:{line} imports {module}"


@pytest.mark.parametrize("path", PACK_SOURCES + SCRIPT_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_print_no_syspath_no_unsafe_torch_load(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            assert name != "print", f"{path}:{node.lineno} uses print; use logging"
            if name == "load" and isinstance(func, ast.Attribute) and getattr(func.value, "id", "") == "torch":
                kw = {k.arg: k.value for k in node.keywords}
                ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                assert ok, f"{path}:{node.lineno} torch.load without weights_only=True"
            if isinstance(func, ast.Attribute) and func.attr in {"insert", "append"}:
                target = ast.unparse(func.value)
                assert target != "sys.path", f"{path}:{node.lineno} edits sys.path"


def test_importing_the_pack_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Import time: no ComfyUI, torch, onnxruntime or network modules get imported, and the entry point exists."""
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location("embody_pack_under_test", ROOT / "__init__.py",
                                                  submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    new = {m.split(".")[0] for m in set(sys.modules) - before}
    assert not new & {"comfy_api", "folder_paths", "onnxruntime", "requests", "huggingface_hub", "mediapipe"}, new
    assert callable(module.comfy_entrypoint)
    assert module.WEB_DIRECTORY == "./web/js"
    assert not hasattr(module, "NODE_CLASS_MAPPINGS"), "V3 only: exporting both registries drops the entry point"


def test_openpose18_mapping_matches_dwpose() -> None:
    # DWPose / controlnet_aux: openpose[1..] from mmpose [17(neck),6,8,10,7,9,12,14,16,13,15,2,1,4,3].
    assert OPENPOSE18_FROM_COCO.tolist() == [0, -1, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3]
    kp = np.zeros((17, 3), np.float32)
    kp[:, 0] = np.arange(17) / 20
    kp[:, 1] = np.arange(17) / 40
    kp[:, 2] = 0.9
    kp[6, 2] = 0.2  # right shoulder below the 0.3 gate
    op = coco_to_openpose18(kp)
    assert np.allclose(op[1, :2], (kp[5, :2] + kp[6, :2]) / 2)
    assert op[1, 2] == 0.0  # binary neck rule
    assert coco_to_openpose18(kp, neck_rule="min")[1, 2] == pytest.approx(0.2)
    assert np.array_equal(op[2], kp[6]) and np.array_equal(op[15], kp[1])
    assert np.array_equal(openpose18_to_coco(op), kp)
    with pytest.raises(ValueError, match="neck_rule"):
        coco_to_openpose18(kp, neck_rule="avg")


def test_parts_cover_every_keypoint_once() -> None:
    idx = np.concatenate([part_index(p) for p in ("body", "face", "hands")])
    assert sorted(idx.tolist()) == list(range(NUM_KEYPOINTS))
    assert (LEFT_HAND.stop - LEFT_HAND.start, RIGHT_HAND.stop - RIGHT_HAND.start) == (21, 21)
    with pytest.raises(ValueError, match="unknown keypoint part"):
        part_index("tail")


def test_pose_sequence_validates_its_arrays() -> None:
    pose = PoseSequence.empty(3, (64, 32), fps=24)
    assert (pose.num_frames, pose.num_people, pose.canvas, pose.fps) == (3, 1, (64, 32), 24.0)
    assert not pose.person_present().any()
    with pytest.raises(ValueError, match=r"\[frames, people, 133, 3\]"):
        PoseSequence(np.zeros((3, 17, 3)), (64, 32))
    with pytest.raises(ValueError, match="canvas"):
        PoseSequence(np.zeros((1, 1, 133, 3)), (0, 32))
    with pytest.raises(ValueError, match="fps"):
        PoseSequence(np.zeros((1, 1, 133, 3)), (8, 8), fps=0)
    with pytest.raises(ValueError, match="hand_clarity"):
        PoseSequence(np.zeros((2, 1, 133, 3)), (8, 8), hand_clarity=np.zeros((2, 2)))
    kp = np.zeros((2, 1, 133, 3), np.float32)
    kp[1, 0, 0] = (0.5, 0.25, 0.8)
    pose = PoseSequence(kp, (100, 40))
    assert pose.person_present().tolist() == [[False], [True]]
    assert np.allclose(pose.pixels()[1, 0, 0], (50, 10))
    assert pose.select_frames(slice(1, 2)).num_frames == 1


def test_registry_metadata_is_complete() -> None:
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project, comfy = meta["project"], meta["tool"]["comfy"]
    assert project["name"] == "embody" and "comfyui" not in project["name"].lower()
    assert project["version"].count(".") == 2 and project["urls"]["Repository"]
    assert (ROOT / project["license"]["file"]).is_file()
    assert comfy["PublisherId"] and comfy["DisplayName"] and comfy["requires-comfyui"]
    assert (ROOT / comfy["Icon"]).is_file()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        assert not line.strip().lower().startswith(("torch", "mediapipe")), f"requirements.txt must not pin {line}"


def test_non_finite_keypoints_become_missing(caplog: pytest.LogCaptureFixture) -> None:
    kp = np.full((2, 1, 133, 3), 0.5, np.float32)
    kp[0, 0, 3] = (np.nan, 0.5, 0.9)
    kp[1, 0, 7, 2] = np.inf
    pose = PoseSequence(kp, (64, 64))
    assert np.isfinite(pose.keypoints).all()
    assert pose.keypoints[0, 0, 3].tolist() == [0, 0, 0] and pose.keypoints[1, 0, 7].tolist() == [0, 0, 0]
    assert pose.keypoints[0, 0, 4].tolist() == [0.5, 0.5, 0.5]
    assert "marked missing" in caplog.text


def test_the_confidence_gate_is_defined_once() -> None:
    """0.3 as a keypoint confidence gate lives in models/pose/layout.py only; everything else imports it.

    Flags module constants and default arguments set to the literal 0.3 (a detector's box score is a different
    quantity, and so is a tracking IoU: those keep their own constants)."""
    allowed = {("models/pose/layout.py", "CONFIDENCE_GATE"), ("models/pose/yolox.py", "PERSON_THR"),
               ("models/pose/select.py", "TRACK_IOU")}
    found = []
    for path in MODEL_SOURCES:
        rel = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value == 0.3:
                for target in node.targets:
                    if isinstance(target, ast.Name) and (rel, target.id) not in allowed:
                        found.append(f"{rel}:{node.lineno} {target.id}")
            if isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Constant) and node.value.value == 0.3:
                found.append(f"{rel}:{node.lineno} {ast.unparse(node.target)}")
            if isinstance(node, ast.FunctionDef):
                defaults = node.args.defaults + [d for d in node.args.kw_defaults if d is not None]
                found += [f"{rel}:{node.lineno} {node.name}() default" for d in defaults
                          if isinstance(d, ast.Constant) and d.value == 0.3]
    assert not found, found
