"""Embody fusion on any core video MODEL: context windows and the per-frame CFG ramp as model patches (thin glue).

The maths is in models/video/context_fusion.py and models/video/frame_cfg.py; this file plugs it into ComfyUI's own
context-window machinery (comfy.context_windows.IndexListContextHandler, attached through model options exactly as
core's Context Windows node does), so KSampler / SamplerCustomAdvanced use it.
"""

from __future__ import annotations

import logging
from typing import Any

import comfy.context_windows as cw
import comfy.patcher_extension
import torch

from ..models.video.context_fusion import latent_schedule, shape_noise, weights_for, windows_for
from ..models.video.frame_cfg import frame_cfg
from ..models.video.fusion import FusionSchedule
from ._api import CATEGORY, EmbodyFusion, io

logger = logging.getLogger(__name__)


def frame_dim(ndim: int, requested: int) -> int:
    """Temporal dim of a latent: the requested one, or auto (-1): 2 for 5-D video latents [B, C, T, H, W], 0 for
    image batches [F, C, H, W] (SVD, AnimateDiff)."""
    if requested >= 0:
        return requested
    return 2 if ndim == 5 else 0


class EmbodyContextHandler(cw.IndexListContextHandler):
    """Core's index-list handler with Embody's windows (reference latent in every window when anchored), weights
    and noise modes. Everything else (cond slicing, guide frames, multimodal latents, callbacks) is core's."""

    def __init__(self, schedule: FusionSchedule, dim: int = -1, initial_dim: int = 2) -> None:
        super().__init__(
            context_schedule=cw.ContextSchedule(f"embody_{'anchored' if schedule.anchor_reference else 'plain'}",
                                                self._windows),
            fuse_method=cw.ContextFuseMethod(f"embody_{schedule.weighting}", self._weights),
            context_length=schedule.window,
            context_overlap=schedule.overlap,
            dim=initial_dim if dim < 0 else dim,
            freenoise=False,  # Embody's noise modes run in their own sampler wrapper
            causal_window_fix=False,  # Embody's windows carry no extra causal frame
        )
        self.embody_schedule = schedule
        self.requested_dim = dim

    @staticmethod
    def _windows(num_frames: int, handler: EmbodyContextHandler, model_options: dict[str, Any]) -> list[list[int]]:
        return windows_for(num_frames, handler.embody_schedule)

    @staticmethod
    def _weights(length: int, handler: EmbodyContextHandler, full_length: int, idxs: list[int],
                 **kwargs: Any) -> list[float]:
        weights = weights_for(idxs, full_length, handler.embody_schedule)
        if weights.numel() != length:
            raise RuntimeError(f"Embody fusion: window of {length} frames got {weights.numel()} weights.")
        return weights.tolist()

    def _fit_dim(self, x_in: torch.Tensor) -> None:
        self.dim = frame_dim(x_in.ndim, self.requested_dim)

    def should_use_context(self, model, conds, x_in, timestep, model_options) -> bool:  # type: ignore[override]
        self._fit_dim(x_in)
        return super().should_use_context(model, conds, x_in, timestep, model_options)

    def execute(self, calc_cond_batch, model, conds, x_in, timestep, model_options):  # type: ignore[override]
        self._fit_dim(x_in)
        return super().execute(calc_cond_batch, model, conds, x_in, timestep, model_options)


def _noise_wrapper(executor, guider, sigmas, extra_args, callback, noise, *args, **kwargs):
    """SAMPLER_SAMPLE wrapper: apply the EMBODY_FUSION noise mode to the noise the sampler drew (seeded)."""
    handler = extra_args.get("model_options", {}).get("context_handler")
    if isinstance(handler, EmbodyContextHandler):
        dim = frame_dim(noise.ndim, handler.requested_dim)
        if noise.shape[dim] > handler.context_length:
            generator = torch.Generator(device="cpu").manual_seed(int(extra_args.get("seed", 0)))
            noise = shape_noise(noise, dim, handler.embody_schedule, generator)
    return executor(guider, sigmas, extra_args, callback, noise, *args, **kwargs)


