"""Pose previews (models/pose/preview.py): small on the wire, decode to the pose within quantisation, and the
JavaScript decoder (web/js/lib/pose.js) agrees through tests/data/pose_preview_parity.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.pose.preview import decode_preview, pose_preview, quantise, thinning_stride
from models.pose.types import PoseSequence

PARITY = Path(__file__).parent / "data" / "pose_preview_parity.json"


def _pose(frames: int, people: int = 1, seed: int = 0) -> PoseSequence:
    kp = np.random.default_rng(seed).random((frames, people, 133, 3), dtype=np.float32)
    return PoseSequence(kp, (576, 1024), 25.0)


def test_decoded_preview_matches_the_pose_within_quantisation() -> None:
    pose = _pose(12, people=2)
    payload = pose_preview(pose)
    assert payload["stride"] == 1 and payload["frames"] == 12 and payload["people"] == 2
    back = decode_preview(payload)
    assert back.shape == (12, 2, 133, 3)
    assert np.abs(back - pose.keypoints).max() <= 0.5 / 255 + 1e-6


def test_off_canvas_points_are_not_drawn() -> None:
    kp = np.full((1, 1, 133, 3), 0.5, np.float32)
    kp[0, 0, 3, 0] = 1.2
    kp[0, 0, 4, 1] = -0.1
    q = quantise(kp)
    assert q[0, 0, 3, 2] == 0 and q[0, 0, 4, 2] == 0 and q[0, 0, 5, 2] == 128


def test_ten_minute_clip_stays_small() -> None:
    """10 minutes at 25 fps: thinned to at most 300 frames, 160 KB of base64 for one person."""
    frames = 10 * 60 * 25
    assert thinning_stride(frames) == 50
    kp = np.zeros((frames, 1, 133, 3), np.float32)
    kp[:, 0, :, 0] = np.linspace(0, 1, frames, dtype=np.float32)[:, None]
    kp[..., 2] = 1
    payload = pose_preview(PoseSequence(kp, (512, 512), 25.0))
    wire = len(json.dumps(payload))
    assert payload["frames"] == 300 and payload["total_frames"] == frames and payload["stride"] == 50
    assert wire < 165_000, wire
    # frame k sent is pose frame k * stride
    back = decode_preview(payload)
    np.testing.assert_allclose(back[:, 0, 0, 0], kp[::50, 0, 0, 0], atol=0.5 / 255 + 1e-6)


def test_people_are_capped_and_short_clips_are_not_thinned() -> None:
    payload = pose_preview(_pose(3, people=10), max_people=8)
    assert payload["people"] == 8 and payload["stride"] == 1
    with pytest.raises(ValueError, match="max_frames"):
        thinning_stride(10, 0)
    empty = pose_preview(PoseSequence.empty(0, (64, 64)))
    assert empty["frames"] == 0 and decode_preview(empty).shape == (0, 1, 133, 3)


def parity_cases() -> list[dict]:
    pose = _pose(7, people=2, seed=3)
    kp = pose.keypoints.copy()
    kp[2, 1, 10, 0] = 1.5  # off canvas
    pose = pose.with_keypoints(kp)
    payload = pose_preview(pose, max_frames=4)
    return [{"payload": payload, "decoded": np.round(decode_preview(payload), 6).tolist()}]


def test_parity_fixture_is_current() -> None:
    """The fixture the JavaScript test reads is what this encoder writes.

    Regenerate: PYTHONPATH=. python tests/test_pose_preview.py
    """
    assert json.loads(PARITY.read_text()) == json.loads(json.dumps(parity_cases()))


if __name__ == "__main__":
    PARITY.write_text(json.dumps(parity_cases()))
