"""Synthetic inputs for the audio feature and procedural rhythm tests: a front-facing pose and speech-like audio."""

from __future__ import annotations

import numpy as np

from models.pose.layout import NUM_KEYPOINTS
from models.pose.types import PoseSequence


def synthetic_reference(canvas: tuple[int, int] = (512, 768), people: int = 1, frames: int = 1) -> PoseSequence:
    """A front-facing half-body person (COCO-WholeBody, all points confident) on `canvas`."""
    kp = np.zeros((NUM_KEYPOINTS, 3), np.float64)
    body = {
        0: (0.50, 0.20), 1: (0.52, 0.18), 2: (0.48, 0.18), 3: (0.55, 0.19), 4: (0.45, 0.19),
        5: (0.62, 0.33), 6: (0.38, 0.33), 7: (0.66, 0.47), 8: (0.34, 0.47), 9: (0.65, 0.60), 10: (0.35, 0.60),
        11: (0.58, 0.63), 12: (0.42, 0.63), 13: (0.58, 0.80), 14: (0.42, 0.80), 15: (0.58, 0.95), 16: (0.42, 0.95),
    }
    for i, (x, y) in body.items():
        kp[i] = (x, y, 0.95)
    for i in range(17, 23):  # feet near the ankles
        kp[i] = (0.58 if i < 20 else 0.42, 0.97, 0.8)
    cx, cy, a, b = 0.5, 0.19, 0.055, 0.055
    face = np.zeros((68, 2))
    th = np.pi - np.pi * np.arange(17) / 16
    face[:17] = np.c_[cx + a * np.cos(th), cy + b * np.sin(th)]
    face[17:27] = np.c_[np.linspace(cx - 0.8 * a, cx + 0.8 * a, 10), np.full(10, cy - 0.45 * b)]
    face[27:31] = np.c_[np.full(4, cx), np.linspace(cy - 0.35 * b, cy + 0.2 * b, 4)]
    face[31:36] = np.c_[np.linspace(cx - 0.2 * a, cx + 0.2 * a, 5), np.full(5, cy + 0.3 * b)]
    eye = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    face[36:42] = np.c_[cx - 0.35 * a + 0.15 * a * np.cos(eye), cy - 0.25 * b + 0.05 * b * np.sin(eye)]
    face[42:48] = np.c_[cx + 0.35 * a + 0.15 * a * np.cos(eye), cy - 0.25 * b + 0.05 * b * np.sin(eye)]
    outer = np.pi - 2 * np.pi * np.arange(12) / 12
    face[48:60] = np.c_[cx + 0.35 * a * np.cos(outer), cy + 0.6 * b - 0.12 * b * np.sin(outer)]
    inner = np.pi - 2 * np.pi * np.arange(8) / 8
    face[60:68] = np.c_[cx + 0.25 * a * np.cos(inner), cy + 0.6 * b - 0.03 * b * np.sin(inner)]
    kp[23:91, :2] = face
    kp[23:91, 2] = 0.9
    for start, wrist in ((91, 9), (112, 10)):
        wx, wy = kp[wrist, :2]
        pts = [(wx, wy)]
        for finger in range(5):
            for joint in range(1, 5):
                pts.append((wx + (finger - 2) * 0.008, wy + joint * 0.012))
        kp[start:start + 21, :2] = pts
        kp[start:start + 21, 2] = 0.85
    arr = np.zeros((frames, people, NUM_KEYPOINTS, 3), np.float32)
    arr[:, 0] = kp
    return PoseSequence(arr, canvas, 25.0, meta={"backend": "synthetic"})


def syllable_train(
    seconds: float = 4.0,
    sample_rate: int = 16000,
    seed: int = 0,
    pauses: tuple[tuple[float, float], ...] = (),
    gap: tuple[float, float] = (0.04, 0.16),
) -> tuple[np.ndarray, list[float]]:
    """Speech-like mono audio: voiced syllables (harmonics, random level) with a consonant burst at each start.

    pauses: (start_s, end_s) spans kept silent. gap: range of the silent gap after each syllable, seconds.
    Returns (float32 [T], syllable start times in seconds).
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    y = np.zeros(n, np.float64)
    starts: list[float] = []
    t = 0.2
    while t < seconds - 0.3:
        if any(a - 0.35 < t < b for a, b in pauses):
            t = min(b for a, b in pauses if a - 0.35 < t < b) + 0.05
            continue
        dur = rng.uniform(0.14, 0.28)
        i0, m = int(t * sample_rate), int(dur * sample_rate)
        tt = np.arange(m) / sample_rate
        f0 = rng.uniform(110, 190)
        voiced = sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in range(1, 12))
        env = np.sin(np.pi * np.arange(m) / m) ** 0.7
        syl = rng.uniform(0.15, 0.9) * env * voiced / 3
        burst = int(0.02 * sample_rate)
        syl[:burst] += rng.normal(0, 0.3, burst) * np.hanning(burst)
        y[i0:i0 + m] += syl[: n - i0]
        starts.append(t)
        t += dur + rng.uniform(*gap)
    return np.clip(y, -1, 1).astype(np.float32), starts
