"""Progress texts long nodes show while they run."""

from __future__ import annotations

from models.video.fusion import FusionSchedule, window_indices
from models.video.progress_text import frames_text, sampler_text


def test_sampler_text_counts_windows_within_steps() -> None:
    windows = len(window_indices(138, FusionSchedule(72, 6)))  # 2 windows
    assert windows == 2
    texts = [sampler_text(d, 3, windows) for d in range(1, 7)]
    assert texts == ["step 1 of 3 · window 1 of 2", "step 1 of 3 · window 2 of 2", "step 2 of 3 · window 1 of 2",
                     "step 2 of 3 · window 2 of 2", "step 3 of 3 · window 1 of 2", "step 3 of 3 · window 2 of 2"]


def test_frames_text() -> None:
    assert frames_text("decoding", 24, 73) == "decoding frame 24 of 73"
