"""Draw EMBODY_POSE sequences as pose images, and the matching confidence mask.

Styles:
- "mimicmotion": MimicMotion's confidence-aware renderer, bit-exact (render_mimicmotion.py). Use it for MimicMotion.
- "controlnet": the ControlNet OpenPose look, pixel-identical to comfyui_controlnet_aux (render_controlnet.py).
- "controlnet_xinsir": the same with the thicker sticks recommended for xinsir's SDXL OpenPose ControlNet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import cv2
import numpy as np

from .layout import CONFIDENCE_GATE, FACE, HAND_EDGES, LEFT_HAND, OPENPOSE_LIMBS, RIGHT_HAND
from .render_controlnet import render_frame_controlnet
from .render_mimicmotion import (
    official_super_resolution_size,
    render_frame_mimicmotion,
    super_resolution_size,
)
from .render_palette import EPS, openpose18_float64, sanitize_people
from .types import PoseSequence, check_canvas_size

logger = logging.getLogger(__name__)

STYLES = ("mimicmotion", "controlnet", "controlnet_xinsir")


def _resolve_size(pose: PoseSequence, size: tuple[int, int] | None) -> tuple[int, int]:
    if size is None:
        return check_canvas_size(*pose.canvas, "the pose canvas (width/height 0 = the pose's own canvas)")
    width, height = (int(v) for v in size)
    if width < 1 or height < 1:
        raise ValueError(f"render size must be positive (width, height), got {size}; use None for the pose canvas")
    return check_canvas_size(width, height, "render width/height")


def _people_of_frame(pose: PoseSequence, frame: int, person: int | None) -> np.ndarray:
    """The person slots to draw in one frame, [P', 133, 3]: the chosen one, or every slot holding a person."""
    kp = pose.keypoints[frame]
    if person is not None:
        return kp[person:person + 1]
    present = (kp[..., 2] > 0).any(axis=-1)
    return kp[present]


def _check_person(pose: PoseSequence, person: int | None) -> None:
    if person is not None and not 0 <= person < pose.num_people:
        raise ValueError(f"person must be in 0..{pose.num_people - 1} (or None for everyone), got {person}")


def render_pose(
    pose: PoseSequence,
    style: str = "mimicmotion",
    size: tuple[int, int] | None = None,
    draw_body: bool = True,
    draw_hands: bool = True,
    draw_face: bool = True,
    person: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Render every frame of a pose sequence.

    size: (width, height) of the output; default the pose canvas (normalised coordinates are stretched to it).
    person: draw only that person slot; None draws everyone present.
    progress: called as progress(done, total) after each frame.
    Returns uint8 [F, H, W, 3] RGB.
    """
    if style not in STYLES:
        raise ValueError(f"unknown pose render style {style!r}; choose one of {STYLES}")
    _check_person(pose, person)
    width, height = _resolve_size(pose, size)
    if style == "mimicmotion" and super_resolution_size(width, height) != official_super_resolution_size(width, height):
        logger.warning("Embody render: a %dx%d frame is too elongated for MimicMotion's 2160-pixel drawing canvas; "
                       "drawing on a %dx%d canvas instead (strokes are relatively thicker)", width, height,
                       *super_resolution_size(width, height))
    out = np.zeros((pose.num_frames, height, width, 3), dtype=np.uint8)
    for f in range(pose.num_frames):
        people = _people_of_frame(pose, f, person)
        if len(people):
            if style == "mimicmotion":
                out[f] = render_frame_mimicmotion(people, width, height, draw_body, draw_hands, draw_face)
            else:
                out[f] = render_frame_controlnet(people, width, height, draw_body, draw_hands, draw_face,
                                                 xinsir_sticks=style == "controlnet_xinsir")
        if progress is not None:
            progress(f + 1, pose.num_frames)
    return out


def default_mask_radius(width: int, height: int) -> int:
    """Stroke radius of the confidence mask: 1/128 of the short side, at least 2 px (4 px at 512)."""
    return max(2, round(min(width, height) / 128))


def _mask_items(people: np.ndarray, width: int, height: int, body: bool, hands: bool, face: bool) -> list[tuple]:
    """(value, kind, geometry) for every element MimicMotion's renderer draws with a non-zero brightness."""
    items: list[tuple] = []

    def px(p: np.ndarray) -> tuple[int, int]:
        return int(p[0] * width), int(p[1] * height)

    for person in sanitize_people(people):
        if body:
            b18 = openpose18_float64(person)
            for a, b in OPENPOSE_LIMBS:
                if b18[a, 2] >= CONFIDENCE_GATE and b18[b, 2] >= CONFIDENCE_GATE:
                    items.append((b18[a, 2] * b18[b, 2], "line", (px(b18[a]), px(b18[b]))))
            for p in b18:
                if p[2] > CONFIDENCE_GATE:
                    items.append((p[2], "dot", px(p)))
        if hands:
            for hand in (person[LEFT_HAND], person[RIGHT_HAND]):
                pts = [px(p) for p in hand]
                for a, b in HAND_EDGES:
                    if min(pts[a] + pts[b]) > EPS:
                        items.append((hand[a, 2] * hand[b, 2], "line", (pts[a], pts[b])))
                for p, xy in zip(hand, pts, strict=True):
                    if min(xy) > EPS:
                        items.append((p[2], "dot", xy))
        if face:
            for p in person[FACE]:
                xy = px(p)
                if min(xy) > EPS:
                    items.append((p[2], "dot", xy))
    return [item for item in items if item[0] > 0]


def confidence_mask(
    pose: PoseSequence,
    size: tuple[int, int] | None = None,
    radius_px: int | None = None,
    draw_body: bool = True,
    draw_hands: bool = True,
    draw_face: bool = True,
    person: int | None = None,
) -> np.ndarray:
    """Per-pixel confidence of the drawn pose: float32 [F, H, W] in 0..1, 0 where nothing is drawn.

    Each element follows MimicMotion's confidence rules (body limbs c_a*c_b when both >= 0.3, body joints c when
    > 0.3, hand edges c_a*c_b, hand points and face points c, no gate), drawn with radius / line width radius_px
    (default default_mask_radius) at the output size. Where elements overlap the pixel keeps the maximum: elements are
    drawn in increasing order of confidence so the most confident one is painted last.
    """
    _check_person(pose, person)
    width, height = _resolve_size(pose, size)
    radius = default_mask_radius(width, height) if radius_px is None else int(radius_px)
    if radius < 1:
        raise ValueError(f"radius_px must be at least 1 pixel, got {radius_px}")
    out = np.zeros((pose.num_frames, height, width), dtype=np.float32)
    for f in range(pose.num_frames):
        items = _mask_items(_people_of_frame(pose, f, person), width, height, draw_body, draw_hands, draw_face)
        items.sort(key=lambda item: item[0])
        canvas = out[f]
        for value, kind, geom in items:
            if kind == "line":
                cv2.line(canvas, geom[0], geom[1], float(value), thickness=radius)
            else:
                cv2.circle(canvas, geom, radius, float(value), thickness=-1)
    return out
