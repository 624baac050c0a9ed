"""Tiny motion models and synthetic talking data for tests and workflows.

``write_tiny_motion_model(folder)`` writes a random-init tiny model (82 features = the default audio features) as
``tiny_motion.safetensors``; the lead uses it for tests/workflows/talking_body_api.json.
``synthetic_talk(seconds, seed)`` makes audio features and a pose where a known function of the audio drives the
keypoints: the mouth opens with loudness and the right hand lifts after onsets (decaying), for learning tests.
"""

from __future__ import annotations

import os

import numpy as np

from models.audio.features import FEATURE_DIM, AudioFeatures
from models.audio.learned.model_file import save_motion_model
from models.audio.learned.motion_model import MotionModelConfig, MotionTransformer
from models.pose.layout import LEFT_HAND, LOWER_INNER_LIP, RIGHT_HAND, RIGHT_WRIST, UPPER_INNER_LIP
from models.pose.types import PoseSequence

FEATURE_NAMES = ("mel",) * (FEATURE_DIM - 2) + ("loudness", "onset")
# Lower-lip points of the 68-point face (55-59 outer, 64-67 inner; offset 23 in the 133 layout), moved together.
LOWER_LIP = np.array([23 + i for i in (55, 56, 57, 58, 59, 65, 66, 67)])
MOUTH_GAIN = 0.03  # canvas heights of extra opening at full loudness
HAND_GAIN = 0.12  # canvas heights the right hand lifts at full "gesture"


def tiny_config(**changes: object) -> MotionModelConfig:
    base = dict(feature_dim=FEATURE_DIM, feature_names=list(FEATURE_NAMES), d_model=64, num_layers=2, num_heads=4,
                ff_mult=2, dropout=0.0, window=32, overlap=8)
    base.update(changes)
    return MotionModelConfig(**base)  # type: ignore[arg-type]


def write_tiny_motion_model(folder: str, name: str = "tiny_motion.safetensors", seed: int = 0) -> str:
    """A random-init tiny motion model file in ``folder`` (created if needed); returns its path."""
    import torch

    torch.manual_seed(seed)
    model = MotionTransformer(tiny_config())
    os.makedirs(folder, exist_ok=True)
    return save_motion_model(model, os.path.join(folder, name), {"note": "random init, for tests"})


def reference_pose(canvas: tuple[int, int] = (512, 512)) -> PoseSequence:
    """A frontal half-body pose [1, 1, 133, 3], every point confident."""
    rng = np.random.default_rng(123)
    kp = np.zeros((133, 3), np.float32)
    body = {0: (0.5, 0.25), 1: (0.48, 0.23), 2: (0.52, 0.23), 3: (0.46, 0.24), 4: (0.54, 0.24), 5: (0.38, 0.4),
            6: (0.62, 0.4), 7: (0.33, 0.58), 8: (0.67, 0.58), 9: (0.35, 0.75), 10: (0.65, 0.75), 11: (0.42, 0.8),
            12: (0.58, 0.8), 13: (0.42, 0.95), 14: (0.58, 0.95), 15: (0.42, 0.99), 16: (0.58, 0.99)}
    for i, xy in body.items():
        kp[i, :2] = xy
    kp[17:23, :2] = [0.42, 0.99]
    kp[23:91, :2] = np.array([0.5, 0.27]) + rng.uniform(-0.05, 0.05, (68, 2))
    kp[UPPER_INNER_LIP, :2] = (0.5, 0.3)
    kp[LOWER_INNER_LIP, :2] = (0.5, 0.31)
    kp[LEFT_HAND, :2] = kp[9, :2] + rng.uniform(-0.03, 0.03, (21, 2))
    kp[RIGHT_HAND, :2] = kp[RIGHT_WRIST, :2] + rng.uniform(-0.03, 0.03, (21, 2))
    kp[:, 2] = 1.0
    return PoseSequence(kp[None, None], canvas, 25.0)


def synthetic_features(seconds: float, seed: int, fps: float = 25.0) -> AudioFeatures:
    """Syllable-train features: loudness bumps (3-9 frames) with pauses, an onset at each bump start, and a mel
    spectrum whose level follows loudness (plus noise), so the model must read it from the features."""
    rng = np.random.default_rng(seed)
    frames = round(seconds * fps)
    loud = np.zeros(frames, np.float32)
    onset = np.zeros(frames, np.float32)
    t = int(rng.integers(0, 5))
    while t < frames:
        length = int(rng.integers(3, 10))
        peak = rng.uniform(0.3, 1.0)
        bump = peak * np.sin(np.linspace(0, np.pi, length + 2)[1:-1])
        loud[t : t + length] = bump[: frames - t]
        onset[t] = peak if rng.random() < 0.5 else peak * 0.2
        t += length + int(rng.integers(1, 12))
    shape = rng.uniform(0.5, 1.0, FEATURE_DIM - 2).astype(np.float32)
    mel = -1 + 2.0 * loud[:, None] * shape[None] + 0.05 * rng.standard_normal((frames, FEATURE_DIM - 2))
    feats = np.concatenate([mel, loud[:, None], onset[:, None]], axis=1).astype(np.float32)
    return AudioFeatures(feats, fps, 16000, FEATURE_NAMES, frames / fps, None)


def hand_drive(onset: np.ndarray, tau: float = 4.0) -> np.ndarray:
    """Causal response of the hand to onsets: each onset lifts it by its strength, then it sinks back (exp decay)."""
    out = np.zeros_like(onset)
    level = 0.0
    for i, o in enumerate(onset):
        level = max(level * np.exp(-1.0 / tau), float(o))
        out[i] = level
    return out


def synthetic_talk(seconds: float, seed: int, canvas: tuple[int, int] = (512, 512)) -> tuple[PoseSequence,
                                                                                              AudioFeatures]:
    """(pose [F,1,133,3], features) where mouth opening = MOUTH_GAIN * loudness and the right hand lifts by
    HAND_GAIN * hand_drive(onset)."""
    feats = synthetic_features(seconds, seed)
    ref = reference_pose(canvas).keypoints[0, 0]
    kp = np.repeat(ref[None], feats.num_frames, axis=0)
    kp[:, LOWER_LIP, 1] += MOUTH_GAIN * feats.loudness[:, None]
    kp[:, np.r_[RIGHT_WRIST, 112:133], 1] -= HAND_GAIN * hand_drive(feats.onset)[:, None]
    return PoseSequence(kp[:, None], canvas, feats.fps), feats


def mouth_opening(pose: PoseSequence) -> np.ndarray:
    kp = pose.keypoints[:, 0]
    return kp[:, LOWER_INNER_LIP, 1] - kp[:, UPPER_INNER_LIP, 1]


def hand_height(pose: PoseSequence) -> np.ndarray:
    return -pose.keypoints[:, 0, RIGHT_WRIST, 1]
