"""Audio -> pose sequence with a trained motion model: checks, fps handling, residuals back onto the reference.

The output has exactly ``features.num_frames`` frames at ``features.fps`` (the audio's frame rate), one person
(the chosen reference person), the reference's canvas, and keypoints clamped to the canvas.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from ...pose.types import PoseSequence
from .diffusion import sample_long
from .motion_model import MotionTransformer
from .residuals import from_residuals, reference_pose

if TYPE_CHECKING:
    from ..features import AudioFeatures

logger = logging.getLogger(__name__)


def check_features(model: MotionTransformer, features: AudioFeatures, fps: float | None = None) -> np.ndarray:
    """The feature array [F, D] after checking it fits the model; clear ValueErrors otherwise."""
    cfg = model.config
    feats = np.asarray(features.features, dtype=np.float32)
    if feats.ndim != 2 or feats.shape[0] == 0:
        raise ValueError(f"audio features must be a non-empty [frames, dims] array, got shape {feats.shape}")
    if feats.shape[1] != cfg.feature_dim:
        raise ValueError(
            f"the audio features have {feats.shape[1]} values per frame but this motion model was trained on "
            f"{cfg.feature_dim}; compute the features with the same settings as in training (e.g. n_mels)"
        )
    names = tuple(getattr(features, "names", ()) or ())
    if cfg.feature_names and names and names != tuple(cfg.feature_names):
        raise ValueError(
            "the audio feature columns differ from the ones this motion model was trained on "
            f"(model: {sorted(set(cfg.feature_names))}, features: {sorted(set(names))}); recompute them to match"
        )
    if fps is not None and abs(float(features.fps) - float(fps)) > 1e-6:
        raise ValueError(
            f"the audio features are at {features.fps} fps but {fps} fps was requested; recompute the audio "
            f"features at {fps} fps (Embody Audio Features node, fps input)"
        )
    if not np.isfinite(feats).all():
        raise ValueError("the audio features contain NaN or infinite values; recompute them from the audio")
    return feats


def resample_time(values: np.ndarray, src_fps: float, dst_fps: float, frames: int) -> np.ndarray:
    """Linear interpolation of [F, C] sampled at src_fps to ``frames`` samples at dst_fps."""
    if abs(src_fps - dst_fps) < 1e-9 and len(values) == frames:
        return values
    src_t = np.arange(len(values)) / src_fps
    dst_t = np.arange(frames) / dst_fps
    return np.stack([np.interp(dst_t, src_t, values[:, c]) for c in range(values.shape[1])], axis=1).astype(
        np.float32
    )


def generate_motion(
    model: MotionTransformer,
    reference: PoseSequence,
    features: AudioFeatures,
    steps: int = 10,
    cfg_scale: float = 2.0,
    seed: int = 0,
    motion_scale: float = 1.0,
    person: int = 0,
    fps: float | None = None,
    window: int | None = None,
    overlap: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    solver: str = "ddim",
) -> PoseSequence:
    """Animate the reference pose (its first frame, person ``person``) from audio features.

    steps: denoising steps; solver: "ddim" (default) or "dpmpp_2m" (same quality in fewer steps, see solver.py);
    cfg_scale: classifier-free guidance on audio (1 = off); motion_scale multiplies the
    residuals (0 = still reference); window/overlap: temporal outpainting (defaults from the model config,
    window=0 = one pass over the whole clip). Returns a PoseSequence [F, 1, 133, 3] at features.fps.
    """
    feats = check_features(model, features, fps)
    ref = reference_pose(reference, person, 0)
    cfg = model.config
    out_fps = float(features.fps)
    model_frames = max(1, round(len(feats) * cfg.fps / out_fps))
    if abs(out_fps - cfg.fps) > 1e-6:
        logger.info("resampling audio features from %.3f to the model's %.3f fps and back", out_fps, cfg.fps)
    model_feats = resample_time(feats, out_fps, cfg.fps, model_frames)
    param = next(model.parameters())
    audio = torch.from_numpy(model_feats).to(param.device, param.dtype)
    norm = sample_long(model, audio, steps, cfg_scale, seed, window, overlap, progress, solver)
    residuals = (norm.float() * model.motion_std.float()).cpu().numpy() * float(motion_scale)
    residuals = resample_time(residuals, cfg.fps, out_fps, len(feats))
    keypoints = from_residuals(residuals, ref, reference.canvas)
    meta = {
        "driver": "diffusion",
        "seed": int(seed),
        "steps": int(steps),
        "solver": solver,
        "cfg": float(cfg_scale),
        "motion_scale": float(motion_scale),
        "source_person": int(person),
    }
    return PoseSequence(keypoints[:, None], reference.canvas, out_fps, None, meta)
