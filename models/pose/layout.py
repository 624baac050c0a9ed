"""COCO-WholeBody 133-keypoint layout and its OpenPose-18 view.

Index ranges follow COCO-WholeBody (also DWPose's output order): 0-16 body (COCO-17), 17-22 feet, 23-90 face
(68 points, iBUG/dlib order), 91-111 left hand, 112-132 right hand. "Left" is always the subject's left.
The OpenPose-18 body (nose, neck, r-sho, r-elb, r-wri, l-sho, l-elb, l-wri, r-hip, r-knee, r-ank, l-hip, l-knee,
l-ank, r-eye, l-eye, r-ear, l-ear) is what MimicMotion and ControlNet draw; its neck is the mean of both shoulders.
"""

from __future__ import annotations

import numpy as np

NUM_KEYPOINTS = 133

BODY = slice(0, 17)
FEET = slice(17, 23)
FACE = slice(23, 91)
LEFT_HAND = slice(91, 112)
RIGHT_HAND = slice(112, 133)

# COCO-17 body indices.
NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR = 0, 1, 2, 3, 4
LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW = 5, 6, 7, 8
LEFT_WRIST, RIGHT_WRIST, LEFT_HIP, RIGHT_HIP = 9, 10, 11, 12
LEFT_KNEE, RIGHT_KNEE, LEFT_ANKLE, RIGHT_ANKLE = 13, 14, 15, 16

# Face sub-ranges inside the 133 layout (68-point iBUG order offset by 23).
FACE_JAW = slice(23, 40)
FACE_MOUTH = slice(71, 91)
# Inner lips: 60-67 of the 68 points -> upper inner lip centre 62, lower inner lip centre 66.
UPPER_INNER_LIP = 23 + 62
LOWER_INNER_LIP = 23 + 66

# Keypoint "parts" used for per-part losses and weights (face = expression, body+feet, hands).
PART_NAMES = ("body", "face", "hands")


def part_index(part: str) -> np.ndarray:
    """Indices (int64) of one part: "body" (body + feet), "face", or "hands" (left then right)."""
    if part == "body":
        return np.r_[0:23]
    if part == "face":
        return np.r_[23:91]
    if part == "hands":
        return np.r_[91:133]
    raise ValueError(f"unknown keypoint part {part!r}; expected one of {PART_NAMES}")


# OpenPose-18 body: for each OpenPose index, the COCO index it comes from (-1 = neck, the mean of the shoulders).
OPENPOSE18_FROM_COCO = np.array([0, -1, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3], dtype=np.int64)

# OpenPose body limbs (0-based pairs into OpenPose-18): the 17 drawn by DWPose / MimicMotion / ControlNet.
OPENPOSE_LIMBS = np.array(
    [[1, 2], [1, 5], [2, 3], [3, 4], [5, 6], [6, 7], [1, 8], [8, 9], [9, 10], [1, 11],
     [11, 12], [12, 13], [1, 0], [0, 14], [14, 16], [0, 15], [15, 17]],
    dtype=np.int64,
)

# 21-point hand edges (wrist root, then thumb, index, middle, ring, pinky; 4 joints each).
HAND_EDGES = np.array(
    [[0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [0, 9], [9, 10], [10, 11], [11, 12],
     [0, 13], [13, 14], [14, 15], [15, 16], [0, 17], [17, 18], [18, 19], [19, 20]],
    dtype=np.int64,
)

# The keypoint confidence gate, defined only here: DWPose, ControlNet-aux and MimicMotion draw, convert and fit
# only points above it (their draw_pose and alignment code); Embody uses the same value wherever a point counts as seen.
CONFIDENCE_GATE = 0.3


def coco_to_openpose18(keypoints: np.ndarray, neck_rule: str = "binary", dtype: type = np.float32) -> np.ndarray:
    """Map COCO-17 body points to the OpenPose-18 body (the one place this conversion is defined).

    keypoints: [..., >=17, 3] (x, y, confidence). Returns [..., 18, 3] in ``dtype``; the neck is the mean of the
    shoulders. neck_rule: "binary" (DWPose/MimicMotion: neck confidence 1 when both shoulders > 0.3, else 0) or
    "min" (rtmlib: the smaller shoulder confidence). dtype float64 reproduces what DWPose's detectors hand to their
    drawing and alignment code (float64 neck mean), float32 what EMBODY_POSE stores.
    """
    kp: np.ndarray = np.asarray(keypoints, dtype=dtype)
    src = np.where(OPENPOSE18_FROM_COCO < 0, 0, OPENPOSE18_FROM_COCO)
    out = kp[..., src, :].copy()
    left, right = kp[..., LEFT_SHOULDER, :], kp[..., RIGHT_SHOULDER, :]
    out[..., 1, :2] = (left[..., :2] + right[..., :2]) / 2.0
    if neck_rule == "binary":
        both = (left[..., 2] > CONFIDENCE_GATE) & (right[..., 2] > CONFIDENCE_GATE)
        out[..., 1, 2] = both.astype(dtype)
    elif neck_rule == "min":
        out[..., 1, 2] = np.minimum(left[..., 2], right[..., 2])
    else:
        raise ValueError(f"neck_rule must be 'binary' or 'min', got {neck_rule!r}")
    return out


def openpose18_to_coco(body18: np.ndarray) -> np.ndarray:
    """Inverse of :func:`coco_to_openpose18` for the 17 COCO body points (the neck is dropped).

    body18: [..., 18, 3] -> [..., 17, 3].
    """
    body18 = np.asarray(body18, dtype=np.float32)
    out = np.zeros(body18.shape[:-2] + (17, 3), dtype=np.float32)
    for op_index, coco_index in enumerate(OPENPOSE18_FROM_COCO):
        if coco_index >= 0:
            out[..., coco_index, :] = body18[..., op_index, :]
    return out
