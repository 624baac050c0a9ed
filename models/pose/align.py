"""Align driving poses to the reference body: MimicMotion's one-fit rescale, plus optional bone retargeting.

Official alignment (Tencent/MimicMotion, mimicmotion/dwpose/preprocess.py get_video_pose):
one affine map per video, the same for body, face and hands, in normalised coordinates:
- points used: OpenPose-18 nose, neck, shoulders, hips, knees, ankles, eyes, ears (elbows and wrists excluded),
  restricted to those visible (confidence > 0.3) in the reference;
- frames used: those with exactly one detected person;
- y_ref = a_y * y_drv + b_y by least squares over all those frames and points (the code uses np.polyfit, degree 1);
- a_x = a_y * (W_drv / H_drv) * (H_ref / W_ref), so the scale is isotropic in pixels; b_x = mean(x_ref - a_x x_drv).
What it lacks and we add: (1) no crash when no frame has exactly one person: with fallback "largest" the largest
person of every frame is used (logged); with "error" a clear ValueError; (2) mode "retarget": after the fit, each
bone is rescaled to the reference's length (a constant factor per bone over the video, so foreshortening survives),
moving the whole sub-tree below it, so the driver's proportions no longer leak into the result.
Differences: driving points with confidence 0 (missing in EMBODY_POSE) are left out of the fit and left untouched,
since unlike DWPose's raw output they carry no position.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .boxes import keypoint_box
from .layout import CONFIDENCE_GATE, FACE, LEFT_HAND, RIGHT_HAND, coco_to_openpose18
from .render_palette import openpose18_float64
from .types import PoseSequence

logger = logging.getLogger(__name__)

# OpenPose-18 indices the official fit uses (no elbows/wrists).
FIT_POINTS = (0, 1, 2, 5, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17)
MODES = ("official", "retarget")
FALLBACKS = ("largest", "error")

# Bone tree on COCO-WholeBody indices; "neck" (shoulder midpoint) is the root. Parents come before children.
NECK = -1
BONES = ((NECK, 0), (0, 1), (0, 2), (1, 3), (2, 4), (5, 7), (7, 9), (6, 8), (8, 10),
         (NECK, 11), (NECK, 12), (11, 13), (13, 15), (12, 14), (14, 16))
# Points that follow a joint rigidly (translated with it): face with the nose, hands with wrists, feet with ankles.
ATTACHED = ((0, FACE), (9, LEFT_HAND), (10, RIGHT_HAND), (15, slice(17, 20)), (16, slice(20, 23)))


@dataclass(frozen=True)
class AlignFit:
    """x_ref = a_x x_drv + b_x, y_ref = a_y y_drv + b_y in normalised coordinates."""

    ax: float
    ay: float
    bx: float
    by: float
    frames_used: int
    fallback_used: bool


def _bbox_area(person: np.ndarray) -> float:
    box = keypoint_box(person)
    if box is None:
        return -1.0
    span = box[2:] - box[:2]
    return float(span[0] * span[1])


def _driving_bodies(driving: PoseSequence, fallback: str) -> tuple[list[np.ndarray], bool]:
    """One [133, 3] person per usable frame: single-person frames, else (fallback) the largest person per frame."""
    present = driving.person_present()
    singles = [driving.keypoints[f, int(np.argmax(present[f]))]
               for f in range(driving.num_frames) if present[f].sum() == 1]
    if singles:
        return singles, False
    if not present.any():
        raise ValueError("driving pose has no detected person in any frame; nothing to align "
                         "(check the pose extraction)")
    if fallback == "error":
        raise ValueError(
            "driving pose has no frame with exactly one person, which the official MimicMotion alignment needs. "
            "Set fallback to 'largest', or extract the driving pose with max_people=1"
        )
    chosen = []
    for f in range(driving.num_frames):
        slots = np.flatnonzero(present[f])
        if len(slots):
            chosen.append(driving.keypoints[f, max(slots, key=lambda p: _bbox_area(driving.keypoints[f, p]))])
    logger.warning("pose align: no frame has exactly one person; fitting on the largest person of %d frames",
                   len(chosen))
    return chosen, True


def _reference_person(reference: PoseSequence, ref_frame: int, ref_person: int) -> np.ndarray:
    if not 0 <= ref_frame < reference.num_frames:
        raise ValueError(f"reference frame {ref_frame} is out of range: the reference pose has "
                         f"{reference.num_frames} frames")
    if not 0 <= ref_person < reference.num_people:
        raise ValueError(f"reference person {ref_person} is out of range: the reference has "
                         f"{reference.num_people} person slots")
    person = reference.keypoints[ref_frame, ref_person]
    if not (person[:, 2] > 0).any():
        raise ValueError(f"reference pose frame {ref_frame} has no person in slot {ref_person}; use a reference image "
                         "with a clearly visible person")
    return person


def fit_official(driving: PoseSequence, reference: PoseSequence, ref_frame: int = 0, ref_person: int = 0,
                 fallback: str = "largest") -> AlignFit:
    """The official MimicMotion least-squares rescale (see module docstring)."""
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback must be one of {FALLBACKS}, got {fallback!r}")
    ref18 = openpose18_float64(_reference_person(reference, ref_frame, ref_person))
    ids = [i for i in FIT_POINTS if ref18[i, 2] > CONFIDENCE_GATE]
    if len(ids) < 2:
        raise ValueError(f"reference pose has only {len(ids)} confident body points (head, shoulders, hips, legs); "
                         "the alignment needs at least 2. Use a reference image showing more of the body")
    bodies, fallback_used = _driving_bodies(driving, fallback)
    x_drv, y_drv, x_ref, y_ref = [], [], [], []
    for person in bodies:
        d18 = openpose18_float64(person)
        d18[1, 2] = min(person[5, 2], person[6, 2])  # the neck exists where both shoulders do
        for i in ids:
            if d18[i, 2] > 0:
                x_drv.append(d18[i, 0])
                y_drv.append(d18[i, 1])
                x_ref.append(ref18[i, 0])
                y_ref.append(ref18[i, 1])
    yd, yr = np.asarray(y_drv), np.asarray(y_ref)
    if len(yd) < 2 or np.ptp(yd) <= 0:
        raise ValueError("driving poses do not show enough of the body (head, shoulders, hips, legs) at different "
                         "heights to fit the alignment")
    yd_c = yd - yd.mean()
    ay = float((yd_c * (yr - yr.mean())).sum() / (yd_c * yd_c).sum())
    by = float(yr.mean() - ay * yd.mean())
    (wd, hd), (wr, hr) = driving.canvas, reference.canvas
    ax = ay * (wd / hd) * (hr / wr)
    bx = float(np.mean(np.asarray(x_ref) - ax * np.asarray(x_drv)))
    return AlignFit(ax=ax, ay=ay, bx=bx, by=by, frames_used=len(bodies), fallback_used=fallback_used)


def apply_fit(driving: PoseSequence, fit: AlignFit) -> np.ndarray:
    """float32 [F, P, 133, 3]: points with confidence > 0 mapped by the fit; missing points stay zero."""
    kp = driving.keypoints.astype(np.float64)
    out = kp.copy()
    present = kp[..., 2] > 0
    out[..., 0] = np.where(present, kp[..., 0] * fit.ax + fit.bx, kp[..., 0])
    out[..., 1] = np.where(present, kp[..., 1] * fit.ay + fit.by, kp[..., 1])
    return out.astype(np.float32)


def _neck(person: np.ndarray) -> np.ndarray:
    """[3]: shoulder midpoint (x, y) and the smaller shoulder confidence (the OpenPose-18 neck, "min" rule)."""
    return coco_to_openpose18(person[:17], "min", np.float64)[1]


def _joint(person: np.ndarray, index: int) -> np.ndarray:
    return _neck(person) if index == NECK else person[index]


def bone_scales(aligned_px: np.ndarray, reference_px: np.ndarray) -> dict[tuple[int, int], float]:
    """Per bone (and the shoulder pair (5, 6)), reference length / median driving length over the frames where both
    ends are confident (> 0.3). Inputs are [N, 133, 3] driving people and [133, 3] reference, in reference pixels."""
    scales: dict[tuple[int, int], float] = {}
    for bone in ((5, 6), *BONES):
        ra, rb = _joint(reference_px, bone[0]), _joint(reference_px, bone[1])
        if min(ra[2], rb[2]) <= CONFIDENCE_GATE:
            continue
        lengths = [np.hypot(*(_joint(p, bone[1])[:2] - _joint(p, bone[0])[:2])) for p in aligned_px
                   if min(_joint(p, bone[0])[2], _joint(p, bone[1])[2]) > CONFIDENCE_GATE]
        med = float(np.median(lengths)) if lengths else 0.0
        if med > 1e-9:
            scales[bone] = float(np.hypot(*(rb[:2] - ra[:2]))) / med
    return scales


def retarget_person(person: np.ndarray, scales: dict[tuple[int, int], float]) -> np.ndarray:
    """Rescale one person's bones ([133, 3], isotropic pixels) by `scales`, moving each sub-tree with its bone."""
    old = person.astype(np.float64)
    new = old.copy()
    if not (old[:, 2] > 0).any():
        return new
    neck = _neck(old)
    delta = {NECK: np.zeros(2)}
    s = scales.get((5, 6), 1.0)
    for shoulder in (5, 6):
        if old[shoulder, 2] > 0 and neck[2] > 0:
            new[shoulder, :2] = neck[:2] + s * (old[shoulder, :2] - neck[:2])
        delta[shoulder] = new[shoulder, :2] - old[shoulder, :2]
    for parent, child in BONES:
        parent_old = _joint(old, parent)
        if old[child, 2] > 0 and parent_old[2] > 0:
            parent_new = parent_old[:2] + delta[parent]
            new[child, :2] = parent_new + scales.get((parent, child), 1.0) * (old[child, :2] - parent_old[:2])
        elif old[child, 2] > 0:
            new[child, :2] = old[child, :2] + delta[parent]
        delta[child] = new[child, :2] - old[child, :2] if old[child, 2] > 0 else delta[parent]
    for joint, part in ATTACHED:
        moved = old[part, 2] > 0
        new[part, :2][moved] += delta[joint]
    return new


