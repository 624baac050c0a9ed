"""The frontend in a real browser: Debian's chromium driven by playwright-core against a real ComfyUI with the pack.

Skips unless COMFYUI_DIR/COMFY_PY are set (like the other integration tests), /usr/bin/chromium (or $CHROMIUM)
exists and `npm install` has been run in tests/browser. Checks that web/js/embody.js is served and loads without
console errors, that its widgets attach to the Hand Clarity and Fusion Schedule nodes and draw, and that every
shipped example workflow loads into the graph with no missing node types; then runs tests/workflows/hands_api.json from
the page and checks the clarity widget draws the scores the Python node sent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

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


def test_frontend_loads_draws_and_opens_every_example(tmp_path: Path) -> None:
    from PIL import Image
    from skimage import data

    from tests.helpers.tiny_dwpose import write_tiny_dwpose

    server = ComfyServer(tmp_path / "comfy", port=int(os.environ.get("EMBODY_BROWSER_PORT",
                                                                   os.environ.get("EMBODY_TEST_PORT", "8234"))))
    write_tiny_dwpose(server.models / "dwpose")
    Image.fromarray(data.astronaut()).save(server.input / "example.png")
    extra = server.write_extra_paths({"dwpose": "dwpose"})
    server.start(extra)
    try:
        api = tmp_path / "api"
        subprocess.run([os.environ.get("PYTHON", "python3"), str(BROWSER_DIR / "example_graphs.py"), str(api)],
                       check=True)
        out = tmp_path / "out"
        run = subprocess.run(["node", str(BROWSER_DIR / "check_frontend.mjs"), server.base, str(out),
                              *map(str, sorted(api.glob("*_api.json")))],
                             capture_output=True, text=True, timeout=600,
                             env=dict(os.environ, CHROMIUM=CHROMIUM,
                                      EXECUTE_API=str(PACK_DIR / "tests" / "workflows" / "hands_api.json")))
    finally:
        server.stop()
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
    # The voice-and-motion lanes and the live loss plot draw what the nodes send.
    assert widgets["timeline_drawn_pixels"] > 500 and widgets["training_drawn_pixels"] > 100, widgets
    shots = Path(os.environ.get("EMBODY_SCREENSHOTS", PACK_DIR / "tests" / "browser" / "screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    for png in out.glob("*.png"):
        shutil.copy(png, shots / png.name)
