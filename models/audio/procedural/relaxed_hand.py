"""A relaxed hand synthesised from the forearm, for references whose hands the detector did not see.

Without hand points the pose warp has nothing to move the hands by and MimicMotion's PoseNet sees no hands, so the
procedural driver adds a plausible resting hand: 21 points (COCO-WholeBody / OpenPose hand order) laid out in the
forearm's frame, fingers slightly curled, the hand about 0.75 forearm lengths long (adult hand / forearm length).
The points get a confidence just above the gate (drawn dim, never mistaken for a detection) and the pose's meta
lists the synthesised hands under "synthesised_hands".
"""

from __future__ import annotations

import numpy as np

from ...pose import layout

SYNTH_CONFIDENCE = layout.CONFIDENCE_GATE + 0.05

# (along the forearm, across it) in hand lengths, wrist at the origin, for the 21 points; "across" is positive
# toward the thumb. Fingers fan out a little and curl toward the palm at the tips.
_TEMPLATE = np.array([
    [0.00, 0.00],
    [0.12, 0.16], [0.24, 0.26], [0.34, 0.32], [0.42, 0.34],  # thumb
    [0.45, 0.12], [0.63, 0.13], [0.75, 0.11], [0.83, 0.08],  # index
    [0.46, 0.03], [0.66, 0.03], [0.78, 0.01], [0.86, -0.02],  # middle
    [0.44, -0.06], [0.62, -0.07], [0.73, -0.08], [0.80, -0.10],  # ring
    [0.40, -0.14], [0.54, -0.16], [0.63, -0.17], [0.69, -0.18],  # little
])


def relaxed_hand(elbow: np.ndarray, wrist: np.ndarray, thumb_side: float) -> np.ndarray:
    """float64 [21, 2]: a resting hand continuing the forearm elbow -> wrist (pixels); thumb_side +1 or -1 picks
    which side of the forearm axis (counter-clockwise normal) the thumb is on."""
    axis = np.asarray(wrist, np.float64) - np.asarray(elbow, np.float64)
    length = 0.75 * float(np.linalg.norm(axis))
    u = axis / max(float(np.linalg.norm(axis)), 1e-9)
    v = np.array([-u[1], u[0]]) * thumb_side
    return np.asarray(wrist + length * (_TEMPLATE[:, :1] * u + _TEMPLATE[:, 1:] * v))


def add_relaxed_hands(xy: np.ndarray, conf: np.ndarray, min_conf: float) -> list[str]:
    """Fill in missing hands in place. xy: float64 [133, 2] pixels, conf: [133]. A hand is added where fewer than 5
    of its points reach the gate and its elbow and wrist reach min_conf. Returns the sides added."""
    added = []
    mid_x = 0.5 * (xy[layout.LEFT_SHOULDER, 0] + xy[layout.RIGHT_SHOULDER, 0])
    for side, elbow, wrist, hand in (("left", layout.LEFT_ELBOW, layout.LEFT_WRIST, layout.LEFT_HAND),
                                     ("right", layout.RIGHT_ELBOW, layout.RIGHT_WRIST, layout.RIGHT_HAND)):
        if (conf[hand] >= layout.CONFIDENCE_GATE).sum() >= 5:
            continue
        if conf[elbow] < min_conf or conf[wrist] < min_conf:
            continue
        # A hand at rest faces the body: its thumb points toward the body's midline (front view).
        axis = xy[wrist] - xy[elbow]
        normal_x = -axis[1] / max(float(np.linalg.norm(axis)), 1e-9)
        toward_mid = np.sign(mid_x - xy[wrist, 0]) or 1.0
        thumb_side = 1.0 if normal_x * toward_mid >= 0 else -1.0
        xy[hand] = relaxed_hand(xy[elbow], xy[wrist], thumb_side)
        conf[hand] = SYNTH_CONFIDENCE
        added.append(side)
    return added
