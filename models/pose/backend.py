"""The pose backend protocol every detector implements, and input conversion shared by all backends.

A backend turns RGB frames into whole-body keypoints in pixels; person selection, normalisation and the
PoseSequence are the job of :func:`models.pose.extract.extract_poses`, so every backend behaves the same there.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class PoseBackend(Protocol):
    """A whole-body pose detector.

    ``detect(frames)``: frames uint8 [B, H, W, 3] RGB -> one float32 array [P_i, 133, 3] per frame: x, y in pixels
    of that frame, confidence clipped to 0..1; P_i may be 0 (no person). ``close()`` frees what the backend holds.
    A backend that keeps state across calls (tracking) may also offer ``reset()``, which extract_poses calls at
    the start of every clip.
    """

    name: str

    def detect(self, frames: np.ndarray) -> list[np.ndarray]: ...

    def close(self) -> None: ...


def to_rgb_uint8(frames: np.ndarray, name: str = "image") -> np.ndarray:
    """Frames as contiguous uint8 [B, H, W, 3] RGB.

    Accepts [B, H, W] (grey) or [B, H, W, C] with C = 1 (grey, repeated), 3 (RGB) or 4 (RGBA, alpha dropped),
    either uint8 or float in 0..1 (ComfyUI IMAGE; clipped, rounded). Anything else is a ValueError naming ``name``.
    """
    arr = np.asarray(frames)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise ValueError(
            f"{name} must be a batch of frames [batch, height, width, channels], got shape {tuple(arr.shape)}"
        )
    channels = arr.shape[-1]
    if channels == 1:
        arr = np.repeat(arr, 3, axis=-1)
    elif channels == 4:
        arr = arr[..., :3]
    elif channels != 3:
        raise ValueError(
            f"{name} has {channels} colour channels; pose detection needs RGB (3), grey (1) or RGBA (4). "
            "Convert the image to RGB first."
        )
    if arr.dtype != np.uint8:
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
        if np.issubdtype(arr.dtype, np.floating):
            arr = np.nan_to_num(arr.astype(np.float32), nan=0.0) * 255.0
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)
