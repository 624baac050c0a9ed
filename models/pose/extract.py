"""Backend-agnostic pose extraction: frames -> PoseSequence (selection + normalisation + progress)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from .backend import PoseBackend, to_rgb_uint8
from .layout import NUM_KEYPOINTS
from .select import PERSON_MODES, select_people
from .types import PoseSequence

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 16  # frames per backend call: enough crops for a full pose batch, small enough for smooth progress


def extract_poses(
    frames_uint8: np.ndarray,
    backend: PoseBackend,
    fps: float = 25.0,
    person: str = "largest",
    max_people: int = 1,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> PoseSequence:
    """Detect whole-body poses in every frame and pack them as a PoseSequence.

    frames_uint8: uint8 [B, H, W, 3] RGB (grey, RGBA and float 0..1 are converted); B may be 0.
    backend: a PoseBackend; its ``reset()`` (if any) is called first so tracking starts fresh for this clip.
    person / max_people: slot selection (models.pose.select). progress(done, total) is called after every chunk
    of frames; it may raise to cancel (ComfyUI interruption).
    Returns keypoints [B, P, 133, 3] normalised to the (W, H) canvas; frames without anyone hold zeros.
    """
    if person not in PERSON_MODES:
        raise ValueError(f"person selection must be one of {PERSON_MODES}, got {person!r}")
    if int(max_people) < 1:
        raise ValueError(f"max_people must be at least 1, got {max_people}")
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"fps must be a positive number, got {fps}")
    frames = to_rgb_uint8(frames_uint8, "image")
    total, height, width = frames.shape[0], frames.shape[1], frames.shape[2]
    if height < 1 or width < 1:
        raise ValueError(f"image frames must be at least 1x1 pixels, got {width}x{height}")
    meta = {"backend": getattr(backend, "name", type(backend).__name__), "person": person}
    if total == 0:
        return PoseSequence(np.zeros((0, 1, NUM_KEYPOINTS, 3), np.float32), (width, height), fps, meta=meta)
    reset = getattr(backend, "reset", None)
    if callable(reset):
        reset()
    step = max(1, int(chunk))
    detections: list[np.ndarray] = []
    for start in range(0, total, step):
        part = frames[start : start + step]
        found = backend.detect(part)
        if len(found) != len(part):
            raise RuntimeError(
                f"pose backend {meta['backend']!r} returned {len(found)} results for {len(part)} frames"
            )
        for people in found:
            people = np.asarray(people, np.float32)
            if people.size == 0:
                people = np.zeros((0, NUM_KEYPOINTS, 3), np.float32)
            if people.ndim != 3 or people.shape[1:] != (NUM_KEYPOINTS, 3):
                raise RuntimeError(
                    f"pose backend {meta['backend']!r} returned shape {people.shape}; expected [people, 133, 3]"
                )
            detections.append(people)
        if progress is not None:
            progress(min(start + step, total), total)
    empty = sum(1 for people in detections if len(people) == 0)
    if empty:
        logger.info("Embody pose: no person found in %d of %d frames (they get an empty pose).", empty, total)
    pixels = select_people(detections, (width, height), person, max_people)
    keypoints = pixels.copy()
    keypoints[..., 0] /= width
    keypoints[..., 1] /= height
    keypoints[..., 2] = np.clip(np.nan_to_num(keypoints[..., 2]), 0.0, 1.0)
    return PoseSequence(keypoints, (width, height), fps, meta=meta)
