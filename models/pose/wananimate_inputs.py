"""What core WanAnimateToVideo takes, from an Embody pose sequence: pose video, face crops, person mask.

- Pose video: models/pose/render_wananimate.py (the Wan-Animate preprocessing style), drawn at the generation size
  after a centre-crop fit of the pose canvas (the same fit core applies to the reference and background).
- Face crops: the preprocessing's box (kijai/ComfyUI-WanAnimatePreprocess utils.get_face_bboxes: the 68 face points'
  box grown to 1.3 x its area, a quarter of the height growth below and three quarters above, clipped to the image),
  resized to 512 x 512 as it does; here only confident face points count, a frame without a face keeps the last box,
  and the boxes are smoothed over time (centred moving average) so the crop does not jitter.
- Person mask: limbs drawn at a width proportional to the body's size, the torso and face hulls filled, dilated.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from .render_wananimate import THRESHOLD, body_points, render_wananimate

FACE = slice(23, 91)
FACE_SIZE = 512
_MASK_LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
               (1, 0), (10, 19), (13, 18), (0, 14), (0, 15))
_TORSO = (2, 5, 11, 8)  # right shoulder, left shoulder, left hip, right hip among the 20 body points


def fit_to_canvas(keypoints: np.ndarray, canvas: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Normalised points of a (W, H) canvas re-expressed on a (W', H') canvas by a centre crop (cover), as core's
    common_upscale(..., "center") maps the frames."""
    (cw, ch), (w, h) = canvas, size
    s = max(w / cw, h / ch)
    out = np.array(keypoints, dtype=np.float64, copy=True)
    out[..., 0] = (out[..., 0] * cw * s - (cw * s - w) / 2) / w
    out[..., 1] = (out[..., 1] * ch * s - (ch * s - h) / 2) / h
    return out


def face_box(face_px: np.ndarray, scale: float, width: int, height: int) -> np.ndarray | None:
    """[x1, y1, x2, y2] (float) around face points in pixels [K, 2], or None with fewer than 2 distinct points."""
    if len(face_px) < 2:
        return None
    min_x, min_y = face_px.min(axis=0)
    max_x, max_y = face_px.max(axis=0)
    w0, h0 = max_x - min_x, max_y - min_y
    if w0 <= 0 or h0 <= 0:
        return None
    area = w0 * h0 * scale
    new_w, new_h = math.sqrt(area * (w0 / h0)), math.sqrt(area * (h0 / w0))
    dw, dh = (new_w - w0) / 2, (new_h - h0) / 4
    return np.array([max(min_x - dw, 0), max(min_y - 3 * dh, 0), min(max_x + dw, width), min(max_y + dh, height)])


def face_boxes(keypoints: np.ndarray, width: int, height: int, scale: float = 1.3, smooth: int = 5) -> np.ndarray:
    """Integer boxes int [F, 4] (x1, y1, x2, y2) of one person's face per frame (keypoints [F, 133, 3], normalised).

    Frames without a confident face keep the nearest box found; with no face at all the centre square is used.
    smooth: width in frames of the centred moving average over the box edges (1 = raw boxes).
    """
    boxes: list[np.ndarray | None] = []
    for kp in keypoints:
        face = kp[FACE]
        ok = face[:, 2] >= THRESHOLD
        boxes.append(face_box(face[ok, :2] * (width, height), scale, width, height))
    found = [i for i, b in enumerate(boxes) if b is not None]
    if not found:
        side = min(width, height) / 2
        centre = np.array([width / 2 - side / 2, height / 2 - side / 2, width / 2 + side / 2, height / 2 + side / 2])
        filled = np.repeat(centre[None], len(boxes), axis=0)
    else:
        filled = np.stack([boxes[min(found, key=lambda j: abs(j - i))] for i in range(len(boxes))])  # type: ignore[misc]
    if smooth > 1 and len(filled) > 1:
        half = smooth // 2
        padded = np.concatenate([np.repeat(filled[:1], half, 0), filled, np.repeat(filled[-1:], half, 0)])
        kernel = np.ones(2 * half + 1) / (2 * half + 1)
        filled = np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(4)], axis=1)
    out = filled.astype(np.int64)
    out[:, 2] = np.maximum(out[:, 2], out[:, 0] + 1)
    out[:, 3] = np.maximum(out[:, 3], out[:, 1] + 1)
    return out


