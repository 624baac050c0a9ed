"""The demo (`python -m models.demo`) as a new user meets it: bad arguments fail in one line before any work,
silent audio is said to be silent, summary.json is strict JSON, and the plots show what they can honestly show.

The pose backend is a scripted stand-in (a synthetic person), so these run without mediapipe or DWPose weights.
"""

from __future__ import annotations

import argparse
import json
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import scripts.demo as demo
from scripts.demo_plots import mouth_opening
from tests.helpers.synthetic_inputs import synthetic_reference

W, H = 256, 384


class ScriptedPerson:
    """A PoseBackend that finds the synthetic person (hands optional) in every frame."""

    name = "scripted"

    def __init__(self, hands: bool) -> None:
        kp = synthetic_reference((W, H)).keypoints[0].copy()
        if not hands:
            kp[:, 91:, 2] = 0.0
        kp[:, :, 0] *= W
        kp[:, :, 1] *= H
        self.people = kp

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        return [self.people.copy() for _ in frames]

    def close(self) -> None:
        pass


def _image(path: Path) -> str:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(path)
    return str(path)


def _wav(path: Path, samples: np.ndarray, rate: int = 16000) -> str:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return str(path)


def _args(tmp_path: Path, **kw: object) -> argparse.Namespace:
    base = {"image": None, "audio": None, "out": str(tmp_path / "out"), "fps": 25.0, "seed": 0,
            "motion_model": None, "dwpose_dir": None}
    return argparse.Namespace(**{**base, **kw})


@pytest.fixture
def no_backend(monkeypatch):
    def fail(*_a):
        raise AssertionError("the demo started work before checking its arguments")

    monkeypatch.setattr(demo, "make_backend", fail)


@pytest.mark.parametrize("case", ["missing image", "not an image", "missing audio", "empty audio",
                                  "undecodable audio", "missing dwpose dir files"])
def test_bad_arguments_fail_in_one_line_before_any_work(tmp_path, no_backend, case) -> None:
    junk = tmp_path / "junk.png"
    junk.write_text("this is not a picture")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF nonsense " * 20)
    kw = {"missing image": {"image": str(tmp_path / "nope.png")},
          "not an image": {"image": str(junk)},
          "missing audio": {"audio": str(tmp_path / "nope.wav")},
          "empty audio": {"audio": str(empty)},
          "undecodable audio": {"audio": str(garbage)},
          "missing dwpose dir files": {"dwpose_dir": str(tmp_path)}}[case]
    with pytest.raises(SystemExit) as info:
        demo.run(_args(tmp_path, **kw))
    message = str(info.value.code)
    assert message.startswith("demo: --") and "\n" not in message, message
    assert str(next(iter(kw.values()))) in message
    assert not (tmp_path / "out").exists(), "no output may be written before the arguments are checked"


@pytest.mark.parametrize("hands", [True, False])
def test_silent_audio_warns_and_summary_is_strict_json(tmp_path, monkeypatch, caplog, hands) -> None:
    pytest.importorskip("av")
    monkeypatch.setattr(demo, "make_backend", lambda *_a: ScriptedPerson(hands))
    silent = _wav(tmp_path / "silence.wav", np.zeros(16000 * 2))
    with caplog.at_level("WARNING", logger="embody.demo"):
        demo.run(_args(tmp_path, image=_image(tmp_path / "ref.png"), audio=silent))
    assert any("silent" in r.getMessage() for r in caplog.records)
    text = (tmp_path / "out" / "summary.json").read_text()
    summary = json.loads(text, parse_constant=lambda c: pytest.fail(f"summary.json holds {c}"))
    assert summary["motion"]["silent_audio"] is True
    assert summary["motion"]["mouth_loudness_correlation"] is None
    assert summary["hands_detected"] == {"left hand": hands, "right hand": hands}
    reference_scores = summary["reference"]["hand_clarity_left_right"]
    assert all(isinstance(v, float) for v in reference_scores) if hands else reference_scores == [None, None]
    scores = list(summary["hand_clarity_vs_blur"].values())
    if hands:
        assert all(isinstance(v, float) for v in scores)
    else:  # no hand found: nothing is scored (no box guessed from the arm)
        assert scores == [None] * len(scores)
    for name in ("hand_clarity.png", "motion.png"):
        assert Image.open(tmp_path / "out" / name).size[0] > 100


def test_mouth_opening_is_on_a_fixed_scale_so_a_closed_mouth_stays_low() -> None:
    pose = synthetic_reference((W, H), frames=3)
    kp = pose.keypoints.copy()
    upper, lower = 23 + 62, 23 + 66
    kp[1, 0, lower, 1] = kp[1, 0, upper, 1]  # closed
    kp[2, 0, lower, 1] = kp[2, 0, upper, 1] + 0.6 * (kp[2, 0, 23 + 8, 1] - kp[2, 0, 0, 1])  # wide open
    opening = mouth_opening(pose.with_keypoints(kp))
    assert opening[1] == 0.0 and opening[2] == pytest.approx(0.6, abs=1e-5)
    assert 0.0 < opening[0] < 0.2  # the synthetic face's slightly parted lips are not "wide open"
