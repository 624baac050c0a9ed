"""Attach a ``RegionCodebook`` to a stock diffusers ``UNetSpatioTemporalConditionModel`` with forward hooks.

No copy of the UNet and no change to its code: inside ``with attach_region_codebook(unet, codebook) as handle:``

* a pre-hook on ``unet.forward`` reads the call's batch B and frame count F from ``sample`` [B, F, C, h, w] and
  opens a new ``RegionCall`` record (identity tokens are projected here, once per call, so gradients flow);
* a hook on ``unet.time_embedding`` adds ``codebook.clarity(handle.clarity)`` to the time embedding [B, D];
* a hook on ``unet.conv_in`` adds ``handle.movement`` (encoded movement map [B*F, C0, h, w]) like PoseNet's residual;
* a hook on each stage's last resnet runs the region modules (face, then hands) on its output [B*F, C, h, w] and
  records their masks [B*F, 1, h, w] and hand heatmaps [B*F, K, h, w] in ``handle.last``;
* when the codebook came with a trained UNet LoRA (``codebook.lora``, ``X.lora.safetensors``), peft injects it into
  the UNet's attention projections for the block and takes it out again at the end (region/lora.py).

Everything is removed when the block exits (also on exceptions). Unset conditions add no hook at all, and the
zero-initialised projections of an untrained codebook add exact zeros, so the UNet's output is unchanged bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .codebook import RegionCodebook
from .config import stage_module
from .lora import lora_adapter

Descriptors = dict[str, tuple[torch.Tensor, torch.Tensor]]  # region -> (embeds [B, crops, D], present [B, crops])


@dataclass
class RegionCall:
    """What the codebook predicted during one UNet call.

    Attributes:
        batch, frames: B and F of the call (features are [B*F, ...], batch-major).
        masks: region -> stage -> predicted mask [B*F, 1, h, w] (0..1, at that stage's resolution).
        heatmaps: stage -> hand keypoint heatmaps [B*F, hand_keypoints, h, w] (empty without a hands region).
        added: region -> stage -> what the module added to the UNet features, out - in [B*F, C, h, w] (only with
            ``RegionHandle.record_added``: the confinement measurement at the module's output).
    """

    batch: int
    frames: int
    masks: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    heatmaps: dict[str, torch.Tensor] = field(default_factory=dict)
    added: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


class RegionHandle:
    """Per-call inputs of an attached codebook and the predictions of the latest call.

    Set before a UNet call (they persist until changed):
        identity: descriptors {region: (embeds [B or 1, crops, identity_dim], present bool [B or 1, crops])}, or
            None (every crop absent: the learned absent tokens).
        clarity: hand clarity score(s) for the time embedding, a float or a tensor [B]; None = no clarity residual.
        movement: conv_in residual [B*F, first_channels, h, w] (``encode_movement``), or None.
        strength: multiplier of the region modules' added features (0 = modules skipped).
    Read after a call: ``last`` (a ``RegionCall``; None before the first call or when ``record`` is False);
    ``record_added`` True also keeps each module's added features in ``last.added`` (measurements; costs memory).
    """

    def __init__(self, codebook: RegionCodebook, record: bool = True) -> None:
        self.codebook = codebook
        self.record = record
        self.identity: Descriptors | None = None
        self.clarity: float | torch.Tensor | None = None
        self.movement: torch.Tensor | None = None
        self.strength = 1.0
        self.record_added = False
        self.last: RegionCall | None = None
        self._batch = self._frames = 0
        self._tokens: dict[str, torch.Tensor] = {}

    @property
    def masks(self) -> dict[str, dict[str, torch.Tensor]]:
        """The latest call's masks (region -> stage -> [B*F, 1, h, w]); empty before the first call."""
        return self.last.masks if self.last is not None else {}

    @property
    def heatmaps(self) -> dict[str, torch.Tensor]:
        """The latest call's hand heatmaps (stage -> [B*F, K, h, w])."""
        return self.last.heatmaps if self.last is not None else {}

    def encode_movement(self, maps: torch.Tensor | None) -> torch.Tensor | None:
        """Movement maps [N, 1, H, W] or [N, H, W] (0..1) -> conv_in residual [N, first_channels, H/8, W/8]."""
        if maps is None:
            return None
        if self.codebook.movement is None:
            raise ValueError("This region codebook was built without a movement-map encoder (config.movement False); "
                             "leave movement_map unconnected.")
        return self.codebook.movement(maps)

    # hooks -------------------------------------------------------------------------------------------------
    def _begin(self, _m: nn.Module, args: tuple, kwargs: dict[str, Any]) -> None:
        sample = kwargs.get("sample", args[0] if args else None)
        if not isinstance(sample, torch.Tensor) or sample.ndim != 5:
            raise ValueError("attach_region_codebook expects the UNet to be called with sample [B, F, C, h, w].")
        self._batch, self._frames = int(sample.shape[0]), int(sample.shape[1])
        self.last = RegionCall(self._batch, self._frames) if self.record else None
        ident = self.identity or {}
        self._tokens = {}
        for region in self.codebook.config.regions:
            proj = self.codebook.identity[region]
            embeds, present = ident.get(region, (None, None))
            self._tokens[region] = proj(embeds, present)

    def _time(self, _m: nn.Module, _inputs: tuple, emb: torch.Tensor) -> torch.Tensor:
        if self.clarity is None or self.codebook.clarity is None:
            return emb
        score = torch.as_tensor(self.clarity, dtype=torch.float32).flatten()
        if score.numel() == 1:
            score = score.expand(emb.shape[0])
        if score.numel() != emb.shape[0]:
            raise ValueError(f"hand clarity has {score.numel()} values for a UNet batch of {emb.shape[0]}.")
        return emb + self.codebook.clarity(score).to(device=emb.device, dtype=emb.dtype)

    def _conv_in(self, _m: nn.Module, _inputs: tuple, out: torch.Tensor) -> torch.Tensor:
        if self.movement is None:
            return out
        if self.movement.shape != out.shape:
            raise ValueError(
                f"Movement-map features {tuple(self.movement.shape)} do not match the UNet's first features "
                f"{tuple(out.shape)}; the movement map needs one frame per video frame at the video size.")
        return out + self.movement.to(device=out.device, dtype=out.dtype)

    def _stage_hook(self, stage: str) -> Any:
        def hook(_m: nn.Module, _inputs: tuple, out: torch.Tensor) -> torch.Tensor:
            if self.strength == 0.0:
                return out
            frames = self._frames
            x = out
            for region in self.codebook.config.regions:
                mod = self.codebook.module_for(region, stage)
                dtype = mod.proj_out.weight.dtype
                y, mask, heat = mod(x.to(dtype), frames, self._tokens.get(region), self.strength)
                if self.last is not None and self.record_added:
                    self.last.added.setdefault(region, {})[stage] = (y.detach().float() - x.detach().float())
                x = y.to(out.dtype)
                if self.last is not None:
                    self.last.masks.setdefault(region, {})[stage] = mask
                    if heat is not None:
                        self.last.heatmaps[stage] = heat
            return x

        return hook


@contextmanager
def attach_region_codebook(unet: nn.Module, codebook: RegionCodebook, record: bool = True,
                           name: str = "the region codebook") -> Iterator[RegionHandle]:
    """Install ``codebook`` on ``unet`` for the duration of the block; yields the ``RegionHandle``.

    Args:
        unet: diffusers UNetSpatioTemporalConditionModel (the codebook must already be on its device).
        codebook: a RegionCodebook whose config matches the UNet (checked; ValueError names both otherwise).
        record: keep masks and heatmaps of the latest call in ``handle.last`` (training); False saves memory.
        name: how error messages name the codebook (e.g. its file name).
    """
    codebook.check_unet(unet, name)
    handle = RegionHandle(codebook, record)
    hooks = [unet.register_forward_pre_hook(handle._begin, with_kwargs=True)]
    stack = ExitStack()
    try:
        if codebook.lora is not None:
            # The LoRA is applied at its trained scale (strength scales the region modules only).
            lora = codebook.lora
            stack.enter_context(lora_adapter(unet, lora.rank, lora.targets, lora.state))
        time_embedding, conv_in = unet.get_submodule("time_embedding"), unet.get_submodule("conv_in")
        if codebook.clarity is not None:
            hooks.append(time_embedding.register_forward_hook(handle._time))
        if codebook.movement is not None:
            hooks.append(conv_in.register_forward_hook(handle._conv_in))
        for stage in codebook.config.stages:
            hooks.append(stage_module(unet, stage).register_forward_hook(handle._stage_hook(stage)))
        yield handle
    finally:
        for h in hooks:
            h.remove()
        stack.close()
