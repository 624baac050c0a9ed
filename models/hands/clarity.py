"""Hand clarity score (CyberHost, arXiv 2409.01876): the standard deviation of the Laplacian of a hand crop.

CyberHost uses it to counter motion-blurred hands (as a condition and as a training-data filter). The paper gives
no crop rule, normalisation or threshold, so the choices below are ours:

* Hand box: the bounding box of the hand keypoints with confidence >= 0.3 (at least 5 of 21 needed), grown 1.25x
  around its centre and made square (side = 1.25 * longer side). Fallback when the hand points are missing: the
  OpenPose hand-detector rule from wrist/elbow/shoulder (centre = wrist + 0.33 * (wrist - elbow), side =
  1.5 * max(|wrist - elbow|, 0.9 * |elbow - shoulder|)). Boxes get at least ``MIN_BOX_PX`` pixels of side.
* Scale: the square box is resampled so its side becomes ``crop_side`` pixels (INTER_AREA when shrinking,
  INTER_LINEAR when growing). Resampling every hand to one scale makes scores comparable between near and far
  hands: the same hand photographed at 2x or 4x the crop side gives nearly the same score. A hand smaller than
  ``crop_side`` is upsampled, which adds no detail, so its score is lower: small hands really carry less detail.
* Borders: the part of the box outside the frame is dropped (not padded, as padding would add fake edges); the
  visible part is resampled by the same factor. A hand whose box is less than half inside the frame has no score.
* Score: luma (ITU-R BT.601, 0..255 units, as in the usual "variance of the Laplacian" blur measure), 4-neighbour
  Laplacian [[0,1,0],[1,-4,1],[0,1,0]] on the interior pixels only, population std.
* No hand -> NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

import cv2
import numpy as np

from ..pose.layout import (
    CONFIDENCE_GATE,
    LEFT_ELBOW,
    LEFT_HAND,
    LEFT_SHOULDER,
    LEFT_WRIST,
    RIGHT_ELBOW,
    RIGHT_HAND,
    RIGHT_SHOULDER,
    RIGHT_WRIST,
)
from ..pose.types import PoseSequence

logger = logging.getLogger(__name__)

MIN_HAND_POINTS = 5
BOX_SCALE = 1.25
MIN_BOX_PX = 16.0
MIN_VISIBLE_FRACTION = 0.5
# (hand slice, wrist, elbow, shoulder) for hand 0 = subject's left, hand 1 = subject's right.
HANDS = ((LEFT_HAND, LEFT_WRIST, LEFT_ELBOW, LEFT_SHOULDER), (RIGHT_HAND, RIGHT_WRIST, RIGHT_ELBOW, RIGHT_SHOULDER))
AGGREGATIONS = ("max", "mean", "min")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def hand_box(points: np.ndarray, hand: int) -> tuple[float, float, float] | None:
    """Square box of one hand of one person, in pixels.

    points: float32 [133, 3] (x, y in pixels, confidence). hand: 0 = subject's left, 1 = subject's right.
    Returns (centre x, centre y, side) or None when neither the hand points nor the arm give a box.
    """
    hand_slice, wrist, elbow, shoulder = HANDS[hand]
    # A point with a non-finite position or confidence carries no location: treat it as missing.
    points = np.where(np.isfinite(points).all(axis=-1, keepdims=True), points, 0.0)
    pts = points[hand_slice]
    good = pts[:, 2] >= CONFIDENCE_GATE
    if int(good.sum()) >= MIN_HAND_POINTS:
        xy = pts[good, :2]
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        centre = (lo + hi) / 2.0
        side = float((hi - lo).max()) * BOX_SCALE
        return float(centre[0]), float(centre[1]), max(side, MIN_BOX_PX)
    # OpenPose handDetect rule: the hand sits a third of the forearm beyond the wrist.
    w, e, s = points[wrist], points[elbow], points[shoulder]
    if min(w[2], e[2], s[2]) < CONFIDENCE_GATE:
        return None
    centre = w[:2] + 0.33 * (w[:2] - e[:2])
    side = 1.5 * max(float(np.linalg.norm(w[:2] - e[:2])), 0.9 * float(np.linalg.norm(e[:2] - s[:2])))
    return float(centre[0]), float(centre[1]), max(side, MIN_BOX_PX)


def crop_hand(frame: np.ndarray, box: tuple[float, float, float], crop_side: int) -> np.ndarray | None:
    """Visible part of a square box, resampled so the whole box side would be ``crop_side``.

    frame: uint8 [H, W, 3] RGB. Returns float32 luma [h, w] (h, w <= crop_side, 0..255) or None when less than
    half of the box is inside the frame or the visible part is too thin to hold a 3x3 Laplacian.
    """
    height, width = frame.shape[:2]
    cx, cy, side = box
    x0, y0 = cx - side / 2.0, cy - side / 2.0
    ix0, iy0 = max(int(round(x0)), 0), max(int(round(y0)), 0)
    ix1, iy1 = min(int(round(x0 + side)), width), min(int(round(y0 + side)), height)
    if ix1 <= ix0 or iy1 <= iy0 or (ix1 - ix0) * (iy1 - iy0) < MIN_VISIBLE_FRACTION * side * side:
        return None
    factor = crop_side / side
    out_w = min(max(int(round((ix1 - ix0) * factor)), 1), crop_side)
    out_h = min(max(int(round((iy1 - iy0) * factor)), 1), crop_side)
    if out_w < 3 or out_h < 3:
        return None
    region = frame[iy0:iy1, ix0:ix1]
    interp = cv2.INTER_AREA if factor < 1.0 else cv2.INTER_LINEAR
    # Resample the colour crop first (uint8, fast), then take luma in float so rounding does not flatten detail.
    small = cv2.resize(region, (out_w, out_h), interpolation=interp)
    return small.astype(np.float32) @ _LUMA


def laplacian_std(gray: np.ndarray) -> float:
    """Population std of the 4-neighbour Laplacian over the interior pixels of a 2-D float image."""
    g = np.asarray(gray, dtype=np.float32)
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.std(dtype=np.float64))


def hand_clarity(
    frames: np.ndarray,
    pose: PoseSequence,
    crop_side: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Hand clarity of every hand of every person in every frame.

    frames: uint8 [F, H, W, 3] RGB, the images the pose was found in (the pose's normalised coordinates are mapped
    onto H x W). pose: F frames. crop_side: pixels of the fixed crop side (>= 8).
    Returns float32 [F, P, 2] (hand 0 = subject's left, 1 = right); NaN where there is no hand.
    progress(done, total) is called once per frame.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"hand_clarity: frames must be [frames, height, width, 3] RGB, got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"hand_clarity: frames must be uint8 0..255, got {frames.dtype}; convert with (x*255).round()")
    if frames.shape[0] != pose.num_frames:
        raise ValueError(
            f"hand_clarity: the images have {frames.shape[0]} frames but the pose has {pose.num_frames}; "
            "pass the same clip (or the same frame selection) to both inputs"
        )
    if int(crop_side) < 8:
        raise ValueError(f"hand_clarity: crop_side must be at least 8 pixels, got {crop_side}")
    crop_side = int(crop_side)
    height, width = frames.shape[1:3]
    points = pose.keypoints.copy()
    points[..., 0] *= width
    points[..., 1] *= height
    scores = np.full((pose.num_frames, pose.num_people, 2), np.nan, dtype=np.float32)
    for f in range(pose.num_frames):
        for p in range(pose.num_people):
            for hand in (0, 1):
                box = hand_box(points[f, p], hand)
                if box is None:
                    continue
                crop = crop_hand(frames[f], box, crop_side)
                if crop is not None:
                    scores[f, p, hand] = laplacian_std(crop)
        if progress is not None:
            progress(f + 1, pose.num_frames)
    return scores


def with_clarity(pose: PoseSequence, scores: np.ndarray) -> PoseSequence:
    """A copy of ``pose`` carrying ``scores`` (float32 [F, P, 2], NaN = no hand) as its hand_clarity."""
    scores = np.asarray(scores, dtype=np.float32)
    expected = (pose.num_frames, pose.num_people, 2)
    if scores.shape != expected:
        raise ValueError(f"with_clarity: scores must have shape {expected} (frames, people, hands), got {scores.shape}")
    return replace(pose, hand_clarity=scores)


def frame_scores(scores: np.ndarray, aggregation: str = "max") -> np.ndarray:
    """One score per frame from [F, P, 2] hand scores: max, mean or min over the visible hands; NaN if none."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    scores = np.asarray(scores, dtype=np.float32)
    flat = scores.reshape(scores.shape[0], int(np.prod(scores.shape[1:], dtype=np.int64)))
    out = np.full(len(flat), np.nan, dtype=np.float32)
    seen = ~np.isnan(flat).all(axis=1)
    if seen.any():
        reducers: dict[str, Callable[..., np.ndarray]] = {"max": np.nanmax, "mean": np.nanmean, "min": np.nanmin}
        out[seen] = reducers[aggregation](flat[seen], axis=1)
    return out


def passes_threshold(per_frame: np.ndarray, threshold: float, keep_without_hands: bool = True) -> np.ndarray:
    """bool [F]: frames whose score is >= threshold; frames without a hand pass iff ``keep_without_hands``."""
    per_frame = np.asarray(per_frame, dtype=np.float32)
    no_hand = np.isnan(per_frame)
    with np.errstate(invalid="ignore"):
        ok = per_frame >= float(threshold)
    return np.where(no_hand, bool(keep_without_hands), ok)
