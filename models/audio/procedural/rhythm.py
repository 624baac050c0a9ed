"""Procedural (non-learned) talking-body motion from audio rhythm: no weights, labelled meta["driver"]="procedural".

The honest default when no audio-to-motion model is trained (research notes, "Fallbacks when there are no weights",
4a). Every movement is an offset from the reference pose:
- mouth: jaw and lower lip open along the face's down axis with the loudness envelope (at most 20% of the
  nose-to-chin length);
- head nods: each onset peak kicks an under-damped spring (drop, small rebound, settle); kicks are spread over
  ~0.16 s so no frame jumps;
- beat gestures: while speaking, the forearms lift a little (held gesture space) and every onset peak kicks them in
  proportion to its strength, a seeded lead hand more than the other (rotation about the elbow; the hand follows the
  wrist rigidly; the upper arm follows by a fraction);
- breathing (shoulders and upper body rise and spread) and slow idle sway, both seeded;
- silence of at least `min_silence_s` gates all speech-driven motion back to the rest pose within a few frames
  (offline, so the ramp back up anticipates speech onset the way gestures precede speech);
- the root (whole upper body) moves only inside CyberHost's body movement map (models/pose/body_movement.py,
  reference_box): the chest keypoint box enlarged by `box_enlarge` (arXiv 2409.01876; notes give 100-150%); the box
  margin also sets how far the body sways.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from ...pose import layout
from ...pose.body_movement import REFERENCE_MIN_CONFIDENCE, body_scale, chest_points, reference_box
from ...pose.types import PoseSequence
from ..features import AudioFeatures
from .relaxed_hand import add_relaxed_hands
from .springs import impulse_peak, simulate_spring

logger = logging.getLogger(__name__)

DEFAULT_KNOBS: dict[str, float] = {
    "gesture_amount": 1.0,  # scales beat gestures (forearm lift + kicks)
    "nod_amount": 1.0,  # scales head nods
    "mouth_amount": 1.0,  # scales jaw opening
    "breathing": 1.0,  # scales breathing rise
    "sway": 1.0,  # scales idle sway (root and head roll)
    "box_enlarge": 1.25,  # movement box = chest box enlarged by this fraction (1.25 = +125%)
    "silence_threshold": 0.12,  # loudness (0..1) below which a frame is silent
    "min_silence_s": 0.5,  # silences at least this long return to rest
}

HEAD = np.r_[0:5, 23:91]
FACE_OFFSET = 23
# Lower-jaw weights on the 68 face points (iBUG order): chin and lower lip move fully, corners halfway, upper lip 0.
_JAW_W = (1.0 - np.abs(np.arange(17) - 8) / 8.0) ** 1.5
_LIP_W = {48: 0.35, 54: 0.35, 55: 0.7, 56: 1.0, 57: 1.0, 58: 1.0, 59: 0.7,  # outer lower lip
          60: 0.35, 64: 0.35, 65: 1.0, 66: 1.0, 67: 1.0}  # inner lower lip
ARMS = {  # side -> (shoulder, elbow, wrist, hand slice)
    "left": (layout.LEFT_SHOULDER, layout.LEFT_ELBOW, layout.LEFT_WRIST, layout.LEFT_HAND),
    "right": (layout.RIGHT_SHOULDER, layout.RIGHT_ELBOW, layout.RIGHT_WRIST, layout.RIGHT_HAND),
}
_CONF = REFERENCE_MIN_CONFIDENCE  # a point below this confidence is missing when measuring the reference


def _mouth_weights() -> np.ndarray:
    w = np.zeros(layout.NUM_KEYPOINTS, np.float64)
    w[FACE_OFFSET:FACE_OFFSET + 17] = _JAW_W
    for k, v in _LIP_W.items():
        w[FACE_OFFSET + k] = v
    return w


def _ok(conf: np.ndarray, *idx: int) -> bool:
    return bool(all(conf[i] > _CONF for i in idx))


def _rest_gate(silent: np.ndarray, min_len: int, ramp: int) -> np.ndarray:
    """float64 [F] in 0..1: 0 inside silences of >= min_len frames, ramping over `ramp` frames at both ends."""
    n = silent.size
    gate = np.ones(n, np.float64)
    t = 0
    while t < n:
        if not silent[t]:
            t += 1
            continue
        a = t
        while t < n and silent[t]:
            t += 1
        b = t
        if b - a < min_len:
            continue
        idx = np.arange(a, b, dtype=np.float64)
        down = 1.0 - (idx - a + 1) / ramp if a > 0 else np.zeros_like(idx)
        up = 1.0 - (b - idx) / ramp if b < n else np.zeros_like(idx)
        gate[a:b] = np.clip(np.maximum(down, up), 0.0, 1.0)
    return gate


def _peaks(x: np.ndarray, threshold: float, spacing: int) -> np.ndarray:
    """Indices of local maxima >= threshold, keeping the strongest within `spacing` frames (scipy find_peaks)."""
    from scipy.signal import find_peaks

    idx, _ = find_peaks(np.r_[-np.inf, x, -np.inf], height=threshold, distance=max(1, spacing))
    return (idx - 1).astype(np.int64)


def _spread_kernel(fps: float, seconds: float = 0.16) -> np.ndarray:
    """Hann window over about ``seconds`` (odd length >= 3 frames), summing to 1."""
    m = max(3, int(round(seconds * fps)) | 1)
    w = np.hanning(m + 2)[1:-1]
    return np.asarray(w / w.sum())


def _spread(kicks: np.ndarray, kernel: np.ndarray, lead: int = 0) -> np.ndarray:
    """Kicks [F] spread by ``kernel`` centred on each kick, then moved ``lead`` frames earlier."""
    spread = np.convolve(kicks, kernel, mode="same")
    return np.asarray(np.r_[spread[lead:], np.zeros(lead)])


def _smooth_noise(rng: np.random.Generator, t: np.ndarray, fmin: float, fmax: float, parts: int = 3) -> np.ndarray:
    """Sum of a few slow sinusoids with seeded frequencies/phases, scaled to peak magnitude <= 1."""
    f = rng.uniform(fmin, fmax, parts)
    ph = rng.uniform(0.0, 2 * np.pi, parts)
    amp = rng.uniform(0.5, 1.0, parts)
    y = (amp[:, None] * np.sin(2 * np.pi * f[:, None] * t[None] + ph[:, None])).sum(axis=0)
    return y / amp.sum()


def _rotate(points: np.ndarray, centre: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate points [F,N,2] about centres [F,2] by angles [F] (radians, image coordinates)."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    d = points - centre[:, None]
    return np.stack([c * d[..., 0] - s * d[..., 1], s * d[..., 0] + c * d[..., 1]], axis=-1) + centre[:, None]


def _soft_clamp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Smoothly squash x into (lo, hi) with lo <= 0 <= hi (tanh on each side; identity near 0)."""
    out = np.zeros_like(x)
    pos, neg = x > 0, x < 0
    out[pos] = hi * np.tanh(x[pos] / hi) if hi > 0 else 0.0
    out[neg] = lo * np.tanh(x[neg] / lo) if lo < 0 else 0.0
    return out


