"""The pieces of a loaded MimicMotion model and the EMBODY_VIDEO_MODEL object that carries them between nodes.

``VideoComponents`` is the fixed interface the video modules share; ``VideoModel`` adds the version, the official
fusion defaults for that version, and a hook through which the ComfyUI node places modules on the compute device
(ComfyUI's model management), so the sampler and decoder never move modules by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from .posenet import PoseNet

# Module groups that are placed on a device together (the UNet never runs without its PoseNet).
MODULE_GROUPS: dict[str, tuple[str, ...]] = {
    "unet": ("unet", "pose_net"),
    "vae": ("vae",),
    "image_encoder": ("image_encoder",),
}


_MODULE_NAMES = ("unet", "pose_net", "vae", "image_encoder")


# Working-memory heuristics of ComfyUI's model management for the same networks (comfy/supported_models.py:
# SVD_img2vid memory_usage_factor 2.0 with the SDPA/flash formula 0.01 MiB per latent pixel per dtype byte;
# comfy/sd.py: KL-VAE decode 2178 * 64 and encode 1767 bytes per dtype byte per latent / image pixel). Passed to
# ``load_models_gpu`` so ComfyUI frees room for activations (e.g. offloads the CLIP encoder before sampling).
_UNET_MIB_PER_LATENT_PIXEL_BYTE = 0.01 * 2.0
_VAE_DECODE_PER_LATENT_PIXEL = 2178 * 64
_VAE_ENCODE_PER_PIXEL = 1767
_SVD_BASE_CHANNELS = 320  # SVD UNet block_out_channels[0], the model ComfyUI's factor was set for


def _dtype_bytes(dtype: torch.dtype) -> int:
    return torch.finfo(dtype).bits // 8 if dtype.is_floating_point else 4


def unet_memory_bytes(frames: int, latent_h: int, latent_w: int, dtype: torch.dtype, batch: int = 1,
                      base_channels: int = _SVD_BASE_CHANNELS) -> int:
    """Estimated activation memory (bytes) of one UNet call on ``batch`` x ``frames`` latents of latent_h x latent_w.

    base_channels: the UNet's first block width (``config.block_out_channels[0]``; SVD: 320). ComfyUI's factor is
    for SVD; activations scale with the channel widths, so a narrower UNet (tests' tiny one) needs proportionally
    less."""
    area = batch * frames * latent_h * latent_w
    scale = base_channels / _SVD_BASE_CHANNELS
    return int(area * _dtype_bytes(dtype) * _UNET_MIB_PER_LATENT_PIXEL_BYTE * 2**20 * scale)


@dataclass(frozen=True)
class CfgBatching:
    """The cond/uncond batching choice for a sampling run and why (logged once by the sampler)."""

    batched: bool
    reason: str


def choose_cfg_batching(free_bytes: int, frames: int, latent_h: int, latent_w: int, dtype: torch.dtype,
                        device_type: str, block_out_channels: Sequence[int] | None = None) -> CfgBatching:
    """Batch cond + uncond into one UNet call only when the batched call fits in memory that is free anyway.

    free_bytes: ComfyUI's free-memory estimate for the compute device, taken after the UNet is loaded with room
    for one call's activations (what the two-call path needs), less ComfyUI's inference reserve. The batched call
    needs twice one call's activations (``unet_memory_bytes``, ``frames`` = the longest window); when that is more
    than is free, batching would make ComfyUI offload other models or run out of memory, so two calls are run. On a
    CPU two calls are always chosen, peak memory first (issue 10: peak <= the wrapper's at every setting): the free
    estimate there is the system's free RAM, so "fits" would say nothing about the peak. The price, measured at full
    size (benchmarks/RESULTS.md): the batched call took 0.66-0.94x the CPU time of two calls at 128x128, 9 frames.
    Both give the same output.
    """
    width = int(block_out_channels[0]) if block_out_channels else _SVD_BASE_CHANNELS
    one = unet_memory_bytes(frames, latent_h, latent_w, dtype, base_channels=width)
    two = 2 * one
    mib = 2**20
    if device_type == "cpu":
        return CfgBatching(False, f"cfg: cond and uncond as two UNet calls on the CPU, to keep the peak memory at "
                                  f"one call's activations (~{one / mib:.0f} MiB; batched ~{two / mib:.0f} MiB). On "
                                  "a CPU ComfyUI's free-memory estimate is all free RAM, which does not bound the "
                                  "peak; a batched call can be faster there (measured 0.66-0.94x the time).")
    if free_bytes >= two:
        return CfgBatching(True, f"cfg: cond and uncond batched in one UNet call on {device_type} (needs "
                                 f"~{two / mib:.0f} MiB of activations, {free_bytes / mib:.0f} MiB free).")
    return CfgBatching(False, f"cfg: cond and uncond as two UNet calls on {device_type}: a batched call needs "
                              f"~{two / mib:.0f} MiB of activations but only {max(free_bytes, 0) / mib:.0f} MiB "
                              "are free, and one call needs half that.")


def vae_decode_memory_bytes(frames: int, latent_h: int, latent_w: int, dtype: torch.dtype) -> int:
    """Estimated working memory (bytes) of decoding ``frames`` latents at once."""
    return int(frames * latent_h * latent_w * _VAE_DECODE_PER_LATENT_PIXEL * _dtype_bytes(dtype))


def vae_encode_memory_bytes(height: int, width: int, dtype: torch.dtype) -> int:
    """Estimated working memory (bytes) of encoding one height x width image."""
    return int(height * width * _VAE_ENCODE_PER_PIXEL * _dtype_bytes(dtype))


@dataclass
class VideoComponents:
    """Everything MimicMotion inference needs.

    Attributes:
        unet: diffusers ``UNetSpatioTemporalConditionModel`` (8 in / 4 out channels).
        pose_net: ``models.video.posenet.PoseNet`` (output channels = unet block_out_channels[0]).
        vae: diffusers ``AutoencoderKLTemporalDecoder`` (scale factor 8, scaling_factor 0.18215).
        image_encoder: transformers ``CLIPVisionModelWithProjection`` (projection_dim = unet cross_attention_dim).
        image_mean, image_std: CLIP normalisation per RGB channel (0..1 pixel units).
        image_size: CLIP input side in pixels (224 for SVD).
        scheduler_config: an ``EulerDiscreteScheduler`` config dict (SVD's: v-prediction, Karras, continuous timesteps).
        dtype: the compute dtype: every module runs in it.
        version: "1.0" (16-frame model) or "1.1" (72-frame model).
        storage_dtypes: per module name, the dtype it is kept in while idle (absent = ``dtype``, no casting). A
            half dtype here means the module's weights came from a half file and compute is fp32: ``set_in_use``
            casts the modules about to run to ``dtype`` and the others back, which is exact (half -> fp32 -> half
            loses nothing).
    """

    unet: nn.Module
    pose_net: PoseNet
    vae: nn.Module
    image_encoder: nn.Module
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    image_size: int
    scheduler_config: dict[str, Any]
    dtype: torch.dtype
    version: str = "1.1"
    storage_dtypes: dict[str, torch.dtype] = field(default_factory=dict)

    def module(self, name: str) -> nn.Module:
        if name not in _MODULE_NAMES:
            raise KeyError(f"unknown video module {name!r}")
        return getattr(self, name)

    def set_in_use(self, groups: Sequence[str]) -> None:
        """Cast the modules of ``groups`` (keys of ``MODULE_GROUPS``) to ``dtype`` and the others to their storage.

        No-op for modules without a storage dtype (``storage_dtypes``). The idle modules are cast down first, so
        their memory is freed before the used ones grow (``nn.Module.to`` replaces one tensor at a time, so the
        cast itself adds one tensor's copy at most). On a CPU with fp16 files and fp32 compute this halves the memory
        of the modules not in use: the CPU analogue of ComfyUI keeping idle models off the GPU (issue 10).
        """
        unknown = [g for g in groups if g not in MODULE_GROUPS]
        if unknown:
            raise KeyError(f"unknown module groups {unknown}; expected some of {sorted(MODULE_GROUPS)}")
        used = {name for g in groups for name in MODULE_GROUPS[g]}
        for name in sorted(self.storage_dtypes, key=lambda n: n in used):  # idle ones first
            module = self.module(name)
            target = self.dtype if name in used else self.storage_dtypes[name]
            if any(p.is_floating_point() and p.dtype != target for p in module.parameters()):
                # nn.Module.to, not diffusers' override (which warns on every dtype cast); casts buffers too.
                nn.Module.to(module, target)

    @property
    def vae_scaling_factor(self) -> float:
        return float(getattr(self.vae.config, "scaling_factor", 0.18215))


@dataclass
class VideoModel:
    """EMBODY_VIDEO_MODEL: components plus version-specific defaults and device placement.

    Attributes:
        components: the loaded modules.
        version: "1.0" or "1.1" (its official fusion window is ``FusionSchedule().resolved(version)``).
        files: where the weights came from (for logs and error messages).
        patchers: ComfyUI ModelPatcher per group in ``MODULE_GROUPS`` (set by the loader node; empty in pure tests).
        load_fn: called by ``prepare`` with group names and the working memory (bytes) the caller will need on top of
            the weights; loads them on the compute device and returns that device (the node sets it to ComfyUI's
            ``load_models_gpu``, which frees that much room). None = move modules with ``.to`` (tests, scripts).
        device: the device ``prepare`` uses when ``load_fn`` is None.
    """

    components: VideoComponents
    version: str
    files: dict[str, str] = field(default_factory=dict)
    patchers: dict[str, Any] = field(default_factory=dict)
    load_fn: Callable[[Sequence[str], int], torch.device] | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @classmethod
    def from_components(cls, components: VideoComponents, files: dict[str, str] | None = None) -> VideoModel:
        return cls(components, components.version, dict(files or {}))

    @property
    def dtype(self) -> torch.dtype:
        return self.components.dtype

    def prepare(self, groups: Sequence[str], memory_required: int = 0) -> torch.device:
        """Put the named module groups ("unet", "vae", "image_encoder") on the compute device; returns that device.

        memory_required: bytes of activations the next computation needs besides the weights (see the
        ``*_memory_bytes`` estimates); the model manager unloads other models to make that room.
        Modules with an idle storage dtype are then cast: the named groups to the compute dtype, all others back to
        storage (``VideoComponents.set_in_use``).
        """
        unknown = [g for g in groups if g not in MODULE_GROUPS]
        if unknown:
            raise KeyError(f"unknown module groups {unknown}; expected some of {sorted(MODULE_GROUPS)}")
        if self.load_fn is not None:
            device = self.load_fn(list(groups), max(0, int(memory_required)))
        else:
            for group in groups:
                for name in MODULE_GROUPS[group]:
                    self.components.module(name).to(self.device)
            device = self.device
        # Cast after placement: the model manager moves modules between devices without changing their dtype.
        self.components.set_in_use(groups)
        return device
