"""The keypoint box of a person and the person's size: the one place they are computed.

A person's box is the bounds of their points with confidence above the gate (``CONFIDENCE_GATE``, or another
threshold); where none pass, optionally the points with any confidence. People selection, detector tracking, the
"largest person" fallback of alignment and the motion model's person scale all use it.
"""

from __future__ import annotations

import numpy as np

from .layout import CONFIDENCE_GATE

# Body (COCO-17) and face points define a person's size; hands are often outside the box of interest.
SIZE_POINTS = np.r_[0:17, 23:91]


def confident_points(person: np.ndarray, threshold: float = CONFIDENCE_GATE, fallback: bool = True) -> np.ndarray:
    """[N, 2] x, y of the points of ``person`` [K, 3] with confidence > threshold; with ``fallback``, the points with
    confidence > 0 when none pass. Keeps the input dtype."""
    pts = person[person[:, 2] > threshold, :2]
    if fallback and len(pts) == 0:
        pts = person[person[:, 2] > 0, :2]
    return pts


def keypoint_box(person: np.ndarray, threshold: float = CONFIDENCE_GATE, fallback: bool = True,
                 min_points: int = 1) -> np.ndarray | None:
    """xyxy [4] bounds of :func:`confident_points` (input units and dtype), or None with fewer than ``min_points``."""
    pts = confident_points(person, threshold, fallback)
    if len(pts) < max(min_points, 1):
        return None
    return np.concatenate([pts.min(axis=0), pts.max(axis=0)])


def person_scale(keypoints: np.ndarray, canvas: tuple[int, int]) -> float:
    """Person size in pixels of one pose [133, 3] (normalised x, y): the larger side of the keypoint box of the
    confident body and face points (or of any confident points if those are missing). 0.0 when fewer than 2."""
    scale = np.array(canvas, dtype=np.float64)
    kp = np.asarray(keypoints)
    for subset in (kp[SIZE_POINTS], kp):
        box = keypoint_box(subset, fallback=False, min_points=2)
        if box is not None:
            box = box.astype(np.float64)
            return float(((box[2:] - box[:2]) * scale).max())
    return 0.0