def _check_inputs(reference: PoseSequence, features: AudioFeatures, person: int, intensity: float,
                  knobs: dict[str, Any]) -> dict[str, float]:
    unknown = sorted(set(knobs) - set(DEFAULT_KNOBS))
    if unknown:
        raise ValueError(f"unknown rhythm motion settings {unknown}; valid ones are {sorted(DEFAULT_KNOBS)}")
    merged = {**DEFAULT_KNOBS, **{k: float(v) for k, v in knobs.items()}}
    for k, v in merged.items():
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"rhythm motion setting {k} must be a finite number >= 0, got {v}")
    if not np.isfinite(intensity) or intensity < 0:
        raise ValueError(f"intensity must be a finite number >= 0, got {intensity}")
    if reference.num_frames < 1:
        raise ValueError("reference pose has no frames; connect EmbodyPoseExtract run on the reference image")
    if not 0 <= person < reference.num_people:
        raise ValueError(
            f"person {person} does not exist: the reference pose has {reference.num_people} person slot(s)"
        )
    if not reference.person_present()[0, person]:
        raise ValueError(
            f"the reference pose has no person in slot {person} of its first frame; use a reference image where "
            "the pose detector finds a person (check the EmbodyPoseExtract preview)"
        )
    if not (reference.keypoints[0, person, :, 2] > _CONF).any():
        raise ValueError(
            f"the reference pose's person {person} has no keypoint with confidence above {_CONF} in its first frame, "
            "so there is no body to animate; use a reference image where the person is clearly visible"
        )
    if features.num_frames < 1:
        raise ValueError("audio features have no frames; the audio is too short")
    return merged


