"""Confidence-aware One Euro smoothing of pose sequences.

The One Euro filter (Casiez, Roussel & Vogel, CHI 2012) is an adaptive low-pass filter: its cutoff rises with speed,
fc = min_cutoff + beta * |dx/dt|, so slow motion is smoothed hard (kills detector jitter) and fast motion is
followed with little lag. Each step: alpha(fc) = 1 / (1 + tau / Te), tau = 1 / (2 pi fc), Te = 1 / fps;
x_hat = x_hat_prev + alpha (x - x_hat_prev); the speed is itself low-passed at d_cutoff.

Confidence awareness (ours): a point's update is scaled by a weight w(c) that ramps from 0 at `hold_below` to 1 at
`full_above`. Confident points get the plain One Euro filter; less confident ones follow more slowly; points below
`hold_below` hold their last value; missing points (c = 0) stay missing and the filter resumes when they return.
A point that has never been seen passes through as is.
Positions are filtered in canvas pixels (x and y share one cutoff from the 2-D speed), so beta is in 1/pixel.
Confidences are not changed.
"""

from __future__ import annotations

import math

import numpy as np

from .layout import CONFIDENCE_GATE
from .types import PoseSequence


def smoothing_factor(cutoff_hz: np.ndarray | float, fps: float) -> np.ndarray:
    """alpha = 1 / (1 + tau / Te) with tau = 1 / (2 pi cutoff), Te = 1 / fps (One Euro, eq. 4)."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + tau * fps)


def confidence_weight(conf: np.ndarray, hold_below: float, full_above: float) -> np.ndarray:
    """Update weight in 0..1: 0 below hold_below, 1 at or above full_above, linear between."""
    conf = np.asarray(conf, dtype=np.float64)
    if full_above <= hold_below:
        return (conf >= hold_below).astype(np.float64)
    return np.clip((conf - hold_below) / (full_above - hold_below), 0.0, 1.0)


def one_euro_smooth(
    pose: PoseSequence,
    min_cutoff: float = 1.0,
    beta: float = 0.05,
    d_cutoff: float = 1.0,
    hold_below: float = CONFIDENCE_GATE,
    full_above: float = 0.8,
) -> PoseSequence:
    """Smooth every keypoint track of a pose sequence over time (person slots are treated as identities).

    min_cutoff: cutoff in Hz at rest (lower = smoother, more lag); beta: how fast the cutoff rises with speed
    (Hz per pixel/second); d_cutoff: cutoff of the speed estimate in Hz. hold_below / full_above: confidence ramp.
    Returns a new PoseSequence with the same shape, canvas, fps and confidences.
    """
    for name, value in (("min_cutoff", min_cutoff), ("d_cutoff", d_cutoff)):
        if not value > 0:
            raise ValueError(f"{name} must be a positive frequency in Hz, got {value}")
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    scale = np.array([pose.width, pose.height], dtype=np.float64)
    xy = pose.keypoints[..., :2].astype(np.float64) * scale  # [F, P, K, 2] pixels
    conf = pose.keypoints[..., 2].astype(np.float64)
    # A non-finite point is treated as missing, so one bad frame cannot poison the filter state for the rest of the
    # track; it is passed through unchanged.
    finite = np.isfinite(pose.keypoints).all(axis=-1)
    conf = np.where(finite, conf, 0.0)
    xy = np.where(finite[..., None], xy, 0.0)
    out = xy.copy()
    fps = pose.fps
    alpha_d = float(smoothing_factor(d_cutoff, fps))
    state = np.zeros(xy.shape[1:], dtype=np.float64)
    speed = np.zeros(xy.shape[1:], dtype=np.float64)
    seen = np.zeros(xy.shape[1:3], dtype=bool)
    for f in range(pose.num_frames):
        x, c = xy[f], conf[f]
        w = confidence_weight(c, hold_below, full_above)[..., None]
        start = ~seen & (c > 0)
        state[start] = x[start]
        speed[start] = 0.0
        seen |= start
        # Derivative of the raw signal against the previous estimate, low-passed (One Euro, eq. 5-6).
        raw_speed = (x - state) * fps
        speed = speed + alpha_d * w * (raw_speed - speed)
        cutoff = min_cutoff + beta * np.linalg.norm(speed, axis=-1, keepdims=True)
        alpha = smoothing_factor(cutoff, fps) * w
        update = seen[..., None] & ~start[..., None]
        state = np.where(update, state + alpha * (x - state), state)
        # Missing points (c = 0) stay missing (zeros) in the output; their state is kept for when they return.
        out[f] = np.where((seen & (c > 0))[..., None], state, x)
    keypoints = pose.keypoints.copy()
    keypoints[..., :2] = np.where(finite[..., None], out / scale, keypoints[..., :2]).astype(np.float32)
    return pose.with_keypoints(keypoints, hand_clarity=pose.hand_clarity,
                               meta={**pose.meta, "smooth": {"filter": "one_euro", "min_cutoff": min_cutoff,
                                                             "beta": beta, "d_cutoff": d_cutoff}})
