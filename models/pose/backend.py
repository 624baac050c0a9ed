"""The pose backend protocol every detector implements, the one factory that builds a backend, and input conversion.

A backend turns RGB frames into whole-body keypoints in pixels; person selection, normalisation and the
PoseSequence are the job of :func:`models.pose.extract.extract_poses`, so every backend behaves the same there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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


BACKENDS = ("dwpose", "mediapipe")
DWPOSE_DETECTOR = "yolox_l.onnx"
DWPOSE_POSE_MODEL = "dw-ll_ucoco_384.onnx"
DWPOSE_SOURCE = "https://huggingface.co/yzd-v/DWPose"


@dataclass(frozen=True)
class PoseModel:
    """A pose model choice (what ComfyUI's EMBODY_POSE_MODEL carries): the backend and, for DWPose, its two files.

    It holds no session: :meth:`create` builds a fresh PoseBackend for one extraction, which the caller closes.
    """

    backend: str
    detector: str | None = None
    pose_model: str | None = None
    min_detection_confidence: float = 0.5

    def create(self, detect_every: int = 1) -> PoseBackend:
        return make_pose_backend(self.backend, self.detector, self.pose_model, detect_every=detect_every,
                                 min_detection_confidence=self.min_detection_confidence)

    def describe(self) -> dict[str, object]:
        """What extract_poses records in the pose's meta (file names, not the user's folders)."""
        files = {k: os.path.basename(v) for k, v in (("detector", self.detector), ("pose_model", self.pose_model)) if v}
        return {"backend": self.backend, **files}


def make_pose_backend(
    backend: str,
    detector: str | None = None,
    pose_model: str | None = None,
    detect_every: int = 1,
    min_detection_confidence: float = 0.5,
) -> PoseBackend:
    """The one pose-backend factory (nodes, the demo and the training CLI use it).

    "dwpose": detector and pose_model are paths to yolox_l.onnx and dw-ll_ucoco_384.onnx; a missing one is a
    FileNotFoundError naming the file and where to get it. detect_every: run the detector every N frames.
    "mediapipe": the optional mediapipe package (a RuntimeError says how to enable it). Anything else: ValueError.
    """
    if backend == "dwpose":
        for role, path, default in (("detector", detector, DWPOSE_DETECTOR),
                                    ("pose model", pose_model, DWPOSE_POSE_MODEL)):
            if not path:
                raise ValueError(f"the dwpose backend needs the DWPose {role} file ({default}; from {DWPOSE_SOURCE})")
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"DWPose {role} file not found: {path}. Put {default} there (get it from {DWPOSE_SOURCE})."
                )
        from .dwpose import DWPoseBackend

        return DWPoseBackend(str(detector), str(pose_model), detect_every=detect_every)
    if backend == "mediapipe":
        from .mediapipe_backend import MediaPipeBackend

        return MediaPipeBackend(static_image_mode=True, min_detection_confidence=min_detection_confidence)
    raise ValueError(f"unknown pose backend {backend!r}; choose one of {BACKENDS}")
