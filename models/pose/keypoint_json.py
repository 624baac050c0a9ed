"""POSE_KEYPOINT interop: the OpenPose-style JSON list used by comfyui_controlnet_aux (CNA) and other packs.

Format (one dict per frame): {"people": [{"pose_keypoints_2d": [...], "face_keypoints_2d": [...],
"hand_left_keypoints_2d": [...], "hand_right_keypoints_2d": [...]}], "canvas_width": W, "canvas_height": H}.
Each list is flat x, y, c triplets in PIXELS of the canvas: body = OpenPose-18 (neck included, feet dropped),
face = 70 (68 landmarks + right eye, left eye), hands = 21 each. A part that is absent is None.
CNA writes c = 1.0 for every kept point (score >= 0.3) and [0, 0, 0] for dropped ones, and its decoder drops every
point with c < 1. So export has a `binarize` switch: on, points become CNA-compatible (c in {0, 1}); off, the real
confidences are kept (useful between Embody nodes and for tools that read c).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np

from .layout import (
    CONFIDENCE_GATE,
    FACE,
    FEET,
    LEFT_HAND,
    NUM_KEYPOINTS,
    RIGHT_HAND,
    coco_to_openpose18,
    openpose18_to_coco,
)
from .types import PoseSequence, check_canvas_size

logger = logging.getLogger(__name__)

BODY_KEY, FACE_KEY = "pose_keypoints_2d", "face_keypoints_2d"
LEFT_KEY, RIGHT_KEY = "hand_left_keypoints_2d", "hand_right_keypoints_2d"
# Not part of CNA's format (consumers read keys with .get and ignore it); lets feet survive an Embody round trip.
FEET_KEY = "foot_keypoints_2d"


def _flat(points: np.ndarray, width: int, height: int, binarize: bool, threshold: float) -> list[float]:
    """[N, 3] normalised points -> flat pixel triplets; dropped points are [0, 0, 0] as in CNA."""
    out: list[float] = []
    for x, y, c in np.asarray(points, dtype=np.float64):
        keep = c >= threshold if binarize else c > 0
        if keep:
            out += [float(x * width), float(y * height), 1.0 if binarize else float(c)]
        else:
            out += [0.0, 0.0, 0.0]
    return out


def _part(points: np.ndarray, width: int, height: int, binarize: bool, threshold: float) -> list[float] | None:
    keep = points[:, 2] >= threshold if binarize else points[:, 2] > 0
    return _flat(points, width, height, binarize, threshold) if keep.any() else None


def pose_to_keypoints(
    pose: PoseSequence,
    binarize: bool = True,
    threshold: float = CONFIDENCE_GATE,
    include_body: bool = True,
    include_hands: bool = True,
    include_face: bool = True,
    include_feet: bool = False,
) -> list[dict[str, Any]]:
    """EMBODY_POSE -> POSE_KEYPOINT list (one dict per frame, people = the occupied person slots).

    binarize: CNA-compatible confidences (c = 1 where c >= threshold, the point zeroed otherwise). Off: real c,
        points with c = 0 written as [0, 0, 0].
    include_*: an excluded body becomes 18 zero triplets and excluded hands/face None, as CNA does.
    include_feet: also write the 6 foot points under "foot_keypoints_2d" (ignored by CNA).
    """
    width, height = pose.canvas
    frames: list[dict[str, Any]] = []
    for f in range(pose.num_frames):
        people = []
        for person in pose.keypoints[f]:
            if not (person[:, 2] > 0).any():
                continue
            body18 = coco_to_openpose18(person, neck_rule="binary" if binarize else "min")
            face70 = np.concatenate([person[FACE], body18[[14, 15]]], axis=0)
            entry: dict[str, Any] = {
                BODY_KEY: _flat(body18, width, height, binarize, threshold) if include_body else [0.0] * 54,
                FACE_KEY: _part(face70, width, height, binarize, threshold) if include_face else None,
                LEFT_KEY: _part(person[LEFT_HAND], width, height, binarize, threshold) if include_hands else None,
                RIGHT_KEY: _part(person[RIGHT_HAND], width, height, binarize, threshold) if include_hands else None,
            }
            if include_feet:
                entry[FEET_KEY] = _part(person[FEET], width, height, binarize, threshold)
            people.append(entry)
        frames.append({"people": people, "canvas_height": int(height), "canvas_width": int(width)})
    return frames


def _triplets(value: Any, expected: int, key: str, frame: int) -> np.ndarray | None:
    """Flat [x, y, c, ...] or nested [[x, y, c], ...] -> float64 [expected, 3]; None/[] -> None."""
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        return None
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"POSE_KEYPOINT frame {frame}: {key!r} must be a list of numbers (x, y, c triplets), got {value!r:.80}"
        ) from exc
    if arr.size != expected * 3:
        raise ValueError(
            f"POSE_KEYPOINT frame {frame}: {key!r} has {arr.size} numbers, expected {expected} x,y,c triplets "
            f"({expected * 3}); only OpenPose-18 bodies, 70-point faces and 21-point hands are supported"
        )
    out = arr.reshape(expected, 3)
    # A triplet holding NaN or inf (JSON allows them) has no usable position: it becomes a missing point.
    out[~np.isfinite(out).all(axis=1)] = 0.0
    return out


def _normalise(points: np.ndarray, width: int, height: int, normalised: bool) -> np.ndarray:
    out = np.zeros_like(points)
    keep = points[:, 2] > 0
    out[keep, 2] = np.clip(points[keep, 2], 0.0, 1.0)
    if normalised:
        out[keep, :2] = points[keep, :2]
    else:
        out[keep, 0] = points[keep, 0] / width
        out[keep, 1] = points[keep, 1] / height
    return out


def _person_to_coco(person: dict[str, Any], width: int, height: int, frame: int) -> np.ndarray:
    parts = {
        "body": _triplets(person.get(BODY_KEY), 18, BODY_KEY, frame),
        "face": _triplets(person.get(FACE_KEY), 70, FACE_KEY, frame),
        "left": _triplets(person.get(LEFT_KEY), 21, LEFT_KEY, frame),
        "right": _triplets(person.get(RIGHT_KEY), 21, RIGHT_KEY, frame),
        "feet": _triplets(person.get(FEET_KEY), 6, FEET_KEY, frame),
    }
    present = [p for p in parts.values() if p is not None]
    kept = np.concatenate([p[p[:, 2] > 0, :2] for p in present], axis=0) if present else np.zeros((0, 2))
    # CNA's drawing code accepts normalised or pixel coordinates, telling them apart the same way.
    normalised = len(kept) > 0 and bool((np.abs(kept) <= 1.0).all())
    out = np.zeros((NUM_KEYPOINTS, 3), dtype=np.float64)
    if parts["body"] is not None:
        out[:17] = openpose18_to_coco(_normalise(parts["body"], width, height, normalised))
    if parts["face"] is not None:
        face = _normalise(parts["face"], width, height, normalised)
        out[FACE] = face[:68]
        for slot, coco_eye in ((68, 2), (69, 1)):  # face points 68/69 are the right and left eye
            if out[coco_eye, 2] <= 0 and face[slot, 2] > 0:
                out[coco_eye] = face[slot]
    for key, sl in (("left", LEFT_HAND), ("right", RIGHT_HAND), ("feet", FEET)):
        part = parts[key]
        if part is not None:
            out[sl] = _normalise(part, width, height, normalised)
    return out


def keypoints_to_pose(data: Any, fps: float = 25.0) -> PoseSequence:
    """POSE_KEYPOINT (list of frame dicts, one dict, or its JSON text) -> EMBODY_POSE.

    Confidences are kept as given (CNA data has c = 1 for every point it kept). Coordinates are pixels of each
    frame's canvas (or already 0..1, detected as CNA does). The canvas of the result is the first frame's.
    The neck is dropped (it is always the shoulder midpoint); face points 68/69 fill missing body eyes.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ValueError(f"POSE_KEYPOINT text is not valid JSON: {exc}") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, (list, tuple)) or len(data) == 0:
        raise ValueError("POSE_KEYPOINT input is empty: expected a list with one dict per frame")
    canvases, frames = [], []
    for f, frame in enumerate(data):
        if not isinstance(frame, dict) or "canvas_width" not in frame or "canvas_height" not in frame:
            raise ValueError(
                f"POSE_KEYPOINT frame {f} must be a dict with 'people', 'canvas_width' and 'canvas_height' "
                "(the format of comfyui_controlnet_aux's pose estimators)"
            )
        try:
            width, height = int(frame["canvas_width"]), int(frame["canvas_height"])
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"POSE_KEYPOINT frame {f}: canvas_width and canvas_height must be whole numbers of pixels, got "
                f"{frame['canvas_width']!r} x {frame['canvas_height']!r}"
            ) from exc
        if width < 1 or height < 1:
            raise ValueError(f"POSE_KEYPOINT frame {f} has an invalid canvas {width}x{height}")
        check_canvas_size(width, height, f"POSE_KEYPOINT frame {f} canvas_width/canvas_height")
        if not frame.get("people") and frame.get("animals"):
            logger.warning("POSE_KEYPOINT frame %d holds animal poses only; they are skipped", f)
        people = frame.get("people") or []
        if not isinstance(people, (list, tuple)) or not all(isinstance(p, dict) for p in people):
            raise ValueError(
                f"POSE_KEYPOINT frame {f}: 'people' must be a list of dicts with keys such as {BODY_KEY!r}, "
                f"got {type(people).__name__} {people!r:.80}"
            )
        canvases.append((width, height))
        frames.append([_person_to_coco(p, width, height, f) for p in people])
    if len(set(canvases)) > 1:
        logger.warning("POSE_KEYPOINT frames have different canvases %s; using %s", sorted(set(canvases)), canvases[0])
    people = max(1, max(len(p) for p in frames))
    kp = np.zeros((len(frames), people, NUM_KEYPOINTS, 3), dtype=np.float32)
    for f, persons in enumerate(frames):
        for p, person in enumerate(persons):
            kp[f, p] = person
    return PoseSequence(kp, canvases[0], fps, meta={"source": "POSE_KEYPOINT"})