def crop_faces(frames: np.ndarray, boxes: np.ndarray, size: int = FACE_SIZE) -> np.ndarray:
    """Crops float32 [F, size, size, 3] of frames [F, H, W, 3] (float 0..1) at integer boxes [F, 4], bilinear."""
    out = np.empty((len(frames), size, size, frames.shape[-1]), dtype=np.float32)
    for i, (frame, (x1, y1, x2, y2)) in enumerate(zip(frames, boxes, strict=True)):
        out[i] = cv2.resize(np.ascontiguousarray(frame[y1:y2, x1:x2], dtype=np.float32), (size, size))
    return out


def person_mask(keypoints: np.ndarray, width: int, height: int, margin: float = 0.08) -> np.ndarray:
    """float32 [H, W] mask of one person [133, 3] (normalised): limbs at a width of ``margin`` x the body's height,
    torso and face hulls filled, then dilated by half that width. Empty when no body point is confident."""
    mask = np.zeros((height, width), dtype=np.uint8)
    kp = np.asarray(keypoints, dtype=np.float64)
    ok_all = kp[:, 2] >= THRESHOLD
    if not ok_all.any():
        return mask.astype(np.float32)
    pts_all = kp[ok_all, :2] * (width, height)
    body_h = max(float(pts_all[:, 1].max() - pts_all[:, 1].min()), float(pts_all[:, 0].max() - pts_all[:, 0].min()))
    thick = max(int(round(margin * body_h)), 3)
    body = body_points(kp)
    body[:, :2] = body[:, :2] * (width, height)
    for a, b in _MASK_LIMBS:
        if body[a, 2] >= THRESHOLD and body[b, 2] >= THRESHOLD:
            cv2.line(mask, (int(body[a, 0]), int(body[a, 1])), (int(body[b, 0]), int(body[b, 1])), 255, thick)
    torso = np.array([body[i, :2] for i in _TORSO if body[i, 2] >= THRESHOLD], dtype=np.int32)
    if len(torso) >= 3:
        cv2.fillConvexPoly(mask, cv2.convexHull(torso), 255)
    for group in (slice(23, 91), slice(91, 112), slice(112, 133)):
        g = kp[group]
        gp = (g[g[:, 2] >= THRESHOLD, :2] * (width, height)).astype(np.int32)
        if len(gp) >= 3:
            cv2.fillConvexPoly(mask, cv2.convexHull(gp), 255)
    for x, y in pts_all.astype(np.int32):
        cv2.circle(mask, (int(x), int(y)), max(thick // 2, 1), 255, -1)
    k = max(thick // 2, 1) * 2 + 1
    grown = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return (np.asarray(grown) > 0).astype(np.float32)


def wan_animate_inputs(
    keypoints: np.ndarray, canvas: tuple[int, int], width: int, height: int, frames: np.ndarray | None = None,
    person: int = 0, face_scale: float = 1.3, face_smooth: int = 5, mask_margin: float = 0.08,
    draw_hands: bool = True, draw_head: bool = True, progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Pose video uint8 [F, height, width, 3], face crops float32 [F, 512, 512, 3] (None without ``frames``) and
    person masks float32 [F, height, width] for one person of a pose sequence (keypoints [F, P, 133, 3]).

    frames: the images the poses belong to (float 0..1 [F, H, W, 3], any size; the faces are cut from them).
    """
    num = keypoints.shape[0]
    if keypoints.shape[1] == 0:
        raise ValueError("The pose has no person; run Embody Pose Extract on frames with a visible person.")
    if not 0 <= person < keypoints.shape[1]:
        raise ValueError(f"person {person} does not exist: the pose holds {keypoints.shape[1]} person(s) per frame "
                         f"(0..{keypoints.shape[1] - 1}).")
    if frames is not None and len(frames) != num:
        raise ValueError(f"frames has {len(frames)} images but the pose has {num} frames; connect the images the "
                         "pose was extracted from (or trim both to the same length).")
    one = keypoints[:, person]
    fitted = fit_to_canvas(one, canvas, (width, height))
    poses = np.empty((num, height, width, 3), dtype=np.uint8)
    masks = np.empty((num, height, width), dtype=np.float32)
    for i in range(num):
        poses[i] = render_wananimate(fitted[i][None], width, height, draw_hands, draw_head)
        masks[i] = person_mask(fitted[i], width, height, mask_margin)
        if progress is not None:
            progress(i + 1, num)
    faces = None
    if frames is not None:
        fh, fw = frames.shape[1:3]
        faces = crop_faces(frames, face_boxes(one, fw, fh, face_scale, face_smooth))
    return poses, faces, masks