def apply_context_windows(model: Any, options: FusionSchedule, dim: int = -1) -> Any:
    """A clone of a ModelPatcher with Embody's context windows attached (as core's ContextWindowsManual does)."""
    latent_format = getattr(getattr(model, "model", None), "latent_format", None)
    ratio = int(getattr(latent_format, "temporal_downscale_ratio", 1) or 1)
    schedule = latent_schedule(options, ratio)
    model = model.clone()
    model.model_options["context_handler"] = EmbodyContextHandler(schedule, dim, initial_dim=2 if ratio > 1 else 0)
    cw.create_prepare_sampling_wrapper(model)
    model.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.SAMPLER_SAMPLE, "EmbodyContextWindows_noise",
                               _noise_wrapper)
    logger.info("Embody context windows: %d latent frames per window, overlap %d, %s weighting, %s noise "
                "(temporal compression %d).", schedule.window, schedule.overlap, schedule.weighting,
                schedule.noise, ratio)
    return model


class EmbodyContextWindows(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyContextWindows",
            display_name="Embody Context Windows",
            category=f"{CATEGORY}/video",
            description="Lets core samplers (KSampler, SamplerCustomAdvanced) render long videos with any core "
            "video model (Wan, Wan2.2-Animate, Hunyuan, LTXV, SVD) in overlapping windows fused with Embody's "
            "progressive latent fusion: MimicMotion's triangular weighting with the first (reference) latent kept "
            "in every window, or pyramid, overlap-linear, flat, gaussian, and Embody's noise modes. Uses ComfyUI's "
            "own context-window handler; replaces any context windows set before.",
            inputs=[
                io.Model.Input("model", tooltip="A core video model (from Load Diffusion Model / UNETLoader)."),
                EmbodyFusion.Input("fusion", optional=True, tooltip="From Embody Fusion Schedule. Window and "
                                   "overlap count video frames and are converted to latent frames with the "
                                   "model's temporal compression (Wan: 4 frames per latent). Default: 72 / 6, "
                                   "triangular, repeated noise, reference anchored."),
                io.Int.Input("dim", default=-1, min=-1, max=5, advanced=True, tooltip="Latent dimension that holds "
                             "the frames. -1 = auto: 2 for video latents [B, C, T, H, W] (Wan, Hunyuan, LTXV), 0 "
                             "for image batches (SVD)."),
            ],
            outputs=[io.Model.Output(tooltip="The model with Embody context windows applied during sampling.")],
        )

    @classmethod
    def execute(cls, model, fusion: FusionSchedule | None = None, dim: int = -1) -> io.NodeOutput:
        options = fusion if fusion is not None else FusionSchedule()
        try:
            patched = apply_context_windows(model, options, dim)
        except ValueError as exc:
            raise ValueError(f"Embody Context Windows: {exc} Adjust window/overlap in Embody Fusion Schedule.") from exc
        return io.NodeOutput(patched)


class EmbodyFrameCFGRamp(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyFrameCFGRamp",
            display_name="Embody Frame CFG Ramp",
            category=f"{CATEGORY}/video",
            description="Per-frame guidance as MimicMotion samples: frame k gets cfg_min + (cfg - cfg_min) k/(N-1), "
            "from cfg_min at the first frame to the sampler's cfg at the last, over the whole video after the "
            "windows are fused. Like core's Video Linear CFG Guidance, but for video latents too (Wan, Hunyuan).",
            inputs=[
                io.Model.Input("model", tooltip="The video model to patch."),
                io.Float.Input("cfg_min", default=1.0, min=0.0, max=100.0, step=0.05, tooltip="Guidance at the "
                               "first frame; the sampler's cfg is used at the last frame (MimicMotion: 2.0 / 2.0)."),
                io.Int.Input("dim", default=-1, min=-1, max=5, advanced=True, tooltip="Latent dimension that holds "
                             "the frames. -1 = auto: 2 for video latents [B, C, T, H, W], 0 for image batches."),
            ],
            outputs=[io.Model.Output(tooltip="The model with the per-frame guidance ramp.")],
        )

    @classmethod
    def execute(cls, model, cfg_min: float, dim: int = -1) -> io.NodeOutput:
        def ramp(args: dict[str, Any]) -> torch.Tensor:
            cond, uncond = args["cond"], args["uncond"]
            return frame_cfg(cond, uncond, cfg_min, float(args["cond_scale"]), frame_dim(cond.ndim, dim))

        patched = model.clone()
        patched.set_model_sampler_cfg_function(ramp)
        return io.NodeOutput(patched)


NODES = [EmbodyContextWindows, EmbodyFrameCFGRamp]
