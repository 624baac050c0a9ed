"""The frontend in a real browser: Debian's chromium driven by playwright-core against a real ComfyUI with the pack.

Skips unless COMFYUI_DIR/COMFY_PY are set (like the other integration tests), /usr/bin/chromium (or $CHROMIUM)
exists and `npm install` has been run in tests/browser. Checks that web/js/embody.js is served and loads without
console errors, that its widgets attach to the Hand Clarity and Fusion Schedule nodes and draw, and that every
shipped example workflow loads into the graph with no missing node types. Then it queues, from the page and on the
tiny random-weight models the other integration tests use, tests/workflows/pose_api.json, the pose-and-hands
example, the talking-body example (procedural branch; the muted branches stay muted), a short motion-model training
run and tests/workflows/hands_api.json, and checks every widget draws the data Python sent: pose scrubbers, the
clarity plot, the voice-and-motion lanes, the loss curve from live training messages and the nodes' progress text;
that no node grew over another after the run and each widget stays inside its node. Screenshots go to
tests/browser/screenshots/ (or $EMBODY_SCREENSHOTS); EMBODY_README_SHOTS=1 also refreshes the README's pictures in
web/readme/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.integration.comfy_server import PACK_DIR, ComfyServer

BROWSER_DIR = PACK_DIR / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.integration
if not (os.environ.get("COMFYUI_DIR") and os.environ.get("COMFY_PY")):
    pytest.skip("set COMFYUI_DIR and COMFY_PY to run the browser check", allow_module_level=True)
_HAVE_BROWSER = Path(CHROMIUM).exists() and shutil.which("node")
if not (_HAVE_BROWSER and (BROWSER_DIR / "node_modules" / "playwright-core").exists()):
    pytest.skip("needs chromium, node and `npm install` in tests/browser", allow_module_level=True)


# Shorter than the shipped settings so the CPU runs stay short (the graphs are otherwise the shipped ones).
RUN_OVERRIDES = {"PrimitiveFloat": {"value": 10.0}}  # talking_body's one fps source: 36 frames of the 3.6 s speech
TRAIN_STEPS = 120


def _example(name: str) -> dict:
    """A shipped example as an API graph with its stages and note, inputs under the names the example expects."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("example_graphs", BROWSER_DIR / "example_graphs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph = module.EXAMPLES[name]()
    for node in graph.values():
        inputs = node["inputs"]
        inputs.update({k: v for k, v in RUN_OVERRIDES.get(node["class_type"], {}).items()
                       if not isinstance(inputs.get(k), list)})  # a linked input stays linked
    graph["_note"] = module.NOTES.get(name, "")
    return graph


def _talking_body_run() -> dict:
    """The shipped talking_body example with the reference pose loaded from the astronaut's real pose file (Embody
    Pose Load) instead of found by the tiny random DWPose, so the scrubber and the pose warp show a real person."""
    graph = _example("talking_body")
    graph["2"] = {"class_type": "EmbodyPoseLoad", "inputs": {"file": "astronaut_pose.npz"},
                  "_meta": {"title": "Reference pose (saved astronaut pose)"}}
    return graph


