"""Training progress (models/audio/progress.py): step, loss, time left, a thinned curve (fake clock, no timing)."""

from __future__ import annotations

import pytest

from models.audio.learned.progress import TrainingProgress, format_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_time_left_from_the_mean_step_time_since_the_first_update() -> None:
    clock = Clock()
    p = TrainingProgress(1000, clock=clock)
    p.update(200, 1.5)  # resumed at step 200: the steps before do not count
    assert p.seconds_left() is None and p.text() == "step 200 of 1000 · loss 1.5"
    clock.now += 30.0
    p.update(300, 0.75)  # 100 steps in 30 s -> 0.3 s a step, 700 to go
    assert p.seconds_left() == pytest.approx(210.0)
    assert p.text() == "step 300 of 1000 · loss 0.75 · 3 min 30 s left"
    payload = p.payload()
    assert payload["curve"] == [[200, 1.5], [300, 0.75]] and payload["total"] == 1000


def test_curve_stays_small_and_keeps_both_ends() -> None:
    p = TrainingProgress(100_000, max_points=50, clock=Clock())
    for s in range(1, 10_001):
        p.update(s, 1.0 / s)
    assert len(p.curve) <= 50
    assert p.curve[0] == (1, 1.0) and p.curve[-1][0] == 10_000
    steps = [s for s, _ in p.curve]
    assert steps == sorted(steps)


def test_formatting_and_bad_totals() -> None:
    assert [format_seconds(v) for v in (4.4, 192, 7500)] == ["4 s", "3 min 12 s", "2 h 05 min"]
    with pytest.raises(ValueError, match="total_steps"):
        TrainingProgress(0)
