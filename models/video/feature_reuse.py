"""Feature reuse across denoising steps for the SVD UNet (DeepCache, Ma et al., CVPR 2024).

DeepCache observes that a UNet's deep features change slowly between neighbouring denoising steps while the
skip branch of the outermost level carries the fast-changing detail. So on a "full" step the UNet runs as usual
and the input of its last up block (the deep features upsampled to the latent size, [B*F, C1, h, w] with C1 the
second level's width, 640 in SVD) is kept; on the following
"reuse" steps only the outermost level runs: time embedding, ``conv_in`` (with the pose residual), the first down
block (whose skip features the last up block needs), then the last up block fed with the kept deep features, and
the output convolutions. With SVD-xt's four levels that outer level is roughly a third of the UNet's compute.

Full steps run the stock ``unet(...)`` (a forward pre-hook on the last up block copies its input), so they are
bit-identical to a run without reuse. Reuse steps call the UNet as ``unet(...)`` too, with ``forward`` replaced for
that call only, so every hook on the UNet (pose residual on ``conv_in``, the region codebook's hooks) still runs.
Off (interval 1) nothing here is touched.

The kept features are one tensor per window and pass (uncond, cond, or both batched): B*F*C1*h*w values in the
UNet's dtype. At 576x1024, 72 frames and fp16 that is 810 MiB per window and pass, so they stay on the compute
device up to ``budget_bytes`` and go to the CPU beyond it.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)


def check_reusable(unet: nn.Module) -> None:
    """Raise ValueError unless ``unet`` has the parts the shallow forward calls (diffusers' SVD UNet layout)."""
    needed = ("time_proj", "time_embedding", "add_time_proj", "add_embedding", "conv_in", "down_blocks", "up_blocks",
              "conv_norm_out", "conv_act", "conv_out")
    missing = [n for n in needed if not hasattr(unet, n)]
    if missing:
        raise ValueError(f"Feature reuse needs a diffusers UNetSpatioTemporalConditionModel; {type(unet).__name__} "
                         f"has no {', '.join(missing)}. Set feature_reuse_interval to 1.")


def is_full_step(step: int, start: int, interval: int) -> bool:
    """DeepCache's uniform schedule: the first step that runs and every ``interval``-th after it are full."""
    return interval <= 1 or (step - start) % interval == 0


class FeatureCache:
    """The deep features of the last full step, one entry per (window, pass) key.

    Args:
        interval: full UNet pass every ``interval`` steps (1 = never reuse: nothing is stored).
        budget_bytes: keep entries on the compute device up to this total; further entries are kept on the CPU.
    """

    def __init__(self, interval: int, budget_bytes: int = 2 << 30) -> None:
        if interval < 1:
            raise ValueError(f"feature_reuse_interval must be >= 1 (1 = off), got {interval}.")
        self.interval, self.budget_bytes = int(interval), int(budget_bytes)
        self.entries: dict[Hashable, torch.Tensor] = {}
        self.device_bytes = 0
        self.full_calls = 0
        self.reuse_calls = 0

    def clear(self) -> None:
        self.entries.clear()
        self.device_bytes = 0

    def _store(self, key: Hashable, deep: torch.Tensor) -> None:
        old = self.entries.pop(key, None)
        if old is not None and old.device == deep.device:
            self.device_bytes -= old.numel() * old.element_size()
        size = deep.numel() * deep.element_size()
        if deep.device.type != "cpu" and self.device_bytes + size > self.budget_bytes:
            deep = deep.to("cpu")
        elif deep.device.type != "cpu":
            self.device_bytes += size
        self.entries[key] = deep

    @contextmanager
    def capture(self, unet: Any, key: Hashable) -> Iterator[None]:
        """Run a full UNet call inside the block; the last up block's input is kept under ``key``."""
        last_up = unet.up_blocks[-1]

        def _keep(_m: nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
            hidden = kwargs.get("hidden_states", args[0] if args else None)
            if not isinstance(hidden, torch.Tensor):
                raise ValueError("Feature reuse could not read the last up block's input; set "
                                 "feature_reuse_interval to 1.")
            self._store(key, hidden.detach())  # a fresh activation the block only reads (it concatenates it)

        handle = last_up.register_forward_pre_hook(_keep, with_kwargs=True)
        try:
            yield
        finally:
            handle.remove()
        self.full_calls += 1

    @contextmanager
    def reuse(self, unet: Any, key: Hashable) -> Iterator[None]:
        """Inside the block, ``unet(...)`` runs only its outer level on the features kept under ``key``."""
        deep = self.entries[key]

        def _forward(sample: torch.Tensor, timestep: torch.Tensor, encoder_hidden_states: torch.Tensor,
                     added_time_ids: torch.Tensor, return_dict: bool = True) -> tuple[torch.Tensor]:
            return (shallow_forward(unet, deep, sample, timestep, encoder_hidden_states, added_time_ids),)

        unet.forward = _forward  # an instance attribute: nn.Module.__call__ runs it with every hook in place
        try:
            yield
        finally:
            del unet.forward
        self.reuse_calls += 1

    def can_reuse(self, key: Hashable, batch_frames: int) -> bool:
        entry = self.entries.get(key)
        return entry is not None and entry.shape[0] == batch_frames


def shallow_forward(unet: Any, deep: torch.Tensor, sample: torch.Tensor, timestep: torch.Tensor,
                    encoder_hidden_states: torch.Tensor, added_time_ids: torch.Tensor) -> torch.Tensor:
    """The SVD UNet's outer level on kept deep features (same maths as the stock forward for that level).

    Args:
        unet: diffusers UNetSpatioTemporalConditionModel.
        deep: the last up block's input kept from a full call, [B*F, C1, h, w].
        sample: [B, F, 8, h, w] scaled noisy latents + image latents; timestep: scalar or [B] continuous timestep;
        encoder_hidden_states: [B, 1, 1024] CLIP image embeddings; added_time_ids: [B, 3] (fps, motion, noise aug).
    Returns:
        v-prediction [B, F, 4, h, w].
    """
    batch, frames = sample.shape[:2]
    timesteps = timestep if torch.is_tensor(timestep) else torch.tensor([timestep], device=sample.device)
    if timesteps.ndim == 0:
        timesteps = timesteps[None].to(sample.device)
    t_emb = unet.time_proj(timesteps.expand(batch)).to(dtype=sample.dtype)
    emb = unet.time_embedding(t_emb)
    time_embeds = unet.add_time_proj(added_time_ids.flatten()).reshape(batch, -1).to(emb.dtype)
    emb = emb + unet.add_embedding(time_embeds)
    x = sample.flatten(0, 1)
    emb = emb.repeat_interleave(frames, dim=0)
    context = encoder_hidden_states.repeat_interleave(frames, dim=0)
    x = unet.conv_in(x)
    indicator = torch.zeros(batch, frames, dtype=x.dtype, device=x.device)
    first = unet.down_blocks[0]
    kwargs: dict[str, Any] = {"hidden_states": x, "temb": emb, "image_only_indicator": indicator}
    if getattr(first, "has_cross_attention", False):
        kwargs["encoder_hidden_states"] = context
    _, res = first(**kwargs)
    last = unet.up_blocks[-1]
    # The last up block takes the first len(resnets) skip features: conv_in's output and the first down block's
    # resnet outputs (its downsampled output feeds the next level, which a reuse step skips).
    skips = ((x,) + tuple(res))[: len(last.resnets)]
    if deep.shape[0] != x.shape[0] or deep.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"Kept UNet features {tuple(deep.shape)} do not fit this call {tuple(x.shape)}.")
    kwargs = {"hidden_states": deep.to(device=x.device, dtype=x.dtype), "temb": emb,
              "res_hidden_states_tuple": skips, "image_only_indicator": indicator}
    if getattr(last, "has_cross_attention", False):
        kwargs["encoder_hidden_states"] = context
    x = last(**kwargs)
    x = unet.conv_out(unet.conv_act(unet.conv_norm_out(x)))
    return x.reshape(batch, frames, *x.shape[1:])
