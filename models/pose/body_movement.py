"""CyberHost's body movement map (arXiv 2409.01876): a box that bounds where the body may move.

CyberHost takes the range of the chest keypoint's motion over a training clip as a rectangle and enlarges it by
100-150% so the path never touches the border; the rectangle, drawn as a map, is encoded and added to the noisy
latent. At inference a fixed-size map sets how far the root may move. Our choices (the paper gives no more):

* Chest = midpoint of the two shoulders (the OpenPose "neck"), used only in frames where both shoulders have
  confidence >= 0.3. Half-body talking videos, CyberHost's data, always show the shoulders; hips often not.
* ``enlarge`` is the fraction ADDED to each side length around the box centre: 1.0 doubles the box, 1.25 (default,
  the middle of the paper's 100-150%) gives 2.25x. A motionless chest would give an empty box, so each side is
  first widened to at least ``min_size`` (fraction of the canvas). The box is clipped to the canvas.
* The map is 1 inside the box and 0 outside (pixel centres), the same for every frame of the clip.
* One reference frame (the procedural driver, no clip to take a range from): :func:`reference_box` boxes the
  chest's own extent (shoulders + a sternum point) and enlarges it the same way, in pixels.
"""

from __future__ import annotations

import numpy as np

from .layout import CONFIDENCE_GATE, LEFT_EYE, LEFT_SHOULDER, RIGHT_EYE, RIGHT_SHOULDER
from .types import PoseSequence, check_canvas_size

Box = tuple[float, float, float, float]

# One still reference frame (the procedural driver) has no other evidence, so a faint point there still counts:
# below this confidence a reference point is missing.
REFERENCE_MIN_CONFIDENCE = 0.1
_HEAD = np.r_[0:5, 23:91]


def _ok(conf: np.ndarray, *idx: int) -> bool:
    return bool(all(conf[i] > REFERENCE_MIN_CONFIDENCE for i in idx))


def chest_track(pose: PoseSequence, person: int = 0) -> np.ndarray:
    """float32 [F, 2]: normalised chest position per frame (NaN where a shoulder is missing)."""
    if not 0 <= int(person) < pose.num_people:
        raise ValueError(f"person must be in 0..{pose.num_people - 1} for this pose, got {person}")
    kp = pose.keypoints[:, int(person)]
    left, right = kp[:, LEFT_SHOULDER], kp[:, RIGHT_SHOULDER]
    ok = (left[:, 2] >= CONFIDENCE_GATE) & (right[:, 2] >= CONFIDENCE_GATE)
    chest = (left[:, :2] + right[:, :2]) / 2.0
    chest[~ok] = np.nan
    return chest.astype(np.float32)


def _grow(lo: float, hi: float, min_size: float, enlarge: float) -> tuple[float, float]:
    centre, size = (lo + hi) / 2.0, max(hi - lo, min_size)
    half = size * (1.0 + enlarge) / 2.0
    return max(centre - half, 0.0), min(centre + half, 1.0)


def movement_box(pose: PoseSequence, enlarge: float = 1.25, person: int = 0, min_size: float = 0.05) -> Box:
    """Body movement box (x0, y0, x1, y1), normalised 0..1 of the canvas.

    pose: the clip. enlarge: fraction added to each side (0..3; CyberHost: 1.0-1.5). person: slot index.
    min_size: smallest side before enlarging, as a fraction of the canvas (a still chest still gets a box).
    Raises ValueError when no frame shows both shoulders.
    """
    if not 0.0 <= float(enlarge) <= 3.0:
        raise ValueError(f"enlarge must be between 0 and 3 (CyberHost uses 1.0-1.5), got {enlarge}")
    if not 0.0 <= float(min_size) <= 1.0:
        raise ValueError(f"min_size must be a fraction of the canvas in 0..1, got {min_size}")
    chest = chest_track(pose, person)
    seen = ~np.isnan(chest[:, 0])
    if not seen.any():
        raise ValueError(
            f"body movement map: no frame shows both shoulders (confidence >= {CONFIDENCE_GATE}) of person "
            f"{person}, so the chest cannot be followed; use a clip where the upper body is visible"
        )
    lo, hi = chest[seen].min(axis=0), chest[seen].max(axis=0)
    x0, x1 = _grow(float(lo[0]), float(hi[0]), min_size, float(enlarge))
    y0, y1 = _grow(float(lo[1]), float(hi[1]), min_size, float(enlarge))
    return (x0, y0, x1, y1)


