"""Everything the warp computes once per reference image: person region, mesh, bone weights, face kernel, clean plate.

This is what makes the warp fast: per frame only the bone transforms change, and they move the precomputed mesh.

* Person region: hulls of limb width around the confident skeleton (plus the face, grown to cover hair), refined
  with OpenCV GrabCut (sure foreground = the thin skeleton, probable foreground = the hulls, probable background =
  a band around them, background = the rest).
* Mesh: a regular grid (``spacing`` px) over the grown region plus the keypoints, Delaunay-triangulated; triangles
  whose centre lies outside the grown region are dropped so that gaps (between an arm and the torso) stay empty.
* Bone weights (linear-blend skinning): w_b proportional to (1 + (d_b / r_b)^2)^-4, d_b the distance of a vertex
  to bone b's segment and r_b the limb's half-width; each triangle is drawn in the layer of its strongest bone.
* Face: vertices near the face follow the 68 face points' offsets from the head's similarity transform, through a
  Gaussian RBF interpolant fitted on the reference face points (so the jaw and mouth move as the pose says).
* Clean plate: the reference with the person region inpainted (OpenCV Telea); it shows through where the person
  moved away.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from .skeleton import BONES, HEAD, HEAD_POINTS, INNER_LIPS, NECK, TORSO, face_width, joints

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarpRig:
    """Per-reference precomputation. Pixel coordinates of the reference image (x right, y down)."""

    image: np.ndarray  # float32 [H, W, 3] 0..1, the reference
    plate: np.ndarray  # float32 [H, W, 3] the reference with the person inpainted
    person: np.ndarray  # float32 [H, W] 1 on the person, 0 elsewhere
    vertices: np.ndarray  # float64 [N, 2]
    triangles: np.ndarray  # int32 [T, 3], sorted by layer (drawn in this order)
    weights: np.ndarray  # float64 [N, B] bone weights, rows sum to 1
    face_vertices: np.ndarray  # int64 [M] vertices moved by the face offsets
    face_kernel: np.ndarray  # float64 [M, K] maps RBF coefficients of the K face points to vertex offsets
    face_points: np.ndarray  # int64 [K] keypoint indices of the face points used
    ref_xy: np.ndarray  # float64 [133, 2] reference keypoints in pixels
    ref_ok: np.ndarray  # bool [133] reference keypoints above the gate
    ref_joints: np.ndarray  # float64 [J, 2]
    ref_jok: np.ndarray  # bool [J]
    gate: float


def _segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
    return np.asarray(np.linalg.norm(points - (a + t[:, None] * ab), axis=1))


def bone_radii(ref_xy: np.ndarray, ref_ok: np.ndarray, ref_joints: np.ndarray, gate: float) -> np.ndarray:
    """Half-width in pixels of each bone, from the shoulder width (or the face width) of the reference."""
    from .skeleton import L_SHO, R_SHO

    shoulder = float(np.linalg.norm(ref_joints[L_SHO] - ref_joints[R_SHO]))
    face = face_width(ref_xy, ref_ok.astype(np.float32), 0.5)
    if shoulder < 1.0:
        shoulder = 2.5 * face if face > 0 else 100.0
    radii = np.array([bone.radius * shoulder for bone in BONES])
    radii[HEAD] = 0.62 * (face if face > 0 else 0.4 * shoulder)
    return radii


def _bone_ok(ref_jok: np.ndarray) -> np.ndarray:
    return np.array([ref_jok[b.a] and ref_jok[b.b] for b in BONES])


def person_region(image: np.ndarray, ref_joints: np.ndarray, ref_jok: np.ndarray, radii: np.ndarray,
                  refine: bool = True) -> np.ndarray:
    """uint8 [H, W] 1 on the person. image: uint8 RGB [H, W, 3]."""
    h, w = image.shape[:2]
    hull = np.zeros((h, w), np.uint8)
    core = np.zeros((h, w), np.uint8)
    head = np.zeros((h, w), np.uint8)  # head and neck hulls: kept whatever GrabCut says (hair, dark collars)
    hair = np.zeros((h, w), np.uint8)  # above the head: probable person for GrabCut only (hair or background)
    for bone, r, ok in zip(BONES, radii, _bone_ok(ref_jok), strict=True):
        if not ok:
            continue
        a, b = (tuple(int(round(v)) for v in ref_joints[j]) for j in (bone.a, bone.b))
        if bone.name == "head":
            centre = 0.5 * (ref_joints[bone.a] + ref_joints[bone.b])
            half = 0.5 * float(np.linalg.norm(ref_joints[bone.b] - ref_joints[bone.a]))
            axis = ref_joints[bone.b] - ref_joints[bone.a]
            angle = float(np.degrees(np.arctan2(axis[1], axis[0])))
            # Grown to take in hair; the neck joins the head to the shoulders.
            cv2.ellipse(head, (tuple(centre), (2 * half * 1.45, 2.4 * r), angle), 1, -1)
            cv2.ellipse(hull, (tuple(centre), (2 * half * 1.55, 2.7 * r), angle), 1, -1)
            # Hair rises above the skull: GrabCut's probable person reaches 2.25 half-lengths above the centre (the
            # hull: 1.55). The hull and its band stopped ~10 px below the top of the astronaut's hair, so GrabCut
            # could not take it in and the clean plate kept a strip of hair that stayed behind when the head moved.
            cv2.ellipse(hair, (tuple(centre + 0.2 * axis), (2 * half * 1.85, 2.7 * r), angle), 1, -1)
            cv2.ellipse(core, (tuple(centre), (1.2 * half, 1.0 * r), angle), 1, -1)
            if ref_jok[NECK]:
                neck = tuple(int(round(v)) for v in ref_joints[NECK])
                cv2.line(hull, a, neck, 1, max(2, int(round(1.4 * r))))
                cv2.line(head, a, neck, 1, max(2, int(round(1.2 * r))))
                cv2.line(core, a, neck, 1, max(1, int(round(0.4 * r))))
        else:
            cv2.line(hull, a, b, 1, max(2, int(round(2 * r))))
            cv2.line(core, a, b, 1, max(1, int(round(0.5 * r))))
    if not refine or hull.sum() == 0:
        return hull | head
    probable = hull | hair
    band = cv2.dilate(probable, np.ones((3, 3), np.uint8), iterations=max(2, int(0.15 * radii[TORSO])))
    mask = np.full((h, w), cv2.GC_BGD, np.uint8)
    mask[band > 0] = cv2.GC_PR_BGD
    mask[probable > 0] = cv2.GC_PR_FGD
    mask[core > 0] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut seeds its colour models with OpenCV's global RNG: same image, same region
    try:
        cv2.grabCut(np.ascontiguousarray(image[..., ::-1]), mask, (0, 0, 0, 0), bgd, fgd, 3, cv2.GC_INIT_WITH_MASK)
    except cv2.error as exc:  # e.g. no background sample at all: keep the hulls
        logger.warning("warp: GrabCut failed (%s); using the limb hulls as the person region", exc)
        return hull
    region = ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD) | (head > 0)).astype(np.uint8)
    # Keep the parts connected to the skeleton and close pinholes.
    region = cv2.morphologyEx(region, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    count, labels = cv2.connectedComponents(region)
    keep = np.unique(labels[(core > 0) & (region > 0)])
    region = np.asarray(np.isin(labels, keep[keep > 0]), np.uint8)
    # Fill enclosed holes that lie mostly on the limb hulls: GrabCut dropped part of the astronaut's helmet ring (as
    # dark and glossy as the background's shadows), and the clean plate kept it as a ghost arc when the body moved.
    # Holes mostly outside the hulls (the gap between an arm on the hip and the torso) stay background.
    count, holes = cv2.connectedComponents((region == 0).astype(np.uint8))  # label 0 = the region itself
    size = np.bincount(holes.ravel(), minlength=count)
    on_hulls = np.bincount(holes.ravel(), weights=(probable > 0).ravel().astype(np.float64), minlength=count)
    fill = on_hulls > 0.5 * size
    fill[0] = False
    fill[np.r_[holes[0], holes[-1], holes[:, 0], holes[:, -1]]] = False  # open to the image border: not enclosed
    region[fill[holes]] = 1
    # GrabCut's edge runs inside the soft, dark fringe of hair and clothes; left in the clean plate, that fringe
    # showed as a thin dark arc where the person moved away. Two pixels more carry it with the person.
    return np.asarray(cv2.dilate(region, np.ones((3, 3), np.uint8), iterations=2), np.uint8)


def _mesh(person: np.ndarray, extra: np.ndarray, spacing: int) -> tuple[np.ndarray, np.ndarray]:
    h, w = person.shape
    grown = cv2.dilate(person, np.ones((3, 3), np.uint8), iterations=max(2, spacing))
    # The grid runs one step past the image so that triangles cover the last row and column.
    ys, xs = np.mgrid[0:h + spacing:spacing, 0:w + spacing:spacing]
    grid = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float64)
    grid = grid[grown[np.minimum(grid[:, 1], h - 1).astype(int), np.minimum(grid[:, 0], w - 1).astype(int)] > 0]
    inside = (extra[:, 0] >= 0) & (extra[:, 0] <= w - 1) & (extra[:, 1] >= 0) & (extra[:, 1] <= h - 1)
    pts = np.concatenate([grid, extra[inside]])
    # Drop points closer than a third of the spacing to an earlier one (keeps Delaunay well-conditioned).
    key = np.round(pts / max(1.0, spacing / 3.0)).astype(np.int64)
    _, first = np.unique(key, axis=0, return_index=True)
    pts = pts[np.sort(first)]
    if len(pts) < 3:
        raise ValueError("pose warp: the person region is too small to build a mesh; check the reference pose")
    tri = Delaunay(pts).simplices.astype(np.int32)
    centre = pts[tri].mean(axis=1)
    keep = grown[np.clip(centre[:, 1].round().astype(int), 0, h - 1), np.clip(centre[:, 0].round().astype(int),
                                                                            0, w - 1)] > 0
    edges = np.linalg.norm(pts[tri] - pts[np.roll(tri, 1, axis=1)], axis=2).max(axis=1)
    keep &= edges < 3.0 * spacing
    return pts, tri[keep]


def build_rig(image: np.ndarray, keypoints: np.ndarray, gate: float, spacing: int = 10,
              refine: bool = True, region: tuple[np.ndarray, np.ndarray] | None = None) -> WarpRig:
    """Precompute the warp of one reference.

    image: uint8 RGB [H, W, 3]. keypoints: float [133, 3] (x, y normalised to 0..1 of the image, confidence).
    gate: points below this confidence are not used. spacing: mesh grid step in pixels. refine: GrabCut the region.
    region: (person uint8 [H, W], plate float32 [H, W, 3]) from an earlier rig of the same image, to skip both.
    """
    h, w = image.shape[:2]
    kp = np.asarray(keypoints, np.float64)
    ref_xy = kp[:, :2] * [w, h]
    ref_ok = kp[:, 2] >= gate
    ref_joints, ref_jok = joints(ref_xy, kp[:, 2], gate)
    if not ref_jok.any() or not (ref_ok[HEAD_POINTS].sum() >= 3 or ref_jok[:2].all()):
        raise ValueError("pose warp: the reference pose has no confident head or shoulders; "
                         "use a reference image in which the person's face or shoulders are clearly visible")
    radii = bone_radii(ref_xy, ref_ok, ref_joints, gate)
    if region is None:
        person = person_region(image, ref_joints, ref_jok, radii, refine=refine)
    else:
        person = np.asarray(region[0] > 0, np.uint8)
    extra = np.concatenate([ref_xy[ref_ok & ~np.isin(np.arange(len(ref_xy)), INNER_LIPS)], ref_joints[ref_jok]])
    vertices, triangles = _mesh(person, extra, spacing)

    bone_ok = _bone_ok(ref_jok)
    dist = np.stack([_segment_distance(vertices, ref_joints[b.a], ref_joints[b.b]) for b in BONES], axis=1)
    weights = (1.0 + (dist / np.maximum(radii, 1.0)) ** 2) ** -4.0
    weights[:, ~bone_ok] = 0.0
    total = weights.sum(axis=1, keepdims=True)
    weights = np.where(total > 1e-12, weights / np.maximum(total, 1e-12), np.eye(len(BONES))[TORSO])
    layer = np.array([b.layer for b in BONES])
    tri_layer = layer[weights[triangles].sum(axis=1).argmax(axis=1)]
    triangles = triangles[np.argsort(tri_layer, kind="stable")]

    face_pts = np.arange(23, 91)
    face_pts = face_pts[ref_ok[face_pts] & ~np.isin(face_pts, INNER_LIPS)]
    fw = face_width(ref_xy, kp[:, 2], gate)
    if face_pts.size >= 6 and fw > 0:
        sigma = 0.12 * fw
        fxy = ref_xy[face_pts]
        gram = np.exp(-((fxy[:, None] - fxy[None]) ** 2).sum(-1) / (2 * sigma**2))
        near = np.linalg.norm(vertices[:, None] - fxy[None], axis=2).min(axis=1) < 4 * sigma
        face_vertices = np.flatnonzero(near & (weights[:, HEAD] > 0.05))
        k = np.exp(-((vertices[face_vertices][:, None] - fxy[None]) ** 2).sum(-1) / (2 * sigma**2))
        face_kernel = k @ np.linalg.inv(gram + 1e-3 * np.eye(len(face_pts)))
        face_kernel *= weights[face_vertices, HEAD][:, None]
    else:
        face_pts, face_vertices, face_kernel = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0))

    rgb = image.astype(np.float32) / 255.0
    if region is None:
        hole = cv2.dilate(person, np.ones((3, 3), np.uint8), iterations=2)
        plate = cv2.inpaint(image, hole, 5, cv2.INPAINT_TELEA).astype(np.float32) / 255.0
        plate = np.where(person[..., None] > 0, plate, rgb)  # only the person's own pixels are replaced
    else:
        plate = np.asarray(region[1], np.float32)
    return WarpRig(rgb, plate, person.astype(np.float32), vertices, triangles.astype(np.int32), weights,
                   face_vertices.astype(np.int64), face_kernel, face_pts.astype(np.int64), ref_xy, ref_ok,
                   ref_joints, ref_jok, float(gate))
