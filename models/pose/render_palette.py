"""Colours and geometry shared by the OpenPose-family pose renderers (DWPose, ControlNet, MimicMotion).

All three draw the same 17 body limbs and 18 joints with the classic OpenPose rainbow, hands as a 20-edge rainbow,
and the face as dots. The numbers below are that published convention (OpenPose body palette; HSV hue = edge/20).
"""

from __future__ import annotations

import numpy as np

from .layout import coco_to_openpose18

# OpenPose body palette: joint i and limb i use colour i (RGB as listed by OpenPose/ControlNet).
BODY_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
    (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
    (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)

# Stick half-width (pixels of the drawing canvas) and joint radii shared by the OpenPose-family renderers.
STICK_WIDTH = 4
BODY_JOINT_RADIUS = 4
HAND_JOINT_RADIUS = 4
HAND_EDGE_THICKNESS = 2
FACE_DOT_RADIUS = 3
# Hands and face are skipped when their integer pixel position is not > EPS (i.e. at x <= 0 or y <= 0).
EPS = 0.01


def hsv_to_rgb(hue: float, saturation: float = 1.0, value: float = 1.0) -> np.ndarray:
    """Standard hexcone HSV -> RGB (Foley & van Dam), float64 [3] in 0..1.

    Written in the same floating-point order as the common reference implementation so that the hand-edge colours
    (hue = edge/20) are bit-identical to those of DWPose-based renderers.
    """
    h6 = hue * 6.0
    sector = int(h6)
    frac = h6 - sector
    p = value * (1.0 - saturation)
    q = value * (1.0 - saturation * frac)
    t = value * (1.0 - saturation * (1.0 - frac))
    if saturation == 0:
        return np.array([value, value, value], dtype=np.float64)
    table = {0: (value, t, p), 1: (q, value, p), 2: (p, value, t), 3: (p, q, value), 4: (t, p, value), 5: (value, p, q)}
    return np.array(table[sector % 6], dtype=np.float64)


# Unit-brightness rainbow for the 20 hand edges, float64 [20, 3].
HAND_EDGE_RGB = np.stack([hsv_to_rgb(i / 20.0) for i in range(20)])


def sanitize_people(people: np.ndarray) -> np.ndarray:
    """float64 copy of [P, 133, 3] keypoints safe to draw: non-finite points become missing (all zero), coordinates
    are bounded to +-100 canvas sizes (far off-canvas either way; keeps OpenCV's integer coordinates in range) and
    confidences clipped to 0..1 as EMBODY_POSE defines them."""
    kp = np.array(people, dtype=np.float64)
    bad = ~np.isfinite(kp).all(axis=-1)
    kp[bad] = 0.0
    kp[..., :2] = np.clip(kp[..., :2], -100.0, 100.0)
    kp[..., 2] = np.clip(kp[..., 2], 0.0, 1.0)
    return kp


def openpose18_float64(person: np.ndarray) -> np.ndarray:
    """OpenPose-18 body of one person in float64, [133, 3] -> [18, 3], as DWPose's drawing code receives it
    (:func:`layout.coco_to_openpose18` with the binary neck rule, kept in float64)."""
    return coco_to_openpose18(person[:17], "binary", np.float64)