def _training_graph() -> dict:
    """Procedural motion from the speech trains a small motion model: the loss widget gets live progress messages."""
    return {
        "1": {"class_type": "LoadImage", "inputs": {"image": "reference.png"}, "_meta": {"title": "Reference image"}},
        "2": {"class_type": "EmbodyDWPoseLoader", "_meta": {"title": "DWPose models"},
              "inputs": {"detector": "yolox_l.onnx", "pose_model": "dw-ll_ucoco_384.onnx"}},
        "3": {"class_type": "EmbodyPoseExtract", "_meta": {"title": "Reference pose"}, "inputs": {
            "image": ["1", 0], "pose_model": ["2", 0], "person": "largest", "max_people": 1, "detect_every": 1,
            "fps": 25.0, "style": "mimicmotion", "include_body": True, "include_hands": True, "include_face": True}},
        "4": {"class_type": "LoadAudio", "inputs": {"audio": "speech.wav"}, "_meta": {"title": "Speech"}},
        "5": {"class_type": "EmbodyAudioFeatures", "inputs": {"audio": ["4", 0], "fps": 25.0},
              "_meta": {"title": "Audio features"}},
        "6": {"class_type": "EmbodyRhythmMotion", "_meta": {"title": "Rhythm Motion (training target)"}, "inputs": {
            "reference": ["3", 0], "features": ["5", 0], "seed": 0, "intensity": 1.0, "gesture_amount": 1.0,
            "nod_amount": 1.0, "box_enlarge": 1.25, "person": 0}},
        "7": {"class_type": "EmbodyTrainMotionModel", "_meta": {"title": "Train Motion Model"}, "inputs": {
            "output_name": "browser_run", "fps": 25.0, "steps": TRAIN_STEPS, "batch_size": 2, "learning_rate": 1e-3,
            "window": 16, "overlap": 4, "d_model": 32, "layers": 1, "min_body_confidence": 0.0,
            "min_hand_clarity": 0.0, "resume": False, "seed": 0, "pose": ["6", 0], "audio": ["4", 0]}},
        "8": {"class_type": "PreviewImage", "inputs": {"images": ["7", 1]}, "_meta": {"title": "Loss curve"}},
    }


def _write_inputs(server: ComfyServer) -> None:
    from PIL import Image
    from skimage import data

    from models.io.media import write_video
    from models.io.pose_file import save_pose_file
    from models.pose.types import PoseSequence

    Image.fromarray(data.astronaut()).save(server.input / "example.png")
    Image.fromarray(data.astronaut()).save(server.input / "reference.png")
    # The astronaut's real pose (mediapipe, tests/data/astronaut_pose.json) as an Embody pose file: the tiny random
    # DWPose finds a scrambled skeleton, so the talking-body run loads this one and moves a person one can recognise.
    found = json.loads((PACK_DIR / "tests" / "data" / "astronaut_pose.json").read_text())
    keypoints = np.asarray(found["keypoints"], np.float32)[None, None]
    save_pose_file(PoseSequence(keypoints, tuple(found["canvas"]), 25.0), server.input / "astronaut_pose.npz")
    shutil.copy(PACK_DIR / "tests" / "data" / "speech.wav", server.input / "speech.wav")
    # pose_and_hand_clarity's dance.mp4: 8 frames of the astronaut sliding sideways (128x128, 12 fps)
    frames = np.stack([np.roll(data.astronaut()[::4, ::4], 3 * i, axis=1) for i in range(8)])
    write_video(server.input / "dance.mp4", frames, 12.0)


