"""Training progress for the graph: step, loss, time left and a thinned loss curve, sent while a trainer runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def format_seconds(seconds: float) -> str:
    """'45 s', '3 min 12 s', '2 h 05 min'."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


class TrainingProgress:
    """Collects (step, loss) as training runs; ``payload()`` is what the trainer node's widget draws.

    Time left is the mean time per step since the first update times the steps still to go (steps resumed from a
    checkpoint before the first update do not count). The curve keeps at most ``max_points`` points: when full,
    every other point is dropped, so early and late training stay visible.
    """

    def __init__(self, total_steps: int, max_points: int = 300, clock: Callable[[], float] = time.monotonic) -> None:
        if total_steps < 1:
            raise ValueError(f"total_steps must be at least 1, got {total_steps}")
        self.total = int(total_steps)
        self.max_points = max(2, int(max_points))
        self.clock = clock
        self.curve: list[tuple[int, float]] = []
        self._start: tuple[int, float] | None = None
        self.step = 0
        self.loss = float("nan")

    def update(self, step: int, loss: float) -> None:
        now = self.clock()
        if self._start is None:
            self._start = (int(step), now)
        self.step, self.loss = int(step), float(loss)
        self.curve.append((self.step, round(self.loss, 6)))
        if len(self.curve) > self.max_points:
            kept = self.curve[::2]
            self.curve = kept if kept[-1] == self.curve[-1] else [*kept, self.curve[-1]]

    def seconds_left(self) -> float | None:
        if self._start is None or self.step <= self._start[0]:
            return None
        per_step = (self.clock() - self._start[1]) / (self.step - self._start[0])
        return per_step * max(0, self.total - self.step)

    def text(self) -> str:
        left = self.seconds_left()
        eta = f" · {format_seconds(left)} left" if left is not None else ""
        return f"step {self.step} of {self.total} · loss {self.loss:.4g}{eta}"

    def payload(self) -> dict[str, Any]:
        return {"step": self.step, "total": self.total, "loss": self.loss, "seconds_left": self.seconds_left(),
                "text": self.text(), "curve": [list(p) for p in self.curve]}
