"""Per-frame partial warp (VLOGGER): move the reference's pixels into a driving pose, report what it explains.

Per frame: bone transforms from the driving keypoints -> linear-blend skinning of the rig's mesh (+ the face's RBF
offsets) -> each deformed triangle is filled with its index (in layer order, so forearms cover the torso) -> every
covered pixel gets the triangle's affine map back into the reference -> one cv2.remap of the image and of the
person mask -> composite over the clean plate. The mask is 1 where the frame shows reference pixels (the moved
person, or untouched background) and 0 in holes the reference cannot explain (background uncovered by the person),
which are filled from the inpainted plate.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from .rig import WarpRig, build_rig
from .skeleton import HEAD, INNER_LIPS, bone_transforms

MOUTH_COLOUR = np.array([0.16, 0.05, 0.06], np.float32)  # the dark inside of an open mouth
_SHIFT = 4  # fixed-point bits for sub-pixel triangle filling


def deform(rig: WarpRig, keypoints: np.ndarray) -> np.ndarray:
    """float64 [N, 2]: the rig's mesh vertices moved into the pose `keypoints` (float [133, 3], normalised)."""
    return _deform(rig, keypoints)[0]


def _deform(rig: WarpRig, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = rig.person.shape
    kp = np.asarray(keypoints, np.float64)
    drv_xy = kp[:, :2] * [w, h]
    drv_ok = kp[:, 2] >= rig.gate
    affines = bone_transforms(rig.ref_xy, rig.ref_ok, rig.ref_joints, rig.ref_jok, drv_xy, drv_ok)
    moved = np.einsum("bij,nj->nbi", affines[:, :, :2], rig.vertices) + affines[None, :, :, 2]
    out = np.einsum("nb,nbi->ni", rig.weights, moved)
    if rig.face_vertices.size:
        head = affines[HEAD]
        fp = rig.face_points
        residual = drv_xy[fp] - (rig.ref_xy[fp] @ head[:, :2].T + head[:, 2])
        residual[~drv_ok[fp]] = 0.0  # an unsure face point holds the head's placement
        out[rig.face_vertices] += rig.face_kernel @ residual
    return np.asarray(out), affines


def triangle_maps(rig: WarpRig, moved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise the deformed mesh. Returns (triangle index int32 [H, W], -1 = none; affines float32 [T, 2, 3])
    mapping each pixel of a triangle back to the reference."""
    h, w = rig.person.shape
    tri = rig.triangles
    dst = moved[tri]  # [T, 3, 2]
    src = rig.vertices[tri]
    dmat = np.concatenate([dst.transpose(0, 2, 1), np.ones((len(tri), 1, 3))], axis=1)  # [T, 3, 3]
    det = np.linalg.det(dmat)
    valid = np.abs(det) > 1e-6
    affine = np.zeros((len(tri), 2, 3))
    affine[valid] = src[valid].transpose(0, 2, 1) @ np.linalg.inv(dmat[valid])
    ids = np.full((h, w), -1, np.int32)
    fixed = np.round(dst * (1 << _SHIFT)).astype(np.int32)
    for t in np.flatnonzero(valid):
        cv2.fillConvexPoly(ids, fixed[t], int(t), cv2.LINE_8, _SHIFT)
    return ids, affine.astype(np.float32)


def _paint_mouth(rig: WarpRig, frame: np.ndarray, keypoints: np.ndarray, head: np.ndarray) -> None:
    """Paint the inside of the mouth dark where the driving lips open beyond the reference's own opening (carried
    by the head alone, i.e. the upper teeth stay where the skull puts them); a closed reference mouth opens dark."""
    h, w = rig.person.shape
    kp = np.asarray(keypoints, np.float64)
    if not rig.ref_ok[INNER_LIPS].all() or not (kp[INNER_LIPS, 2] >= rig.gate).all():
        return
    lips = kp[INNER_LIPS, :2] * [w, h]
    own = rig.ref_xy[INNER_LIPS] @ head[:, :2].T + head[:, 2]
    x0, y0 = np.floor(np.minimum(lips.min(0), own.min(0))).astype(int) - 2
    x1, y1 = np.ceil(np.maximum(lips.max(0), own.max(0))).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return
    layer = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(layer, [np.round((lips - [x0, y0]) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    cv2.fillPoly(layer, [np.round((own - [x0, y0]) * 16).astype(np.int32)], 0, cv2.LINE_AA, 4)
    if not layer.any():
        return
    alpha = (layer.astype(np.float32) / 255.0)[..., None]
    patch = frame[y0:y1, x0:x1]
    patch += alpha * (MOUTH_COLOUR - patch)


def warp_frame(rig: WarpRig, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reference moved into one pose. Returns (float32 [H, W, 3] 0..1, float32 [H, W] explained mask)."""
    h, w = rig.person.shape
    moved, bones = _deform(rig, keypoints)
    ids, affine = triangle_maps(rig, moved)
    flat = ids.ravel()
    sel = np.flatnonzero(flat >= 0)
    px = (sel % w).astype(np.float32)
    py = (sel // w).astype(np.float32)
    m = affine[flat[sel]]
    map_x = np.full(h * w, -1.0, np.float32)
    map_y = np.full(h * w, -1.0, np.float32)
    map_x[sel] = m[:, 0, 0] * px + m[:, 0, 1] * py + m[:, 0, 2]
    map_y[sel] = m[:, 1, 0] * px + m[:, 1, 1] * py + m[:, 1, 2]
    map_x, map_y = map_x.reshape(h, w), map_y.reshape(h, w)
    warped = cv2.remap(rig.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.remap(rig.person, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    alpha[ids < 0] = 0.0
    frame = rig.plate + alpha[..., None] * (warped - rig.plate)
    _paint_mouth(rig, frame, keypoints, bones[HEAD])
    explained = np.where(rig.person > 0, alpha >= 0.5, 1.0).astype(np.float32)
    return np.clip(frame, 0.0, 1.0), explained


def warp_sequence(image: np.ndarray, reference: np.ndarray, driving: np.ndarray, gate: float, spacing: int = 10,
                  refine: bool = True, on_frame: Callable[[int], None] | None = None,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Warp the reference into every driving pose.

    image: uint8 RGB [H, W, 3]. reference: float [133, 3] its pose (x, y normalised to 0..1, confidence).
    driving: float [F, 133, 3] poses aligned to the reference (same canvas). gate: confidence gate.
    on_frame(i) is called after each frame (progress / interruption). Returns (float32 [F, H, W, 3],
    float32 [F, H, W]).
    """
    driving = np.asarray(driving, np.float64)
    if driving.ndim != 3 or driving.shape[1:] != (133, 3):
        raise ValueError(f"driving poses must have shape [frames, 133, 3], got {tuple(driving.shape)}")
    if len(driving) == 0:
        raise ValueError("driving pose: the sequence is empty; connect a pose with at least one frame")
    rig = build_rig(image, reference, gate, spacing=spacing, refine=refine)
    h, w = image.shape[:2]
    frames = np.empty((len(driving), h, w, 3), np.float32)
    masks = np.empty((len(driving), h, w), np.float32)
    for i, kp in enumerate(driving):
        frames[i], masks[i] = warp_frame(rig, kp)
        if on_frame is not None:
            on_frame(i)
    return frames, masks
