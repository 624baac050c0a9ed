"""Integration: Embody context windows inside ComfyUI's own context-window machinery (skips without COMFYUI_DIR).

Runs tests/integration/context_windows_check.py with ComfyUI's python in the checkout:
(a) handler level, as core drives it: the fused per-window outputs equal Embody's fusion maths (models/video/fusion.py)
    for every weighting, anchored and plain; (b) for the weightings core also has, the plain schedule equals core's
    IndexListContextHandler (standard_static, causal_window_fix off); (c) KSampler on a tiny Wan 2.1 DiT (core's
    own WanModel, random weights, detected by core's model detection from its state dict) with and without the node.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.comfy_server import PACK_DIR

pytestmark = pytest.mark.integration

if not (os.environ.get("COMFYUI_DIR") and os.environ.get("COMFY_PY")):
    pytest.skip("set COMFYUI_DIR and COMFY_PY to run the ComfyUI integration tests", allow_module_level=True)

SCRIPT = PACK_DIR / "tests" / "integration" / "context_windows_check.py"


def _run(*args: str) -> dict:
    proc = subprocess.run([os.environ["COMFY_PY"], str(SCRIPT), str(PACK_DIR), *args], cwd=os.environ["COMFYUI_DIR"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def handler_result() -> dict:
    return _run("handler")


def test_handler_fuses_with_embody_maths(handler_result: dict) -> None:
    diffs = handler_result["vs_embody"]
    assert len(diffs) == 30  # 3 lengths x 5 weightings x anchored / plain
    bad = {k: v for k, v in diffs.items() if v > 1e-5}
    assert not bad, bad
    anchored = handler_result["windows"]["n13_t6_o2_triangular_anchored"]
    assert all(w[0] == 0 for w in anchored) and len(anchored) == 3  # the reference latent in every window


def test_handler_equals_core_for_shared_weightings(handler_result: dict) -> None:
    for key, res in handler_result["vs_core"].items():
        assert res["same_windows"], key
        if "overlap-linear" in key:
            # Embody's overlap-linear ramps (r+1)/(O+1) over the frames actually shared (never 0); core's ramps
            # linspace(~0, 1, O) over the nominal overlap: a documented difference, so the results must differ.
            assert res["max_abs"] > 1e-3, key
        else:
            assert res["max_abs"] < 1e-5, (key, res)


def test_ksampler_runs_tiny_wan_with_and_without_embody_windows(tmp_path: Path) -> None:
    res = _run("ksampler", str(tmp_path))
    assert res["model"] == "WAN21"
    assert res["plain_calls"] == [21, 21]  # 2 steps, whole latent, cond + uncond batched
    assert res["window_latents"] == 9 and res["overlap_latents"] == 3  # 33 / 9 video frames at 4 per latent
    assert res["fused_calls"] == [9] * 6  # 3 anchored windows per step
    assert res["finite"] and res["fused_vs_plain"] > 1e-3
    assert res["fused_repeat"] == 0.0  # same seed, same video
    assert res["single_vs_plain"] < 1e-5  # a window longer than the video leaves sampling unchanged
    assert res["ramp_flat_vs_fused"] < 1e-4  # cfg_min == cfg: the ramp equals plain CFG


def test_ksampler_tiny_wan_animate_windows_carry_reference_and_pose(tmp_path: Path) -> None:
    res = _run("animate", str(tmp_path))
    assert res["model"] == "WAN22_Animate"
    assert (res["window_latents"], res["overlap_latents"]) == (4, 2)  # 13 / 5 video frames
    wins = res["windows"]
    assert [w["index_list"] for w in wins] == [[0, 1, 2, 3], [0, 3, 4, 5], [0, 4, 5, 6]]
    for w in wins:  # reference latent + 3 video latents; core slices pose latents past the reference
        assert (w["x"], w["concat"], w["pose"]) == (4, 4, 3)
        assert w["pose_slice_err"] == 0.0
    assert res["finite"] and res["shape"] == [1, 16, 7, 4, 4]
