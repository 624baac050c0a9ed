"""The README's main job (`bash demo.sh` -> `python -m scripts.demo`) end to end on what ships with the pack."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from models.pose.mediapipe_backend import mediapipe_available

pytestmark = pytest.mark.skipif(not mediapipe_available(), reason="the demo's default pose backend is mediapipe")


def test_demo_writes_pose_guidance_and_a_talking_pose_video(tmp_path) -> None:
    av = pytest.importorskip("av")
    from scripts.demo import run

    args = argparse.Namespace(image=None, audio=None, out=str(tmp_path), fps=25.0, seed=0, motion_model=None,
                              dwpose_dir=None)
    summary = run(args)
    for name in ("pose_mimicmotion.png", "pose_controlnet.png", "confidence.png", "hand_clarity.png", "motion.png",
                 "talking_pose.mp4", "summary.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "summary.json").read_text())["motion"]["frames"] == summary["motion"]["frames"]
    # speech.wav is 3.62 s: round(3.62 * 25) frames, with the audio muxed in.
    assert summary["motion"]["frames"] == round(summary["motion"]["seconds"] * 25)
    with av.open(str(tmp_path / "talking_pose.mp4")) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        assert sum(1 for _ in container.decode(video=0)) == summary["motion"]["frames"]
    assert summary["motion"]["mouth_loudness_correlation"] >= 0.6
    clarity = [v for v in summary["hand_clarity_vs_blur"].values() if v is not None]
    assert len(clarity) >= 5 and np.all(np.diff(clarity) < 0), clarity  # clarity falls as blur grows
