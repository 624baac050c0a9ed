"""EMBODY_POSE: the pose sequence that flows between Embody nodes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .layout import NUM_KEYPOINTS

logger = logging.getLogger(__name__)

# Largest side, in pixels, of any canvas Embody allocates (images it extracts poses from, pose canvases from
# POSE_KEYPOINT, render and map sizes). 8192 is the largest size the pack's size widgets ever offered; a frame that
# size is 192 MiB as uint8 RGB, so no graph can ask for gigabytes per frame by accident. The one place this bound
# lives: node widgets and model code both read it.
MAX_CANVAS_SIDE = 8192


def check_canvas_size(width: int, height: int, input_name: str) -> tuple[int, int]:
    """(width, height) as ints if both are 1..MAX_CANVAS_SIDE, else a ValueError naming ``input_name`` and the fix."""
    w, h = int(width), int(height)
    if w < 1 or h < 1:
        raise ValueError(f"{input_name} must be at least 1x1 pixels, got {w}x{h}")
    if w > MAX_CANVAS_SIDE or h > MAX_CANVAS_SIDE:
        raise ValueError(
            f"{input_name} is {w}x{h} pixels; Embody allows at most {MAX_CANVAS_SIDE} per side. Use a smaller size "
            f"(the pose is normalised, so it draws the same at any size)."
        )
    return w, h


@dataclass(frozen=True)
class PoseSequence:
    """A whole-body pose sequence for one canvas.

    keypoints: float32 [F, P, 133, 3] in COCO-WholeBody order. x and y are normalised to 0..1 of the canvas
        (x right, y down); the third value is detector confidence clipped to 0..1. A missing point has confidence 0.
        P is the number of person slots (the most people in any frame); an empty slot is all zeros.
    canvas: (width, height) in pixels of the images the poses were found in (or are meant for).
    fps: frames per second of the sequence.
    hand_clarity: optional float32 [F, P, 2] (left, right): std of the Laplacian of the hand crop; NaN = no hand.
    meta: free-form provenance (backend, model names, ...); never needed to interpret the arrays.
    """

    keypoints: np.ndarray
    canvas: tuple[int, int]
    fps: float = 25.0
    hand_clarity: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        kp = np.asarray(self.keypoints, dtype=np.float32)
        if kp.ndim != 4 or kp.shape[2] != NUM_KEYPOINTS or kp.shape[3] != 3:
            raise ValueError(
                f"pose keypoints must have shape [frames, people, {NUM_KEYPOINTS}, 3], got {tuple(kp.shape)}"
            )
        bad = ~np.isfinite(kp).all(axis=-1)
        if bad.any():
            # A NaN or infinite point would poison every later step (smoothing, residuals, drawing): mark it missing.
            logger.warning("pose: %d keypoints with NaN or infinite values were marked missing", int(bad.sum()))
            kp = kp.copy()
            kp[bad] = 0.0
        width, height = (int(v) for v in self.canvas)
        if width < 1 or height < 1:
            raise ValueError(f"pose canvas must be at least 1x1 pixels, got {width}x{height}")
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise ValueError(f"pose fps must be a positive number, got {self.fps}")
        object.__setattr__(self, "keypoints", kp)
        object.__setattr__(self, "canvas", (width, height))
        object.__setattr__(self, "fps", float(self.fps))
        if self.hand_clarity is not None:
            hc = np.asarray(self.hand_clarity, dtype=np.float32)
            if hc.shape != (kp.shape[0], kp.shape[1], 2):
                raise ValueError(
                    f"hand_clarity must have shape [frames, people, 2] = {(kp.shape[0], kp.shape[1], 2)}, "
                    f"got {tuple(hc.shape)}"
                )
            object.__setattr__(self, "hand_clarity", hc)

    @property
    def num_frames(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def num_people(self) -> int:
        return int(self.keypoints.shape[1])

    @property
    def width(self) -> int:
        return self.canvas[0]

    @property
    def height(self) -> int:
        return self.canvas[1]

    def person_present(self) -> np.ndarray:
        """bool [F, P]: True where a person slot holds at least one point with confidence > 0."""
        return np.asarray((self.keypoints[..., 2] > 0).any(axis=-1))

    def pixels(self) -> np.ndarray:
        """float32 [F, P, 133, 2]: keypoint positions in canvas pixels."""
        scale = np.array([self.width, self.height], dtype=np.float32)
        return self.keypoints[..., :2] * scale

    def with_keypoints(self, keypoints: np.ndarray, **changes: Any) -> PoseSequence:
        """A copy with new keypoints (hand clarity dropped unless passed, as it no longer describes the points)."""
        changes.setdefault("hand_clarity", None)
        return replace(self, keypoints=keypoints, **changes)

    def select_frames(self, index: np.ndarray | slice) -> PoseSequence:
        hc = None if self.hand_clarity is None else self.hand_clarity[index]
        return replace(self, keypoints=self.keypoints[index], hand_clarity=hc)

    @staticmethod
    def empty(num_frames: int, canvas: tuple[int, int], fps: float = 25.0, people: int = 1) -> PoseSequence:
        """A sequence with no detected person: every point has confidence 0."""
        return PoseSequence(np.zeros((num_frames, people, NUM_KEYPOINTS, 3), np.float32), canvas, fps)
