"""Pose video in the drawing style of Wan2.2-Animate's preprocessing (kijai/ComfyUI-WanAnimatePreprocess, DrawViTPose,
which follows the Wan team's pose2d / human_visualization code; Apache-2.0). Our own implementation of that style.

Facts of the style (read in the source): the 133 COCO-WholeBody points become 20 body points, each the mean of a pair
of whole-body points (point and confidence): nose, neck (mid-shoulders), right/left shoulder, elbow, wrist, hip, knee,
ankle, eyes, ears, and the two feet (mean of big and small toe); 19 limbs are filled ellipses (cv2.ellipse2Poly with
1-degree steps, half-length int(length / 2), half-width = stick width, angle truncated to whole degrees) in 0.6 x the
limb's colour, then each point is a disc of the stick width in its full colour; hands: 20 bones as cv2.line of half the
stick width in HSV rainbow colours, then red-in-BGR (0, 0, 255) discs. Confidence threshold 0.5 everywhere; a point is
drawn only above it; hand points at a pixel coordinate <= 0.01 are skipped. Stick width: max(min(H, W) // 200 - 1, 1)
for the body, max(that // 2, 1) for hands. Black canvas, uint8 RGB as given.
"""

from __future__ import annotations

import colorsys
import math
from typing import cast

import cv2
import numpy as np

# Pairs of COCO-WholeBody indices averaged into the 20 body points.
_BODY_A = (0, 6, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3, 17, 20)
_BODY_B = (0, 5, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3, 18, 21)
# Limbs between the 20 body points (1-based, as the style defines them).
_LIMBS = ((2, 3), (2, 6), (3, 4), (4, 5), (6, 7), (7, 8), (2, 9), (9, 10), (10, 11), (2, 12), (12, 13), (13, 14),
          (2, 1), (1, 15), (15, 17), (1, 16), (16, 18), (14, 19), (11, 20))
_COLORS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
           (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
           (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85), (200, 200, 0), (100, 100, 0))
_HEAD = (0, 14, 15, 16, 17)  # nose, eyes, ears among the 20 body points
_HAND_EDGES = tuple((0 if i % 4 == 0 else i, i + 1) for i in range(20))  # 0-1, 1-2, 2-3, 3-4, 0-5, ...
LEFT_HAND = slice(91, 112)
RIGHT_HAND = slice(112, 133)
THRESHOLD = 0.5


def body_points(keypoints: np.ndarray) -> np.ndarray:
    """The style's 20 body points [20, 3] (x, y, confidence) from 133 whole-body points [133, 3]."""
    kp = np.asarray(keypoints, dtype=np.float64)
    return (kp[list(_BODY_A)] + kp[list(_BODY_B)]) / 2


def stick_widths(width: int, height: int) -> tuple[int, int]:
    """(body, hand) stick widths for a canvas (the style's automatic widths)."""
    body = max(int(min(height, width) / 200) - 1, 1)
    return body, max(body // 2, 1)


def _draw_hand(canvas: np.ndarray, hand: np.ndarray, width: int) -> None:
    eps = 0.01
    for ie, (a, b) in enumerate(_HAND_EDGES):
        k1, k2 = hand[a], hand[b]
        if k1[2] < THRESHOLD or k2[2] < THRESHOLD:
            continue
        x1, y1, x2, y2 = int(k1[0]), int(k1[1]), int(k2[0]), int(k2[1])
        if x1 > eps and y1 > eps and x2 > eps and y2 > eps:
            color = tuple(c * 255.0 for c in colorsys.hsv_to_rgb(ie / float(len(_HAND_EDGES)), 1.0, 1.0))
            cv2.line(canvas, (x1, y1), (x2, y2), color, thickness=width)
    for k in hand:
        if k[2] < THRESHOLD:
            continue
        x, y = int(k[0]), int(k[1])
        if x > eps and y > eps:
            cv2.circle(canvas, (x, y), width, (0, 0, 255), thickness=-1)


def render_wananimate(keypoints: np.ndarray, width: int, height: int, draw_hands: bool = True, draw_head: bool = True,
                      body_width: int = -1, hand_width: int = -1) -> np.ndarray:
    """Draw people [P, 133, 3] (x, y normalised to 0..1 of the canvas, confidence) on a black uint8 [H, W, 3] canvas.

    body_width / hand_width: stick widths in pixels (-1 = the style's automatic widths; 0 hand width = no hands).
    """
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    auto_body, auto_hand = stick_widths(width, height)
    bw = auto_body if body_width < 0 else body_width
    hw = auto_hand if hand_width < 0 else hand_width
    people = np.asarray(keypoints, dtype=np.float64).reshape(-1, 133, 3)
    for person in people:
        # The style averages the normalised points, then scales to pixels (same rounding as its pipeline).
        body = body_points(person)
        body[:, :2] = body[:, :2] * (width, height)
        pts = person.copy()
        pts[:, :2] = pts[:, :2] * (width, height)
        if not draw_head:
            body[list(_HEAD), 2] = 0
        for (a, b), color in zip(_LIMBS, _COLORS, strict=False):
            k1, k2 = body[a - 1], body[b - 1]
            if k1[2] < THRESHOLD or k2[2] < THRESHOLD:
                continue
            mx, my = (k1[0] + k2[0]) / 2, (k1[1] + k2[1]) / 2
            length = math.hypot(k1[0] - k2[0], k1[1] - k2[1])
            angle = math.degrees(math.atan2(k1[1] - k2[1], k1[0] - k2[0]))
            poly = cast(np.ndarray, cv2.ellipse2Poly((int(mx), int(my)), (int(length / 2), bw), int(angle), 0, 360, 1))
            cv2.fillConvexPoly(canvas, poly, [int(float(c) * 0.6) for c in color])
        for k, color in zip(body, _COLORS, strict=True):
            if k[2] < THRESHOLD:
                continue
            cv2.circle(canvas, (int(k[0]), int(k[1])), bw, color, thickness=-1)
        if draw_hands and hw != 0:
            _draw_hand(canvas, pts[LEFT_HAND], hw)
            _draw_hand(canvas, pts[RIGHT_HAND], hw)
    return canvas
