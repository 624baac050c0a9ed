"""MimicMotion's confidence-aware pose renderer, reproduced pixel for pixel.

MimicMotion (arXiv 2406.19680, Sec. 3.2 "confidence-aware pose guidance") feeds its PoseNet images in which each
keypoint and limb is drawn with a brightness equal to the detector's confidence. The official renderer
(Tencent/MimicMotion, mimicmotion/dwpose/util.py, draw_pose) behaves as follows, and this module reproduces it:

- The canvas is drawn at super-resolution: scale sr = 2160 / min(H, W) (1 when the short side is already 2160),
  size (int(H*sr), int(W*sr)), then resized to (W, H) with bilinear interpolation, so strokes become thin.
  (Ours only: frames more elongated than 16:1 get a smaller canvas, see MAX_SR_PIXELS, instead of gigabytes.)
- Body (OpenPose-18, neck = mean of shoulders with confidence 1 when both shoulders > 0.3 else 0): the 17 limbs are
  filled ellipses (half-width 4) skipped when an end has confidence < 0.3, coloured palette * (c_a * c_b); then the
  whole canvas is multiplied by 0.6 (so limbs are dimmed); then the joints with confidence > 0.3 are discs of
  radius 4 coloured palette * c. Drawing order is limb-major over people (limb 0 of every person, then limb 1 ...).
- Hands (all left hands, then all right hands): 20 edges of thickness 2, colour hsv(edge/20) * int(255 c_a c_b), then
  21 discs of radius 4 with one channel at int(255 c). No confidence gate. Points whose integer pixel position is
  not positive are skipped.
- Face: 68 discs of radius 3, grey level int(255 c). No gate.
- The canvas is built in OpenCV's BGR order with RGB-listed colours and converted BGR->RGB at the end, so red and
  blue come out swapped relative to ControlNet renders. We draw identically and swap channels at the end.

Arithmetic follows the float64 values DWPose's pipeline hands to the drawing code (our float32 keypoints are
promoted to float64 first); scores are clipped to 0..1 as EMBODY_POSE defines them.
Known, intentionally not reproduced quirk: the official body drawing indexes a limb end with confidence exactly 0.3
through an invalid joint index; float32 scores can never equal the float64 0.3 exactly, so this never occurs here.
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

# Short side of the super-resolution drawing canvas (the official ref_w).
REF_SHORT_SIDE = 2160
LIMB_DIM = 0.6
# uint8 -> uint8 table of "(canvas * 0.6).astype(uint8)" (float64 product, truncated), the official limb dimming.
_DIM_LUT = (np.arange(256, dtype=np.float64) * LIMB_DIM).astype(np.uint8)


# Largest hi-res canvas we draw on (16 squares of 2160^2, ~224 MB as uint8 RGB). The official rule alone would ask
# for 14 GB for a 1 x 1000 frame and crash the host; only aspect ratios beyond 16:1 ever reach this cap.
MAX_SR_PIXELS = 16 * REF_SHORT_SIDE * REF_SHORT_SIDE


def official_super_resolution_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) the official code would draw at: short side scaled to 2160, truncated."""
    short = min(height, width)
    scale = (REF_SHORT_SIDE / short) if short != REF_SHORT_SIDE else 1
    return int(width * scale), int(height * scale)


def super_resolution_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of the hi-res drawing canvas: the official size (bit-exact) unless it would exceed
    MAX_SR_PIXELS (aspect ratios beyond 16:1); then the largest canvas of the frame's aspect within that budget."""
    cw, ch = official_super_resolution_size(width, height)
    if cw * ch <= MAX_SR_PIXELS:
        return cw, ch
    scale = math.sqrt(MAX_SR_PIXELS / (float(width) * float(height)))
    return max(int(width * scale), 1), max(int(height * scale), 1)