def align_poses(driving: PoseSequence, reference: PoseSequence, mode: str = "official", ref_frame: int = 0,
                ref_person: int = 0, fallback: str = "largest") -> PoseSequence:
    """Map the driving poses onto the reference body. The result lives on the reference canvas at the driving fps.

    mode: "official" (MimicMotion's global fit) or "retarget" (the fit, then reference bone lengths).
    fallback: what to do when no driving frame has exactly one person ("largest" person per frame, or "error").
    """
    if mode not in MODES:
        raise ValueError(f"align mode must be one of {MODES}, got {mode!r}")
    fit = fit_official(driving, reference, ref_frame, ref_person, fallback)
    aligned = apply_fit(driving, fit)
    meta = {**driving.meta, "align": {"mode": mode, "ax": fit.ax, "ay": fit.ay, "bx": fit.bx, "by": fit.by,
                                      "frames_used": fit.frames_used, "fallback_used": fit.fallback_used}}
    if mode == "retarget":
        size = np.array([*reference.canvas, 1.0])
        px = aligned.astype(np.float64) * size
        ref_px = reference.keypoints[ref_frame, ref_person].astype(np.float64) * size
        flat = px.reshape(-1, px.shape[-2], 3)
        scales = bone_scales(flat[(flat[:, :, 2] > 0).any(axis=1)], ref_px)
        retargeted = np.stack([retarget_person(p, scales) for p in flat]).reshape(px.shape)
        aligned = (retargeted / size).astype(np.float32)
        meta["align"]["bone_scales"] = {f"{a}-{b}": v for (a, b), v in scales.items()}
    return PoseSequence(aligned, reference.canvas, driving.fps, hand_clarity=driving.hand_clarity, meta=meta)
