"""The warp's skeleton: named joints derived from the 133 COCO-WholeBody keypoints, bones, and their transforms.

Joints are body keypoints plus a few derived points (neck, hip centre, head top, hand tips) so that every bone is a
segment with two ends. A joint below the confidence gate is "not ok"; a bone with an end that is not ok in the
reference or the driving pose takes its parent's transform, i.e. it holds the reference's placement relative to its
parent instead of dragging pixels to a guessed position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..pose import layout

# Joint indices into the derived joint array.
L_SHO, R_SHO, L_ELB, R_ELB, L_WRI, R_WRI, L_HIP, R_HIP = 0, 1, 2, 3, 4, 5, 6, 7
L_KNEE, R_KNEE, L_ANK, R_ANK, NECK, MID_HIP, L_TIP, R_TIP, CHIN, HEAD_TOP = range(8, 18)
NUM_JOINTS = 18
_FROM_COCO = (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)

HEAD_POINTS = np.r_[0:5, 23:91]  # nose, eyes, ears and the 68 face points: one similarity for the head
INNER_LIPS = np.r_[23 + 60:23 + 68]
# The head's rigid placement comes from the points a jaw opening does not move (not the lower jaw or the mouth).
HEAD_RIGID = np.setdiff1d(HEAD_POINTS, np.r_[23 + 3:23 + 14, 23 + 48:23 + 68])
CHIN_POINT = 23 + 8


@dataclass(frozen=True)
class Bone:
    name: str
    a: int  # joint index of the proximal end
    b: int  # joint index of the distal end
    parent: int  # bone index, -1 for the root
    layer: int  # drawing order: higher layers cover lower ones where they overlap
    radius: float  # limb half-width as a fraction of the shoulder width


BONES: tuple[Bone, ...] = (
    Bone("torso", NECK, MID_HIP, -1, 0, 0.55),
    Bone("head", CHIN, HEAD_TOP, 0, 2, 0.0),  # radius from the face width
    Bone("left_upper_arm", L_SHO, L_ELB, 0, 3, 0.2),
    Bone("right_upper_arm", R_SHO, R_ELB, 0, 3, 0.2),
    Bone("left_forearm", L_ELB, L_WRI, 2, 4, 0.16),
    Bone("right_forearm", R_ELB, R_WRI, 3, 4, 0.16),
    Bone("left_hand", L_WRI, L_TIP, 4, 5, 0.17),
    Bone("right_hand", R_WRI, R_TIP, 5, 5, 0.17),
    Bone("left_thigh", L_HIP, L_KNEE, 0, 1, 0.28),
    Bone("right_thigh", R_HIP, R_KNEE, 0, 1, 0.28),
    Bone("left_shin", L_KNEE, L_ANK, 8, 1, 0.2),
    Bone("right_shin", R_KNEE, R_ANK, 9, 1, 0.2),
)
TORSO, HEAD = 0, 1


def _hand_tip(xy: np.ndarray, ok: np.ndarray, hand: slice, wrist: int, elbow: int) -> tuple[np.ndarray, bool]:
    """Tip of the hand: from the hand points when at least 5 are confident, else the forearm extended by 40%."""
    idx = np.arange(hand.start, hand.stop)[ok[hand]]
    if ok[wrist] and idx.size >= 5:
        return xy[wrist] + 2.0 * (xy[idx].mean(axis=0) - xy[wrist]), True
    if ok[wrist] and ok[elbow]:
        return xy[wrist] + 0.4 * (xy[wrist] - xy[elbow]), True
    return xy[wrist], False


def joints(xy: np.ndarray, conf: np.ndarray, gate: float) -> tuple[np.ndarray, np.ndarray]:
    """Derived joints of one person. xy: float [133, 2] pixels; conf: [133]. Returns (float64 [J, 2], bool [J])."""
    xy = np.asarray(xy, np.float64)
    ok = np.asarray(conf) >= gate
    out = np.zeros((NUM_JOINTS, 2))
    good = np.zeros(NUM_JOINTS, bool)
    out[:12] = xy[list(_FROM_COCO)]
    good[:12] = ok[list(_FROM_COCO)]
    out[NECK] = 0.5 * (out[L_SHO] + out[R_SHO])
    good[NECK] = good[L_SHO] and good[R_SHO]
    if good[L_HIP] and good[R_HIP]:
        out[MID_HIP], good[MID_HIP] = 0.5 * (out[L_HIP] + out[R_HIP]), True
    elif good[NECK]:
        # No hips (half-body photo): a hip centre 1.6 shoulder widths below the neck, perpendicular to the shoulders.
        across = out[L_SHO] - out[R_SHO]
        down = np.array([-across[1], across[0]])
        down *= np.sign(down[1]) if down[1] != 0 else 1.0
        out[MID_HIP], good[MID_HIP] = out[NECK] + 1.6 * down, True
    out[L_TIP], good[L_TIP] = _hand_tip(xy, ok, layout.LEFT_HAND, layout.LEFT_WRIST, layout.LEFT_ELBOW)
    out[R_TIP], good[R_TIP] = _hand_tip(xy, ok, layout.RIGHT_HAND, layout.RIGHT_WRIST, layout.RIGHT_ELBOW)
    head = HEAD_POINTS[ok[HEAD_POINTS]]
    if head.size >= 3:
        centre = xy[head].mean(axis=0)
        if ok[CHIN_POINT]:
            chin = xy[CHIN_POINT]
        elif good[NECK]:
            chin = 0.5 * (centre + out[NECK])
        else:
            chin = centre + np.array([0.0, 0.5 * float(np.ptp(xy[head], axis=0).max())])
        out[CHIN], good[CHIN] = chin, True
        out[HEAD_TOP], good[HEAD_TOP] = centre + 1.1 * (centre - chin), True
    return out, good


def face_width(xy: np.ndarray, conf: np.ndarray, gate: float) -> float:
    """Width of the face in pixels: jaw ends, else ears, else eyes x 2; 0 when none is confident."""
    pairs = ((23, 39, 1.0), (layout.LEFT_EAR, layout.RIGHT_EAR, 1.0), (layout.LEFT_EYE, layout.RIGHT_EYE, 2.2))
    for a, b, k in pairs:
        if conf[a] >= gate and conf[b] >= gate:
            return float(k * np.linalg.norm(np.asarray(xy[a], np.float64) - xy[b]))
    return 0.0


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2-D similarity (rotation, uniform scale, translation) src -> dst as a 2x3 matrix (Umeyama)."""
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - ms, dst - md
    var = float((s * s).sum())
    if var < 1e-9:
        m = np.eye(2, 3)
        m[:, 2] = md - ms
        return m
    a = float((s * d).sum())  # sum of dot products
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum())  # sum of cross products
    c, sn = a / var, b / var
    rot = np.array([[c, -sn], [sn, c]])
    return np.concatenate([rot, (md - rot @ ms)[:, None]], axis=1)


