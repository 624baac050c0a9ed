"""A training video whose audio track outlasts its video track still trains (the video dataset builder)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from models.audio.learned.dataset import build_video_dataset
from tests.helpers.tiny_motion import reference_pose


def _write_video(path: str, video_s: float, audio_s: float, fps: int = 25, size: int = 64) -> None:
    from models.io.media import write_video

    sr = 16000
    t = np.arange(int(audio_s * sr)) / sr
    wave = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    frames = np.full((int(video_s * fps), size, size, 3), 160, np.uint8)
    write_video(path, frames, fps, audio=wave[None], sample_rate=sr, fit_audio=False)


class _Backend:
    name = "fake"

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        kp = reference_pose().keypoints[0, 0].copy()
        out = []
        for frame in frames:
            person = kp.copy()
            person[:, 0] *= frame.shape[1]
            person[:, 1] *= frame.shape[0]
            out.append(person[None])
        return out

    def close(self) -> None:
        pass


def test_audio_longer_than_video_is_trimmed_not_fatal(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    _write_video(str(folder / "long_audio.mp4"), video_s=2.0, audio_s=2.8)
    with caplog.at_level(logging.WARNING):
        ds = build_video_dataset(str(folder), _Backend(), 25.0, str(tmp_path / "cache"))
    ex = ds.examples[0]
    assert len(ex.features) == len(ex.residuals) == len(ex.valid) == 50
    assert "using the first 50" in caplog.text
    again = build_video_dataset(str(folder), _Backend(), 25.0, str(tmp_path / "cache"))  # from the trimmed cache
    np.testing.assert_array_equal(again.examples[0].features, ex.features)
