"""Choosing which detected people fill the person slots of a pose sequence, frame by frame.

Modes:
- "largest": the people with the largest keypoint boxes (area), biggest first.
- "central": the people whose box centre is nearest the canvas centre.
- "tracked": slots keep their identity across frames: each slot is matched to the detection that overlaps its
  last box most (greedy IoU, as rtmlib's PoseTracker), else to the nearest one within one box size; the first
  frame (and any empty slot) is filled by size. A passer-by larger than the subject does not steal the slot; a
  slot whose person has been gone for more than LOST_AFTER frames is free again.
- "all": every detected person, largest first (max_people is ignored).
Boxes come from keypoints (the backend protocol returns only keypoints), using points with confidence > 0.3.
"""

from __future__ import annotations

import numpy as np

from .boxes import keypoint_box
from .layout import CONFIDENCE_GATE, NUM_KEYPOINTS

PERSON_MODES = ("largest", "central", "tracked", "all")
TRACK_IOU = 0.3  # rtmlib PoseTracker tracking_thr
LOST_AFTER = 10  # frames a slot waits for its person before anyone may take it (our choice)


def keypoint_boxes(people: np.ndarray, threshold: float = CONFIDENCE_GATE) -> np.ndarray:
    """Boxes float32 [P, 4] xyxy (pixels) around each person's points with confidence > threshold.

    people: float [P, K, 3]. A person with no such point uses all points with confidence > 0; a person with none
    at all gets a NaN box (never selected before a real one).
    """
    boxes = np.full((len(people), 4), np.nan, np.float32)
    for i, person in enumerate(np.asarray(people, np.float32)):
        box = keypoint_box(person, threshold)
        if box is not None:
            boxes[i] = box
    return boxes


def _area(boxes: np.ndarray) -> np.ndarray:
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.nan_to_num(area, nan=-1.0)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix [len(a), len(b)] of xyxy boxes (NaN boxes give 0)."""
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    union = np.clip(_area(a), 0, None)[:, None] + np.clip(_area(b), 0, None)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = inter / union
    return np.nan_to_num(iou, nan=0.0)


def _order(boxes: np.ndarray, mode: str, canvas: tuple[int, int]) -> np.ndarray:
    """Indices of people, best first, for the stateless modes."""
    area = _area(boxes)
    if mode == "central":
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2.0
        dist = np.hypot(centre[:, 0] - canvas[0] / 2.0, centre[:, 1] - canvas[1] / 2.0)
        dist = np.nan_to_num(dist, nan=np.inf)
        return np.lexsort((-area, dist))
    return np.argsort(-area, kind="stable")


def select_people(per_frame: list[np.ndarray], canvas: tuple[int, int], mode: str = "largest",
                  max_people: int = 1) -> np.ndarray:
    """Fill person slots from per-frame detections.

    per_frame: one float [P_i, 133, 3] array per frame (pixels, P_i may be 0). canvas: (W, H).
    Returns float32 [F, P, 133, 3] in pixels with P = max(1, min(max_people, most people in a frame))
    ("all": P = max(1, most people)); unused slots are zeros.
    """
    if mode not in PERSON_MODES:
        raise ValueError(f"person selection must be one of {PERSON_MODES}, got {mode!r}")
    if int(max_people) < 1:
        raise ValueError(f"max_people must be at least 1, got {max_people}")
    most = max((len(p) for p in per_frame), default=0)
    slots = max(1, most if mode == "all" else min(int(max_people), most))
    out = np.zeros((len(per_frame), slots, NUM_KEYPOINTS, 3), np.float32)
    if mode == "tracked":
        _track(per_frame, out)
        return out
    for f, people in enumerate(per_frame):
        if len(people) == 0:
            continue
        order = _order(keypoint_boxes(people), mode, canvas)[:slots]
        out[f, : len(order)] = np.asarray(people, np.float32)[order]
    return out


def _track(per_frame: list[np.ndarray], out: np.ndarray) -> None:
    slots = out.shape[1]
    last = np.full((slots, 4), np.nan, np.float32)  # last box seen in each slot
    missed = np.zeros(slots, np.int64)
    for f, people in enumerate(per_frame):
        last[missed > LOST_AFTER] = np.nan
        missed += 1
        if len(people) == 0:
            continue
        people = np.asarray(people, np.float32)
        boxes = keypoint_boxes(people)
        free = np.ones(len(people), bool)
        filled = np.zeros(slots, bool)
        known = ~np.isnan(last[:, 0])
        iou = _iou(last, boxes)
        iou[~known] = 0.0
        # Greedy IoU matching, best pair first.
        for flat in np.argsort(-iou, axis=None, kind="stable"):
            slot, cand = divmod(int(flat), len(people))
            if iou[slot, cand] < TRACK_IOU:
                break
            if filled[slot] or not free[cand]:
                continue
            filled[slot], free[cand] = True, False
            out[f, slot] = people[cand]
        # A known slot left unmatched takes the nearest free person within one box size (fast motion, no overlap).
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2.0
        for s in np.flatnonzero(known & ~filled):
            reach = float(np.max(last[s, 2:] - last[s, :2]))
            dist = np.hypot(*(centres - (last[s, :2] + last[s, 2:]) / 2.0).T)
            dist[~free | np.isnan(dist)] = np.inf
            nearest = int(np.argmin(dist))
            if dist[nearest] <= reach:
                filled[s], free[nearest] = True, False
                out[f, s] = people[nearest]
        # Slots that never held anyone take the largest free people.
        for p in np.argsort(-_area(boxes), kind="stable"):
            empty = np.flatnonzero(~known & ~filled)
            if len(empty) == 0:
                break
            if free[p] and not np.isnan(boxes[p, 0]):
                filled[empty[0]], free[p] = True, False
                out[f, empty[0]] = people[p]
        for s in np.flatnonzero(filled):
            last[s] = keypoint_boxes(out[f, s][None])[0]
            missed[s] = 0