def rhythm_motion(reference: PoseSequence, features: AudioFeatures, seed: int = 0, intensity: float = 1.0,
                  person: int = 0, **knobs: float) -> PoseSequence:
    """Animate the reference pose (first frame, one person) with procedural motion that follows the audio rhythm.

    reference: pose whose frame 0, slot `person`, is the rest pose. features: frame-aligned audio features.
    seed: variation (breathing rate, sway, gesture choices); the same seed gives the same motion.
    intensity: global scale of every movement (0 = still). knobs: see DEFAULT_KNOBS.
    Returns a PoseSequence [F = features.num_frames, 1, 133, 3] at features.fps on the reference canvas, every x, y
    in 0..1, confidences copied from the reference; meta["driver"] = "procedural".
    """
    k = _check_inputs(reference, features, person, float(intensity), knobs)
    fps, n = float(features.fps), features.num_frames
    width, height = reference.canvas
    wh = np.array([width, height], np.float64)
    rest = reference.keypoints[0, person].astype(np.float64)
    xy0, conf = rest[:, :2] * wh, rest[:, 2]
    synthesised = add_relaxed_hands(xy0, conf, _CONF)  # unseen hands: a relaxed hand from the forearm, labelled
    s = body_scale(xy0, conf, reference.canvas)
    # Separate streams: idle motion must not depend on how many onsets the audio has, so that a silent stretch
    # shows exactly the idle "rest" motion of the same seed.
    rng_idle = np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, 0])
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, 1])
    t = np.arange(n) / fps
    g = float(intensity)

    loud = np.asarray(features.loudness, np.float64)
    onset = np.asarray(features.onset, np.float64)
    silent = loud < k["silence_threshold"]
    ramp = int(min(6, max(1, round(0.25 * fps))))
    gate = _rest_gate(silent, max(1, int(round(k["min_silence_s"] * fps))), ramp)

    # Mouth: opening follows loudness above the silence floor, with a fast attack and ~60 ms release (jaw inertia).
    thr = k["silence_threshold"]
    drive = np.clip((loud - thr) / max(1.0 - thr, 1e-6), 0.0, 1.0) ** 0.8
    attack, release = 1 - np.exp(-1.0 / (0.015 * fps)), 1 - np.exp(-1.0 / (0.06 * fps))
    mouth = np.empty(n)
    level = 0.0
    for i, v in enumerate(drive):  # one-pole follower; F iterations of scalar work
        level += (attack if v > level else release) * (v - level)
        mouth[i] = level
    mouth *= gate

    # Onset peaks drive nods (all) and gestures (a seeded subset of the strong ones); none inside rest segments.
    spacing = max(1, int(round(0.1 * fps)))
    peaks = _peaks(onset, 0.3, spacing)
    peaks = peaks[gate[peaks] > 0.5]
    mag = onset[peaks] * rng.uniform(0.7, 1.0, peaks.size)

    w_nod, z_nod = 2 * np.pi * 2.5, 0.45
    kicks = np.zeros(n)
    kicks[peaks] = mag / impulse_peak(w_nod, z_nod)
    # Kicks are spread over ~0.16 s centred on the onset: no single-frame velocity jump (a visible head snap), and
    # the movement is at its fastest on the stressed syllable rather than one frame after it.
    spread = _spread_kernel(fps)
    nod = simulate_spring(np.zeros(n), _spread(kicks, spread), w_nod, z_nod, fps) * gate

    # Gestures: held lift while speaking (slow spring to a loudness-dependent target) plus kicks on strong beats.
    w_g, z_g = 2 * np.pi * 2.2, 0.6
    speaking = simulate_spring(gate * np.clip(loud, 0, 1), None, 2 * np.pi * 0.5, 1.0, fps)
    # Every beat moves the hands, in proportion to its onset strength (so hand speed follows the stress pattern);
    # a seeded lead hand takes most of each beat and the other hand a smaller share.
    strong = peaks[onset[peaks] >= 0.5]
    # A beat is a quick flick of the hand (McNeill 1992), quicker than a nod: its kick is spread over ~0.08 s, half
    # the head's spread, and led by one frame, because the discrete spring turns a kick at frame n into movement
    # between frames n and n + 1 (springs.spring_matrices). So the hand is fastest on the syllable's own frame:
    # hand speed against onset strength on speech went from r ~0.35 at lag 0 (0.53 one frame late) to ~0.6
    # (tests/test_audio_rhythm.py). Nods keep their wider, unled spread: led too, their frame-to-frame jerk grew
    # by a third on the astronaut's pose.
    stroke = _spread_kernel(fps, 0.08)
    lead = rng.uniform(0.0, 1.0, peaks.size) < 0.5
    arm_angle = {}
    for side, bit in (("left", 0), ("right", 1)):
        kick = np.zeros(n)
        share = np.where(lead == bool(bit), 1.0, 0.45) * rng.uniform(0.8, 1.0, peaks.size)
        kick[peaks] = 0.9 * onset[peaks] * share / impulse_peak(w_g, z_g)
        target = 0.5 * speaking * rng.uniform(0.6, 1.0)
        # Forearm pitch toward the camera, radians.
        lift = simulate_spring(target, _spread(kick, stroke, lead=1), w_g, z_g, fps)
        arm_angle[side] = lift * gate * k["gesture_amount"] * g

    # Idle: breathing (0.2-0.3 Hz, shoulders rise) and slow sway; these continue in silence (a living rest pose).
    breath = 0.5 * (1 - np.cos(2 * np.pi * rng_idle.uniform(0.2, 0.3) * t + rng_idle.uniform(0, 2 * np.pi)))
    idle_x = _smooth_noise(rng_idle, t, 0.05, 0.2)
    idle_roll = _smooth_noise(rng_idle, t, 0.08, 0.3)
    box = reference_box(xy0, conf, reference.canvas, k["box_enlarge"])
    chest = chest_points(xy0, conf, reference.canvas)
    slack_lo = box[:2] - chest.min(axis=0)  # <= 0: how far the chest may move left/up inside the box
    slack_hi = box[2:] - chest.max(axis=0)  # >= 0
    slack_lo, slack_hi = np.minimum(slack_lo, 0), np.maximum(slack_hi, 0)
    margin = np.minimum(-slack_lo, slack_hi)
    sway_x = 0.12 * margin[0] * k["sway"] * g * (idle_x + 0.3 * gate * speaking)
    sway_y = 0.15 * nod * 0.06 * s * k["nod_amount"] * g  # the body dips a little with each nod
    root_x = _soft_clamp(sway_x, slack_lo[0], slack_hi[0])
    root_y = _soft_clamp(sway_y - breath * 0.012 * s * k["breathing"] * g, slack_lo[1], slack_hi[1])
    roll = 0.05 * k["sway"] * g * idle_roll * (0.4 + 0.6 * gate)

    pts = np.broadcast_to(xy0, (n,) + xy0.shape).copy()  # [F,133,2] pixels

    # 1. Jaw along the face's own down axis (eyes -> chin), amplitude from the nose-to-chin length.
    eyes = [i for i in (layout.LEFT_EYE, layout.RIGHT_EYE) if conf[i] > _CONF]
    chin, nose_tip = FACE_OFFSET + 8, FACE_OFFSET + 30
    down = xy0[chin] - xy0[eyes].mean(axis=0) if eyes and conf[chin] > _CONF else np.array([0.0, 1.0])
    down = down / max(np.linalg.norm(down), 1e-6)
    face_len = np.linalg.norm(xy0[chin] - xy0[nose_tip]) if _ok(conf, chin, nose_tip) else 0.25 * s
    # At full loudness the lower lip drops 20% of the nose-to-chin length (about 1.2 cm on an adult face: a wide
    # spoken vowel); 45% looked like shouting on a real photo.
    opening = mouth * 0.2 * face_len * k["mouth_amount"] * g
    pts += opening[:, None, None] * _mouth_weights()[None, :, None] * down[None, None, :]

    # 2. Arms. A beat gesture lifts the forearm toward the camera: in the image the forearm rotates a little toward
    # the midline and foreshortens by cos(pitch) along its own axis; the hand follows the wrist rigidly and the
    # upper arm swings the elbow slightly outwards.
    mid_x = xy0[[layout.LEFT_SHOULDER, layout.RIGHT_SHOULDER]][:, 0].mean() if _ok(
        conf, layout.LEFT_SHOULDER, layout.RIGHT_SHOULDER) else xy0[layout.NOSE, 0]
    for side, (sh, el, wr, hand) in ARMS.items():
        if not _ok(conf, sh, el, wr):
            continue
        pitch = _soft_clamp(arm_angle[side], -0.2, 1.4)
        r = xy0[wr] - xy0[el]
        d = np.array([-r[1], r[0]])  # wrist velocity for a positive in-plane rotation about the elbow
        sign = 1.0 if d[0] * np.sign(mid_x - xy0[el, 0]) - d[1] >= 0 else -1.0
        chain = np.r_[el, wr, np.arange(hand.start, hand.stop)]
        pts[:, chain] = _rotate(pts[:, chain], pts[:, sh], -sign * 0.12 * pitch)
        fore = np.r_[wr, np.arange(hand.start, hand.stop)]
        u = r / max(np.linalg.norm(r), 1e-6)
        rel = pts[:, fore] - pts[:, el][:, None]
        along = rel @ u  # [F, N]: component along the rest forearm axis
        rel = rel + ((np.cos(pitch) - 1.0)[:, None] * along)[..., None] * u
        pts[:, fore] = _rotate(rel + pts[:, el][:, None], pts[:, el], sign * 0.35 * pitch)

    # 3. Head: nod (drop along image down) and idle roll about the neck.
    neck = xy0[[layout.LEFT_SHOULDER, layout.RIGHT_SHOULDER]].mean(axis=0) if _ok(
        conf, layout.LEFT_SHOULDER, layout.RIGHT_SHOULDER) else xy0[layout.NOSE] + np.array([0.0, 0.5 * s])
    pts[:, HEAD] = _rotate(pts[:, HEAD], np.broadcast_to(neck, (n, 2)), roll)
    pts[:, HEAD, 1] += (nod * 0.06 * s * k["nod_amount"] * g)[:, None]

    # 4. Breathing spreads the shoulders a little; 5. the root moves everything above the hips, hips partly.
    for sh, sgn in ((layout.LEFT_SHOULDER, 1.0), (layout.RIGHT_SHOULDER, -1.0)):
        side_dir = np.sign(xy0[sh, 0] - mid_x) or sgn
        pts[:, sh, 0] += side_dir * breath * 0.004 * s * k["breathing"] * g
    weight = np.ones(layout.NUM_KEYPOINTS)
    weight[[layout.LEFT_HIP, layout.RIGHT_HIP]] = 0.3
    weight[[layout.LEFT_KNEE, layout.RIGHT_KNEE, layout.LEFT_ANKLE, layout.RIGHT_ANKLE]] = 0.0
    weight[layout.FEET] = 0.0
    pts += np.stack([root_x, root_y], axis=-1)[:, None, :] * weight[None, :, None]

    out = np.empty((n, 1, layout.NUM_KEYPOINTS, 3), np.float32)
    out[:, 0, :, :2] = np.clip(pts / wh, 0.0, 1.0)
    out[:, 0, :, 2] = conf
    meta = {
        "driver": "procedural",
        "description": "procedural audio-rhythm motion (no learned model)",
        "seed": int(seed),
        "intensity": g,
        "knobs": k,
        "movement_box": (box / np.r_[wh, wh]).tolist(),
        "source_meta": dict(reference.meta),
        "synthesised_hands": synthesised,
    }
    logger.debug("rhythm motion: %d frames, %d onset peaks, %d strong", n, peaks.size, strong.size)
    return PoseSequence(out, reference.canvas, fps, meta=meta)
