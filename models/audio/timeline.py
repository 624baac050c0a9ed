"""Voice and motion on one time axis, for the audio nodes' widget: the waveform envelope, loudness and onset
strength of the speech, and the motion energy of a generated pose (mouth opening, hand speed).

Payload (version 1), JSON-friendly; every curve is thinned to at most ``max_points`` values by taking the max of
each bucket (so short peaks such as onsets survive), and scaled to 0..1 (``*_max`` keeps the unscaled peak):
    v: 1; duration_s: seconds the x axis spans; fps: feature/pose frame rate;
    wave: [min, max] pairs per bucket of the mono waveform (-1..1);
    loudness, onset: per-bucket curves of the audio features; mouth, hands: per-bucket motion energy (optional).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..pose.layout import LEFT_WRIST, LOWER_INNER_LIP, RIGHT_WRIST, UPPER_INNER_LIP
from ..pose.types import PoseSequence
from .features import AudioFeatures, _to_mono

VERSION = 1
MAX_POINTS = 600


def bucket_max(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """values [N] -> at most ``max_points`` values, each the max of its bucket (NaN-safe; an all-NaN bucket is 0)."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    n = len(values)
    if n <= max_points:
        return values
    edges = np.linspace(0, n, max_points + 1).astype(np.int64)
    return np.maximum.reduceat(values, edges[:-1])


def _unit(values: np.ndarray) -> tuple[list[float], float]:
    top = float(values.max()) if values.size else 0.0
    scaled = values / top if top > 0 else np.zeros_like(values)
    return [round(float(v), 3) for v in scaled], round(top, 6)


def waveform_envelope(waveform: Any, buckets: int = MAX_POINTS) -> list[list[float]]:
    """[min, max] of the mono waveform in each of ``buckets`` equal stretches (fewer for very short audio)."""
    mono = _to_mono(waveform).astype(np.float64)
    if mono.size == 0:
        return []
    edges = np.linspace(0, mono.size, min(buckets, mono.size) + 1).astype(np.int64)
    lo = np.minimum.reduceat(mono, edges[:-1])
    hi = np.maximum.reduceat(mono, edges[:-1])
    return [[round(float(a), 3), round(float(b), 3)] for a, b in zip(lo, hi, strict=True)]


def motion_energy(pose: PoseSequence, person: int = 0) -> dict[str, np.ndarray]:
    """Per frame: mouth opening (inner-lip gap as a share of canvas height) and hand speed (mean wrist speed in
    canvas heights per second). Frames where the points are missing give 0."""
    if pose.num_people == 0 or pose.num_frames == 0:
        zeros = np.zeros(pose.num_frames)
        return {"mouth": zeros, "hands": zeros}
    kp = pose.keypoints[:, min(person, pose.num_people - 1)]
    px = kp[..., :2] * np.array([pose.width, pose.height], dtype=np.float32) / float(pose.height)
    seen = kp[..., 2] > 0
    lips = seen[:, UPPER_INNER_LIP] & seen[:, LOWER_INNER_LIP]
    mouth = np.where(lips, np.linalg.norm(px[:, UPPER_INNER_LIP] - px[:, LOWER_INNER_LIP], axis=-1), 0.0)
    speeds = []
    for wrist in (LEFT_WRIST, RIGHT_WRIST):
        step = np.linalg.norm(np.diff(px[:, wrist], axis=0), axis=-1) * pose.fps
        ok = seen[1:, wrist] & seen[:-1, wrist]
        speeds.append(np.concatenate([[0.0], np.where(ok, step, 0.0)]))
    return {"mouth": mouth.astype(np.float64), "hands": np.mean(speeds, axis=0)}


def timeline(features: AudioFeatures, pose: PoseSequence | None = None, person: int = 0,
             max_points: int = MAX_POINTS) -> dict[str, Any]:
    """The widget payload (format in the module docstring) for ``features`` and, optionally, a generated pose."""
    out: dict[str, Any] = {"v": VERSION, "duration_s": float(features.duration_s), "fps": float(features.fps)}
    out["wave"] = waveform_envelope(features.audio["waveform"], max_points) if features.audio else []
    for name, values in (("loudness", features.loudness), ("onset", features.onset)):
        out[name], out[f"{name}_max"] = _unit(bucket_max(np.asarray(values).reshape(-1), max_points))
    if pose is not None:
        for name, values in motion_energy(pose, person).items():
            out[name], out[f"{name}_max"] = _unit(bucket_max(values, max_points))
    return out
