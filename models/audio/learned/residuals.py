"""Pose residuals relative to a reference pose, in units of the reference person's size (VLOGGER's Delta-theta).

A residual of keypoint k at frame f is (p_fk - r_k) in pixels divided by the person scale s of the reference
(the larger side of the box around its confident body and face points). Dividing by s makes one model usable for
any canvas and any framing; adding residuals back onto another reference pose retargets the motion to it.
Vectors are laid out [x0, y0, x1, y1, ...] over the 133 COCO-WholeBody points (266 values).
"""

from __future__ import annotations

import numpy as np

from ...pose.boxes import person_scale
from ...pose.layout import CONFIDENCE_GATE, NUM_KEYPOINTS
from ...pose.types import PoseSequence


def reference_pose(pose: PoseSequence, person: int = 0, frame: int = 0) -> np.ndarray:
    """The [133, 3] pose of one person in one frame, with a clear error if it is not there."""
    if pose.num_frames == 0:
        raise ValueError("the reference pose is empty (0 frames); connect a pose extracted from the reference image")
    if not 0 <= person < pose.num_people:
        raise ValueError(
            f"reference person {person} does not exist: the reference pose has {pose.num_people} person slot(s); "
            f"pick a person index from 0 to {pose.num_people - 1}"
        )
    ref = pose.keypoints[frame, person]
    if person_scale(ref, pose.canvas) < 1.0:
        raise ValueError(
            f"no person found in the reference pose (frame {frame}, person {person}): fewer than two keypoints have "
            f"confidence above {CONFIDENCE_GATE}. Use a reference image where the person is visible, "
            "or another person index."
        )
    return ref


def to_residuals(
    keypoints: np.ndarray, reference: np.ndarray, canvas: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """keypoints [F, 133, 3] and reference [133, 3] (normalised) -> residuals float32 [F, 266] and a weight
    float32 [F, 266] (0 where the keypoint or its reference counterpart has confidence <= 0.3)."""
    scale = person_scale(reference, canvas)
    if scale < 1.0:
        raise ValueError("the reference pose has no person (fewer than two confident keypoints)")
    wh = np.array(canvas, dtype=np.float32)
    res = (keypoints[..., :2] - reference[None, :, :2]) * wh / scale
    ok = (keypoints[..., 2] > CONFIDENCE_GATE) & (reference[None, :, 2] > CONFIDENCE_GATE)
    weight = np.repeat(ok.astype(np.float32), 2, axis=-1)
    res = np.where(ok[..., None], res, 0.0).reshape(len(keypoints), NUM_KEYPOINTS * 2)
    return res.astype(np.float32), weight


def from_residuals(residuals: np.ndarray, reference: np.ndarray, canvas: tuple[int, int]) -> np.ndarray:
    """residuals [F, 266] + reference [133, 3] -> keypoints float32 [F, 133, 3], x and y clamped to the canvas
    (0..1) and confidence copied from the reference (a missing reference point stays missing)."""
    scale = person_scale(reference, canvas)
    wh = np.array(canvas, dtype=np.float32)
    xy = reference[None, :, :2] + residuals.reshape(-1, NUM_KEYPOINTS, 2) * scale / wh
    out = np.empty((len(residuals), NUM_KEYPOINTS, 3), dtype=np.float32)
    out[..., :2] = np.clip(xy, 0.0, 1.0)
    out[..., 2] = reference[None, :, 2]
    out[..., :2] = np.where(reference[None, :, 2:3] > 0, out[..., :2], 0.0)
    return out
