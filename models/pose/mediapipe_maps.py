"""Index tables from MediaPipe's legacy solutions (Pose 33, Hands 21, Face Mesh 468) to COCO-WholeBody 133.

Body and feet: MediaPipe Pose's 33 landmarks matched to COCO's by name. Hands: MediaPipe's 21-point order
(wrist, then thumb, index, middle, ring, pinky from base to tip) equals COCO-WholeBody's, so they map 1:1.

Face 468 -> 68 (iBUG/dlib order) is our own table, derived from the Face Mesh topology that MediaPipe publishes as
connection sets (FACEMESH_FACE_OVAL, _LIPS, _LEFT/RIGHT_EYE, _LEFT/RIGHT_EYEBROW, _NOSE) and checked by drawing on
the astronaut photo:
* Jaw (0-16): the face-oval chain from the temple at eye height down to the chin (152) and up the other side,
  resampled to the 17 dlib jaw heights (dlib point 0 at the outer eye-corner height, 2 at the nose tip, 4 at the
  mouth corners, 8 the chin); where a dlib height falls between two oval vertices we take their mean.
* Brows (17-26): the upper brow line, outer to inner on the subject's right, inner to outer on the left.
* Nose (27-35): the midline 168 (nasion) -> 4 (tip) with two evenly spaced means, then the nostril base 98, 97, 2
  (subnasale), 326, 327.
* Eyes (36-47): corners 33/133 and 362/263, lids at the 1/3 and 2/3 vertices of each lid chain (the same six points
  commonly used for eye-aspect-ratio on Face Mesh).
* Lips (48-67): outer corners 61/291, outer and inner lip chains sampled at dlib's positions (centres 0, 17, 13, 14).
Subject's right is image left for a frontal face, as in dlib (mesh 33 is the subject's right outer eye corner).
"""

from __future__ import annotations

import numpy as np

# COCO-WholeBody index -> MediaPipe Pose index (-1: no equivalent, left missing with confidence 0).
POSE_TO_COCO_BODY: tuple[int, ...] = (
    0,  # nose
    2, 5,  # left eye, right eye (MediaPipe eye centres)
    7, 8,  # left ear, right ear
    11, 12, 13, 14, 15, 16,  # shoulders, elbows, wrists (left, right)
    23, 24, 25, 26, 27, 28,  # hips, knees, ankles
    31, -1, 29,  # left big toe (foot index), left small toe (none), left heel
    32, -1, 30,  # right big toe, right small toe, right heel
)

# MediaPipe Pose points whose visibility tells whether the face / a hand is in view (for synthesised confidences).
POSE_FACE_POINTS: tuple[int, ...] = tuple(range(11))  # nose, eyes, ears, mouth corners
POSE_LEFT_HAND_POINTS: tuple[int, ...] = (15, 17, 19, 21)  # left wrist, pinky, index, thumb
POSE_RIGHT_HAND_POINTS: tuple[int, ...] = (16, 18, 20, 22)

# dlib-68 index -> one or two Face Mesh vertices (two = their mean).
FACE_MESH_TO_DLIB68: tuple[tuple[int, ...], ...] = (
    # jaw, subject's right temple -> chin -> left temple
    (127,), (234,), (93, 132), (58,), (172,), (150,), (149, 176), (148,), (152,),
    (377,), (378, 400), (379,), (397,), (288,), (323, 361), (454,), (356,),
    # right brow outer -> inner, left brow inner -> outer
    (70,), (63,), (105,), (66,), (107,),
    (336,), (296,), (334,), (293,), (300,),
    # nose bridge (nasion -> tip), nostril base (right -> left)
    (168,), (6, 197), (195, 5), (4,),
    (98,), (97,), (2,), (326,), (327,),
    # right eye: outer corner, upper lid x2, inner corner, lower lid x2
    (33,), (160,), (158,), (133,), (153,), (144,),
    # left eye: inner corner, upper lid x2, outer corner, lower lid x2
    (362,), (385,), (387,), (263,), (373,), (380,),
    # outer lips: right corner, upper (right -> left), left corner, lower (left -> right)
    (61,), (40,), (37,), (0,), (267,), (270,), (291,), (321,), (314,), (17,), (84,), (91,),
    # inner lips: right corner, upper, left corner, lower
    (78,), (81,), (13,), (311,), (308,), (402,), (14,), (178,),
)

NUM_FACE_MESH = 468


def _face_matrix() -> np.ndarray:
    """float32 [68, 468] averaging matrix: dlib point j = sum_i M[j, i] * mesh point i."""
    m = np.zeros((len(FACE_MESH_TO_DLIB68), NUM_FACE_MESH), dtype=np.float32)
    for j, verts in enumerate(FACE_MESH_TO_DLIB68):
        m[j, list(verts)] = 1.0 / len(verts)
    return m


FACE_MESH_TO_DLIB68_MATRIX = _face_matrix()