def _draw_body(canvas: np.ndarray, bodies: list[np.ndarray]) -> None:
    """Dimmed limbs, then joints, on the hi-res canvas (in place). bodies: float64 [18, 3] per person (normalised)."""
    ch, cw = canvas.shape[:2]
    for limb_index in range(len(OPENPOSE_LIMBS)):
        a, b = OPENPOSE_LIMBS[limb_index]
        color = BODY_COLORS[limb_index]
        for body in bodies:
            ca, cb = body[a, 2], body[b, 2]
            if ca < CONFIDENCE_GATE or cb < CONFIDENCE_GATE:
                continue
            xs = body[[a, b], 0] * float(cw)
            ys = body[[a, b], 1] * float(ch)
            mid_x, mid_y = np.mean(xs), np.mean(ys)
            length = ((ys[0] - ys[1]) ** 2 + (xs[0] - xs[1]) ** 2) ** 0.5
            angle = math.degrees(math.atan2(ys[0] - ys[1], xs[0] - xs[1]))
            # OpenCV returns an int32 ndarray [N, 2]; its stubs say Sequence[Sequence[int]].
            poly = cast(np.ndarray, cv2.ellipse2Poly((int(mid_x), int(mid_y)), (int(length / 2), STICK_WIDTH),
                                                     int(angle), 0, 360, 1))
            weight = ca * cb
            # The official code fills int(c * weight) and later scales the whole canvas by 0.6 (truncating). Fills
            # overwrite (no blending) and the canvas holds only limbs then, so filling the dimmed value directly
            # gives the same pixels without touching the 7-megapixel canvas again.
            cv2.fillConvexPoly(canvas, poly, [int(_DIM_LUT[int(c * weight)]) for c in color])
    for joint in range(18):
        color = BODY_COLORS[joint]
        for body in bodies:
            conf = body[joint, 2]
            if not conf > CONFIDENCE_GATE:
                continue
            x, y = int(body[joint, 0] * cw), int(body[joint, 1] * ch)
            cv2.circle(canvas, (x, y), BODY_JOINT_RADIUS, [int(c * conf) for c in color], thickness=-1)


def _draw_hands(canvas: np.ndarray, hands: list[np.ndarray]) -> None:
    """Hand edges then joints, per hand, on the hi-res canvas. hands: float64 [21, 3] each."""
    ch, cw = canvas.shape[:2]
    for hand in hands:
        px = [int(v) for v in hand[:, 0] * cw]
        py = [int(v) for v in hand[:, 1] * ch]
        for edge_index, (a, b) in enumerate(HAND_EDGES):
            level = int(hand[a, 2] * hand[b, 2] * 255)
            if px[a] > EPS and py[a] > EPS and px[b] > EPS and py[b] > EPS:
                cv2.line(canvas, (px[a], py[a]), (px[b], py[b]), HAND_EDGE_RGB[edge_index] * level,
                         thickness=HAND_EDGE_THICKNESS)
        for i in range(hand.shape[0]):
            if px[i] > EPS and py[i] > EPS:
                cv2.circle(canvas, (px[i], py[i]), HAND_JOINT_RADIUS, (0, 0, int(hand[i, 2] * 255)), thickness=-1)


def _draw_faces(canvas: np.ndarray, faces: list[np.ndarray]) -> None:
    ch, cw = canvas.shape[:2]
    for face in faces:
        for x_n, y_n, conf in face:
            x, y = int(x_n * cw), int(y_n * ch)
            level = int(conf * 255)
            if x > EPS and y > EPS:
                cv2.circle(canvas, (x, y), FACE_DOT_RADIUS, (level, level, level), thickness=-1)


def render_frame_mimicmotion(
    people: np.ndarray,
    width: int,
    height: int,
    draw_body: bool = True,
    draw_hands: bool = True,
    draw_face: bool = True,
) -> np.ndarray:
    """Render one frame in MimicMotion's confidence-aware style.

    people: [P, 133, 3] COCO-WholeBody keypoints (x, y normalised 0..1, confidence) of the people to draw, in order.
    Returns uint8 [height, width, 3] RGB, identical to the official draw_pose on the same keypoints.
    """
    kp = sanitize_people(people)
    cw, ch = super_resolution_size(width, height)
    canvas = np.zeros((ch, cw, 3), dtype=np.uint8)
    if draw_body:
        _draw_body(canvas, [openpose18_float64(p) for p in kp])
    if draw_hands:
        _draw_hands(canvas, [p[LEFT_HAND] for p in kp] + [p[RIGHT_HAND] for p in kp])
    if draw_face:
        _draw_faces(canvas, [p[FACE] for p in kp])
    small = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
