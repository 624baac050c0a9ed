"""The README's main job (`bash demo.sh` -> `python -m scripts.demo`) end to end on what ships with the pack."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from models.pose.mediapipe_backend import mediapipe_problem

MEDIAPIPE_PROBLEM = mediapipe_problem()
pytestmark = pytest.mark.skipif(MEDIAPIPE_PROBLEM is not None,
                                reason=f"the demo's default pose backend is mediapipe: {MEDIAPIPE_PROBLEM}")


def test_demo_writes_pose_guidance_and_a_talking_pose_video(tmp_path) -> None:
    av = pytest.importorskip("av")
    from scripts.demo import OUTPUTS, run

    args = argparse.Namespace(image=None, audio=None, out=str(tmp_path), fps=25.0, seed=0, motion_model=None,
                              dwpose_dir=None)
    summary = run(args)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(OUTPUTS)  # the README names each of them
    for name in OUTPUTS:
        assert (tmp_path / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "summary.json").read_text())["motion"]["frames"] == summary["motion"]["frames"]
    # speech.wav is 3.62 s: round(3.62 * 25) frames, with the audio muxed in.
    assert summary["motion"]["frames"] == round(summary["motion"]["seconds"] * 25)
    with av.open(str(tmp_path / "talking_pose.mp4")) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        assert sum(1 for _ in container.decode(video=0)) == summary["motion"]["frames"]
    assert summary["motion"]["mouth_loudness_correlation"] >= 0.6
    # The talking person: the reference photo warped into every motion frame, with the audio.
    with av.open(str(tmp_path / "talking_person.mp4")) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
        person = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert len(person) == summary["motion"]["frames"] == summary["talking_person"]["frames"]
    from skimage import data

    from models.audio.features import compute_audio_features
    from models.io.media import read_audio
    from scripts.demo import DEFAULT_AUDIO

    reference = np.asarray(data.astronaut(), np.float64)
    person = person.astype(np.float64)
    # The background stays put: the sky in the top-right corner is the photo's, up to H.264 loss.
    assert np.abs(person[:, :40, 472:] - reference[:40, 472:]).mean() < 6
    # The face moves: frames differ from one another by more than codec noise.
    face = np.s_[:, 60:200, 150:300]
    assert person[face].std(axis=0).mean() > 6
    # The mouth opens with the speech: dark pixels below the reference's lips follow the loudness.
    kp = np.array(json.loads((Path(__file__).parent / "data" / "astronaut_pose.json").read_text())["keypoints"])
    lips = kp[23 + 48:23 + 68, :2] * 512
    (x0, y0), (x1, y1) = lips.min(axis=0).astype(int) - 6, lips.max(axis=0).astype(int) + 14
    dark = (person[:, y0:y1, x0:x1].mean(axis=-1) < 60).mean(axis=(1, 2))
    waveform, rate = read_audio(DEFAULT_AUDIO)
    loudness = compute_audio_features(waveform, rate, fps=25.0).loudness[: len(dark)]
    assert np.corrcoef(dark, loudness)[0, 1] >= 0.5
    assert 0.9 < summary["talking_person"]["explained_fraction"] <= 1.0
    clarity = [v for v in summary["hand_clarity_vs_blur"].values() if v is not None]
    if any(summary["hands_detected"].values()):
        assert len(clarity) >= 5 and np.all(np.diff(clarity) < 0), clarity  # clarity falls as blur grows
    else:  # MediaPipe finds no hand on the astronaut: nothing is scored (no box guessed from the arm)
        assert clarity == []