def limb_affine(a0: np.ndarray, b0: np.ndarray, a1: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """2x3 affine taking segment a0-b0 onto a1-b1: rotation, stretch along the limb only (its width is kept)."""
    v0, v1 = b0 - a0, b1 - a1
    l0, l1 = float(np.hypot(*v0)), float(np.hypot(*v1))
    if l0 < 1e-6 or l1 < 1e-6:
        m = np.eye(2, 3)
        m[:, 2] = a1 - a0
        return m
    u0, u1 = v0 / l0, v1 / l1
    r0 = np.array([[u0[0], -u0[1]], [u0[1], u0[0]]])
    r1 = np.array([[u1[0], -u1[1]], [u1[1], u1[0]]])
    stretch = np.diag([np.clip(l1 / l0, 0.5, 2.0), 1.0])
    lin = r1 @ stretch @ r0.T
    return np.concatenate([lin, (a1 - lin @ a0)[:, None]], axis=1)


def bone_transforms(ref_xy: np.ndarray, ref_ok: np.ndarray, ref_joints: np.ndarray, ref_jok: np.ndarray,
                    drv_xy: np.ndarray, drv_ok: np.ndarray) -> np.ndarray:
    """float64 [B, 2, 3]: each bone's affine from the reference pose to the driving pose.

    ref_xy / drv_xy: [133, 2] pixels with their ok masks; ref_joints, ref_jok from `joints` of the reference.
    """
    drv_joints, drv_jok = joints(drv_xy, drv_ok.astype(np.float32), 0.5)
    out = np.zeros((len(BONES), 2, 3))
    for i, bone in enumerate(BONES):
        parent = out[bone.parent] if bone.parent >= 0 else np.eye(2, 3)
        if i == TORSO:
            pts = np.array([5, 6, 11, 12])
            both = pts[ref_ok[pts] & drv_ok[pts]]
            shoulders = ref_ok[5] and ref_ok[6] and drv_ok[5] and drv_ok[6]
            out[i] = similarity(ref_xy[both], drv_xy[both]) if shoulders else parent
        elif i == HEAD:
            both = HEAD_RIGID[ref_ok[HEAD_RIGID] & drv_ok[HEAD_RIGID]]
            out[i] = similarity(ref_xy[both], drv_xy[both]) if both.size >= 3 else parent
        elif ref_jok[bone.a] and ref_jok[bone.b] and drv_jok[bone.a] and drv_jok[bone.b]:
            out[i] = limb_affine(ref_joints[bone.a], ref_joints[bone.b], drv_joints[bone.a], drv_joints[bone.b])
        else:
            out[i] = parent
    return out