def fixed_box(pose: PoseSequence, width: float, height: float, frame: int = 0, person: int = 0) -> Box:
    """Inference-time map: a box of the given normalised size centred on the chest in one frame (clipped)."""
    if not (0.0 < width <= 1.0 and 0.0 < height <= 1.0):
        raise ValueError(f"box width and height must be fractions of the canvas in (0, 1], got {width}x{height}")
    if not 0 <= frame < pose.num_frames:
        raise ValueError(f"frame must be in 0..{pose.num_frames - 1}, got {frame}")
    cx, cy = chest_track(pose, person)[frame]
    if np.isnan(cx):
        raise ValueError(f"body movement map: both shoulders must be visible in frame {frame} to centre the box")
    return (max(cx - width / 2, 0.0), max(cy - height / 2, 0.0), min(cx + width / 2, 1.0), min(cy + height / 2, 1.0))


def movement_map(pose: PoseSequence, box: Box, size: tuple[int, int] | None = None) -> np.ndarray:
    """float32 [F, H, W]: 1 on pixels whose centre lies inside ``box`` (normalised x0, y0, x1, y1), else 0.

    size: (width, height) in pixels; default the pose canvas. F = pose.num_frames (the map does not change).
    """
    width, height = pose.canvas if size is None else (int(size[0]), int(size[1]))
    if width < 1 or height < 1:
        raise ValueError(f"map size must be at least 1x1 pixels, got {width}x{height}")
    check_canvas_size(width, height, "body movement map width/height (0 = the pose's canvas)")
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x0 <= x1 and y0 <= y1):
        raise ValueError(f"box must be (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1, got {box}")
    xs = (np.arange(width, dtype=np.float32) + 0.5) / width
    ys = (np.arange(height, dtype=np.float32) + 0.5) / height
    inside = ((ys >= y0) & (ys <= y1))[:, None] & ((xs >= x0) & (xs <= x1))[None, :]
    return np.broadcast_to(inside.astype(np.float32), (pose.num_frames, height, width)).copy()


# ---- one reference frame (pixels): the procedural driver's movement box ----------------------------------------

def body_scale(xy: np.ndarray, conf: np.ndarray, canvas: tuple[int, int]) -> float:
    """Shoulder width in pixels, else 2.5 x eye distance, else a fifth of the shorter canvas side."""
    if _ok(conf, LEFT_SHOULDER, RIGHT_SHOULDER):
        s = float(np.linalg.norm(xy[LEFT_SHOULDER] - xy[RIGHT_SHOULDER]))
    elif _ok(conf, LEFT_EYE, RIGHT_EYE):
        s = 2.5 * float(np.linalg.norm(xy[LEFT_EYE] - xy[RIGHT_EYE]))
    else:
        s = 0.0
    return max(s, 0.02 * min(canvas), 1.0) if s > 0 else 0.2 * min(canvas)


def chest_points(xy: np.ndarray, conf: np.ndarray, canvas: tuple[int, int]) -> np.ndarray:
    """float64 [N, 2] pixels: the visible shoulders plus a sternum point 0.6 shoulder widths below their midpoint.

    One reference frame has no motion range, so the chest's own extent stands in for CyberHost's chest range.
    """
    s = body_scale(xy, conf, canvas)
    pts = [xy[i] for i in (LEFT_SHOULDER, RIGHT_SHOULDER) if conf[i] > REFERENCE_MIN_CONFIDENCE]
    if not pts:  # no shoulders: hang the chest below the head, or (no head either) at the visible points' centre
        head = xy[_HEAD][conf[_HEAD] > REFERENCE_MIN_CONFIDENCE]
        if len(head):
            pts = [head.mean(axis=0) + np.array([0.0, 0.8 * s])]
        else:
            pts = [xy[conf > REFERENCE_MIN_CONFIDENCE].mean(axis=0)]
    top = np.mean(pts, axis=0)
    return np.array(pts + [top + np.array([0.0, 0.6 * s])], np.float64)


def reference_box(xy: np.ndarray, conf: np.ndarray, canvas: tuple[int, int], enlarge: float) -> np.ndarray:
    """The body movement box for one reference frame (the procedural driver's bound): float64 (x0, y0, x1, y1) in
    pixels.

    The box of :func:`chest_points`, scaled about its centre by (1 + enlarge) and clipped to the canvas.
    """
    s = body_scale(xy, conf, canvas)
    pts = chest_points(xy, conf, canvas)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, 0.05 * s) * (1.0 + max(enlarge, 0.0))
    box = np.r_[centre - half, centre + half]
    return np.clip(box, 0.0, np.r_[canvas, canvas].astype(np.float64))
