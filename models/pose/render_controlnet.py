"""ControlNet-OpenPose style pose renderer (the look of comfyui_controlnet_aux's DWPose/OpenPose preprocessors).

What ControlNet OpenPose models were trained on, as drawn by ControlNet's annotator and comfyui_controlnet_aux:
- every keypoint with confidence < 0.3 is dropped; confidence does not change colour;
- body: 17 limbs as filled ellipses (half-width 4, optionally scaled for xinsir's SDXL model) coloured palette*0.6,
  then 18 joint discs of radius 4 in the full palette colour; the neck is the shoulder midpoint, present when both
  shoulders have confidence > 0.3;
- hands: 20 rainbow edges of thickness 2 and 21 blue discs of radius 4;
- face: 68 landmarks plus both body eyes as white discs of radius 3;
- people are drawn one after the other (body, left hand, right hand, face), directly at the output size, in RGB.
The output is pixel-identical to comfyui_controlnet_aux's drawing of the same keypoints (tests/test_pose_render.py).
"""

from __future__ import annotations

import math
from typing import cast

import cv2
import numpy as np

from .layout import CONFIDENCE_GATE, FACE, HAND_EDGES, LEFT_HAND, OPENPOSE_LIMBS, RIGHT_HAND
from .render_palette import (
    BODY_COLORS,
    BODY_JOINT_RADIUS,
    EPS,
    FACE_DOT_RADIUS,
    HAND_EDGE_RGB,
    HAND_EDGE_THICKNESS,
    HAND_JOINT_RADIUS,
    STICK_WIDTH,
    openpose18_float64,
    sanitize_people,
)

LIMB_DIM = 0.6


def xinsir_stick_scale(width: int, height: int) -> int:
    """Stick width multiplier recommended for xinsir/controlnet-openpose-sdxl-1.0 (1 below 500 px, then 2..7)."""
    side = max(width, height)
    return 1 if side < 500 else min(2 + side // 1000, 7)


def _pixel(point: np.ndarray, width: int, height: int) -> tuple[int, int]:
    return int(point[0] * width), int(point[1] * height)


def _draw_person(canvas: np.ndarray, person: np.ndarray, stick: int, body: bool, hands: bool, face: bool) -> None:
    height, width = canvas.shape[:2]
    body18 = openpose18_float64(person)
    keep18 = body18[:, 2] >= CONFIDENCE_GATE
    if body:
        for limb_index, (a, b) in enumerate(OPENPOSE_LIMBS):
            if not (keep18[a] and keep18[b]):
                continue
            xs = body18[[a, b], 0] * float(width)
            ys = body18[[a, b], 1] * float(height)
            length = ((ys[0] - ys[1]) ** 2 + (xs[0] - xs[1]) ** 2) ** 0.5
            angle = math.degrees(math.atan2(ys[0] - ys[1], xs[0] - xs[1]))
            # OpenCV returns an int32 ndarray [N, 2]; its stubs say Sequence[Sequence[int]].
            poly = cast(np.ndarray, cv2.ellipse2Poly((int(np.mean(xs)), int(np.mean(ys))),
                                                     (int(length / 2), STICK_WIDTH * stick), int(angle), 0, 360, 1))
            cv2.fillConvexPoly(canvas, poly, [int(float(c) * LIMB_DIM) for c in BODY_COLORS[limb_index]])
        for joint in range(18):
            if keep18[joint]:
                cv2.circle(canvas, _pixel(body18[joint], width, height), BODY_JOINT_RADIUS, BODY_COLORS[joint], -1)
    if hands:
        for hand in (person[LEFT_HAND], person[RIGHT_HAND]):
            keep = hand[:, 2] >= CONFIDENCE_GATE
            if not keep.any():
                continue
            pts = [_pixel(p, width, height) for p in hand]
            for edge_index, (a, b) in enumerate(HAND_EDGES):
                if keep[a] and keep[b] and min(pts[a] + pts[b]) > EPS:
                    cv2.line(canvas, pts[a], pts[b], HAND_EDGE_RGB[edge_index] * 255, thickness=HAND_EDGE_THICKNESS)
            for i, (x, y) in enumerate(pts):
                if keep[i] and x > EPS and y > EPS:
                    cv2.circle(canvas, (x, y), HAND_JOINT_RADIUS, (0, 0, 255), -1)
    if face:
        face_pts = person[FACE]
        if (face_pts[:, 2] >= CONFIDENCE_GATE).any():
            # OpenPose's 70-point face ends with the two eyes; DWPose-based renderers append the body eyes.
            dots = np.concatenate([face_pts, body18[[14, 15]]], axis=0)
            for point in dots:
                x, y = _pixel(point, width, height)
                if point[2] >= CONFIDENCE_GATE and x > EPS and y > EPS:
                    cv2.circle(canvas, (x, y), FACE_DOT_RADIUS, (255, 255, 255), -1)


def render_frame_controlnet(
    people: np.ndarray,
    width: int,
    height: int,
    draw_body: bool = True,
    draw_hands: bool = True,
    draw_face: bool = True,
    xinsir_sticks: bool = False,
) -> np.ndarray:
    """Render one frame in the ControlNet OpenPose look.

    people: [P, 133, 3] COCO-WholeBody keypoints (x, y normalised 0..1, confidence).
    Returns uint8 [height, width, 3] RGB.
    """
    kp = sanitize_people(people)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    stick = xinsir_stick_scale(width, height) if xinsir_sticks else 1
    for person in kp:
        _draw_person(canvas, person, stick, draw_body, draw_hands, draw_face)
    return canvas
