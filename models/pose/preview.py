"""Compact pose previews for the graph: keypoints quantised to bytes and thinned in time, sent through ui data.

The frontend's pose scrubber (web/js/lib/pose.js) decodes the same format; tests/data/pose_preview_parity.json,
written from this module, checks that both sides agree.

Payload (version 1), a JSON-friendly dict:
    v: 1; frames: frames sent; total_frames: frames in the pose; stride: every stride-th frame was kept;
    fps: the pose's fps (frame k sent is pose frame k * stride); people: person slots sent; canvas: [w, h];
    kp: base64 of uint8 [frames, people, 133, 3]: x and y as round(v * 255) over the canvas (0..1),
        confidence as round(c * 255); a point outside the canvas is sent with confidence 0 (not drawn).

Size on the wire: at most max_frames * people * 133 * 3 bytes before base64 (x 4/3 after), whatever the length of
the clip: with the defaults (300 frames) one person costs 120 KB raw, 160 KB as base64 -- the same for a 10-second
and a 10-minute clip (a 10-minute clip at 25 fps is thinned to every 50th frame, 2 previews per second).
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

from .types import PoseSequence

VERSION = 1
MAX_FRAMES = 300
MAX_PEOPLE = 8


def thinning_stride(num_frames: int, max_frames: int = MAX_FRAMES) -> int:
    """The smallest stride that keeps at most ``max_frames`` of ``num_frames`` frames."""
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    return max(1, math.ceil(num_frames / max_frames))


def quantise(keypoints: np.ndarray) -> np.ndarray:
    """float [..., 133, 3] (x, y in 0..1, confidence 0..1) -> uint8 of the same shape; off-canvas points get 0."""
    kp = np.asarray(keypoints, dtype=np.float32)
    xy, conf = kp[..., :2], kp[..., 2]
    inside = np.isfinite(kp).all(axis=-1) & (xy >= 0).all(axis=-1) & (xy <= 1).all(axis=-1)
    out = np.zeros(kp.shape, dtype=np.uint8)
    out[..., :2] = np.rint(np.clip(np.nan_to_num(xy), 0.0, 1.0) * 255.0).astype(np.uint8)
    out[..., 2] = np.where(inside, np.rint(np.clip(np.nan_to_num(conf), 0.0, 1.0) * 255.0), 0).astype(np.uint8)
    return out


def dequantise(data: np.ndarray) -> np.ndarray:
    """uint8 [..., 3] -> float32 x, y, confidence in 0..1 (the inverse of :func:`quantise` up to 1/510)."""
    return np.asarray(data, dtype=np.float32) / 255.0


def pose_preview(pose: PoseSequence, max_frames: int = MAX_FRAMES, max_people: int = MAX_PEOPLE) -> dict[str, Any]:
    """The ui payload (format in the module docstring) of ``pose`` for the frontend's pose scrubber."""
    stride = thinning_stride(pose.num_frames, max_frames)
    kp = pose.keypoints[::stride, :max_people]
    data = quantise(kp)
    return {
        "v": VERSION,
        "frames": int(data.shape[0]),
        "total_frames": pose.num_frames,
        "stride": stride,
        "fps": float(pose.fps),
        "people": int(data.shape[1]),
        "canvas": [pose.width, pose.height],
        "kp": base64.b64encode(data.tobytes()).decode("ascii"),
    }


def decode_preview(payload: dict[str, Any]) -> np.ndarray:
    """float32 [frames, people, 133, 3] from a payload (what the frontend draws)."""
    raw = np.frombuffer(base64.b64decode(payload["kp"]), dtype=np.uint8)
    shape = (int(payload["frames"]), int(payload["people"]), 133, 3)
    if raw.size != int(np.prod(shape)):
        raise ValueError(f"pose preview holds {raw.size} bytes; expected {int(np.prod(shape))} for shape {shape}")
    return dequantise(raw.reshape(shape))