def test_frontend_loads_draws_and_opens_every_example(tmp_path: Path) -> None:
    from tests.helpers.tiny_dwpose import write_tiny_dwpose

    server = ComfyServer(tmp_path / "comfy", port=int(os.environ.get("EMBODY_BROWSER_PORT",
                                                                   os.environ.get("EMBODY_TEST_PORT", "8234"))))
    write_tiny_dwpose(server.models / "dwpose")
    _write_inputs(server)
    extra = server.write_extra_paths({"dwpose": "dwpose", "embody_motion": "embody/motion"})
    runs = []
    pose = json.loads((PACK_DIR / "tests" / "workflows" / "pose_api.json").read_text())
    for name, graph in (("pose", pose), ("pose_and_hand_clarity", _example("pose_and_hand_clarity")),
                        ("talking_body", _talking_body_run()), ("train_motion", _training_graph())):
        (tmp_path / f"run_{name}.json").write_text(json.dumps(graph))
        runs.append({"name": name, "api": str(tmp_path / f"run_{name}.json"), "timeout_s": 240})
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    server.start(extra)
    try:
        api = tmp_path / "api"
        subprocess.run([os.environ.get("PYTHON", "python3"), str(BROWSER_DIR / "example_graphs.py"), str(api)],
                       check=True)
        out = tmp_path / "out"
        run = subprocess.run(["node", str(BROWSER_DIR / "check_frontend.mjs"), server.base, str(out),
                              *map(str, sorted(api.glob("*_api.json")))],
                             capture_output=True, text=True, timeout=900,
                             env=dict(os.environ, CHROMIUM=CHROMIUM, EXECUTE_RUNS=str(tmp_path / "runs.json"),
                                      EXECUTE_API=str(PACK_DIR / "tests" / "workflows" / "hands_api.json")))
    finally:
        server.stop()
    shots = Path(os.environ.get("EMBODY_SCREENSHOTS", PACK_DIR / "tests" / "browser" / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    for png in out.glob("*.png"):
        shutil.copy(png, shots / png.name)
    shutil.copy(out / "report.json", shots / "report.json")
    report = json.loads((out / "report.json").read_text())
    assert run.returncode == 0 and not report["errors"], run.stdout + run.stderr
    assert report["checks"]["extension_served"]
    widgets = report["checks"]["widgets"]
    assert widgets["clarity_widget"] and widgets["fusion_widget"] and widgets["clarity_drawn_pixels"] > 50
    assert set(report["workflows"]) == {p.stem for p in (PACK_DIR / "workflows").glob("*.json")}
    assert all(not w["missing"] for w in report["workflows"].values())
    # A real run: the clarity scores computed in Python reach the widget, which draws them and the threshold.
    executed = report["checks"]["executed"]
    assert executed["frames"] == 3 and executed["threshold"] == 8.0, executed
    assert executed["line_pixels"] > 0 and executed["threshold_pixels"] > 20, executed
    # The pose scrubber draws the extracted skeleton; nothing of it is saved in the workflow; a reload shows it again.
    assert executed["pose"]["frames"] == 3 and executed["pose"]["lit"] > 30, executed["pose"]
    assert not executed["serialised"], executed["serialised"]
    assert executed["reload"]["pose_frames"] == 3 and executed["reload"]["pose_lit"] > 30, executed["reload"]
    assert executed["reload"]["clarity_line_pixels"] > 0, executed["reload"]
    # The fusion diagram at window 0 (the model default) draws the default windows.
    assert widgets["fusion_drawn_pixels"] > 500, widgets
    # The voice-and-motion lanes and the loss plot draw payloads of the shapes the nodes send (synthetic here; the
    # real runs below send the real ones).
    assert widgets["timeline_drawn_pixels"] > 500 and widgets["training_drawn_pixels"] > 100, widgets
    _check_runs(report["checks"]["runs"])
    if os.environ.get("EMBODY_README_SHOTS") == "1":
        _write_readme_shots(out, report["checks"]["runs"])


def _widget(run: dict, kind: str, node_type: str) -> dict:
    found = [w for w in run["widgets"] if w["kind"] == kind and w["type"] == node_type and w["mode"] == 0]
    assert found, f"no {kind} widget on {node_type}: {[(w['kind'], w['type']) for w in run['widgets']]}"
    return found[0]


def _check_runs(runs: dict) -> None:
    """The graphs queued from the page: each widget draws what its node sent, and nothing grew over its neighbours."""
    assert set(runs) == {"pose", "pose_and_hand_clarity", "talking_body", "train_motion"}, list(runs)
    for name, run in runs.items():
        assert run["status"]["status"] == "success", (name, run["status"])
        assert not run["overlaps_before"] and not run["overlaps_after"], (name, run["overlaps_after"])
        core = [g for g in run["grown"] if not g["type"].startswith("Embody")]
        assert not core, (name, core)  # core previews / video savers keep the size they were laid out at
        spill = [(w["type"], w["kind"], w["overflow"]) for w in run["widgets"] if w["overflow"] > 1]
        assert not spill, (name, spill)  # each Embody widget ends inside its node (px past the bottom edge)
    pose = _widget(runs["pose"], "pose", "EmbodyPoseExtract")
    assert pose["frames"] == 1 and pose["coloured"] > 100, pose  # tests/workflows/pose_api.json: one image
    assert [p["image"] for p in runs["pose"]["previews"]] == [[512, 512]] * 2, runs["pose"]["previews"]
    hands = runs["pose_and_hand_clarity"]
    for node_type in ("EmbodyPoseExtract", "EmbodyPoseSmooth"):
        pose = _widget(hands, "pose", node_type)
        assert pose["frames"] == 8 and pose["coloured"] > 100, pose  # the 8 frames of input/dance.mp4
    assert _widget(hands, "clarity", "EmbodyHandClarity")["coloured"] > 50
    assert {t["type"]: t["text"] for t in hands["text"]}.get("EmbodyPoseExtract") == "finding poses: frame 8 of 8", \
        hands["text"]
    # The clarity plot (768 px wide) is shown at 0.6 of its size or more, so its labels (~12 px) stay readable.
    (plot,) = [p for p in hands["previews"] if p["title"] == "Clarity plot"]
    assert plot["image"] and plot["size"][0] >= 0.6 * plot["image"][0], plot
    talk = runs["talking_body"]
    assert _widget(talk, "pose", "EmbodyRhythmMotion")["frames"] == 36, talk["widgets"]  # 3.6 s of speech at 10 fps
    assert _widget(talk, "timeline", "EmbodyAudioFeatures")["coloured"] > 300
    motion = _widget(talk, "timeline", "EmbodyRhythmMotion")
    assert motion["mouth"] > 20 and motion["hands"] > 20, motion  # the motion lanes under the voice
    train = runs["train_motion"]
    steps = [m["step"] for m in train["live"]["training"]]
    # Live progress messages while it trains (not only the final output): rising steps, some before the end.
    assert len(steps) >= 3 and steps == sorted(steps) and steps[0] < TRAIN_STEPS, steps
    assert _widget(train, "training", "EmbodyTrainMotionModel")["coloured"] > 100
    text = {t["type"]: t["text"] for t in train["text"]}.get("EmbodyTrainMotionModel", "")
    assert text.startswith(f"step {TRAIN_STEPS} of {TRAIN_STEPS} · loss"), train["text"]


# README pictures (web/readme/, written with EMBODY_README_SHOTS=1): file -> (run, widget kind, node type); each is
# the widget's own canvas from a real run (320 px wide), the trainer node is a page screenshot; all under 150 KB.
README_SHOTS = {
    "pose_widget.png": ("talking_body", "pose", "EmbodyRhythmMotion"),
    "timeline_widget.png": ("talking_body", "timeline", "EmbodyRhythmMotion"),
    "clarity_widget.png": ("pose_and_hand_clarity", "clarity", "EmbodyHandClarity"),
    "training_widget.png": ("train_motion", "training", "EmbodyTrainMotionModel"),
}


def _write_readme_shots(out: Path, runs: dict) -> None:
    from PIL import Image

    readme = PACK_DIR / "web" / "readme"
    readme.mkdir(exist_ok=True)
    files = {name: out / _widget(runs[run], kind, node_type)["file"]
             for name, (run, kind, node_type) in README_SHOTS.items()}
    files["fusion_widget.png"] = out / "fusion_widget.png"
    trainer = next(t for t in runs["train_motion"]["text"] if t["type"] == "EmbodyTrainMotionModel")
    files["training_node.png"] = out / trainer["file"]  # the node as it trains: loss plot and progress text
    for name, src in files.items():
        with Image.open(src) as im:
            im = im.convert("RGB")
            if im.width > 1000:
                im = im.resize((1000, round(im.height * 1000 / im.width)), Image.LANCZOS)
            im.save(readme / name, optimize=True)
        assert (readme / name).stat().st_size < 150_000, name
