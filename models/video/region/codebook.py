"""``RegionCodebook``: every trainable piece of CyberHost's regional machinery in one module, plus save/load.

State-dict layout (stable; the trainer and the loader rely on it):
    regions.<region>.<stage with '.' -> '_'>.*   RegionAttention (e.g. regions.hands.up_2.spatial_bank)
    identity.<region>.*                          IdentityProjection
    clarity.*                                    ClarityEmbedding (when config.clarity)
    movement.*                                   MovementMapEncoder (when config.movement)

Files: ``name.safetensors`` holding the tensors with the config JSON in its metadata (key ``embody_region_codebook``)
and a readable copy of the config beside it (``name.json``). Loading takes the config from the metadata, or from the
sidecar JSON when the metadata has none. A ``name.lora.safetensors`` beside it (the trainer's optional peft LoRA on
the UNet's attention) is loaded too and kept in ``codebook.lora``; ``attach_region_codebook`` applies it.
"""

from __future__ import annotations

import json
import os

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from .attention import RegionAttention, orthogonality_loss
from .conditions import ClarityEmbedding, IdentityProjection, MovementMapEncoder, zero_layer
from .config import CROPS_PER_REGION, RegionCodebookConfig, unet_widths
from .lora import RegionLora, read_region_lora

METADATA_KEY = "embody_region_codebook"


def stage_key(stage: str) -> str:
    """Module-dict key of a stage name ('up.2' -> 'up_2')."""
    return stage.replace(".", "_")


class RegionCodebook(nn.Module):
    """Region Attention Modules for each (region, stage), identity projections, clarity and movement encoders.

    A freshly built codebook is neutral: every output projection is zero, so attaching it changes nothing.
    ``lora``: the UNet LoRA trained with it (None = none), applied through peft while the codebook is attached.
    """

    lora: RegionLora | None = None

    def __init__(self, config: RegionCodebookConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.regions = nn.ModuleDict()
        for region in config.regions:
            heat = config.hand_keypoints if region == "hands" else 0
            self.regions[region] = nn.ModuleDict({
                stage_key(s): RegionAttention(c, config.dim, config.heads, config.spatial_tokens,
                                              config.temporal_tokens, config.mask_hidden, heat)
                for s, c in zip(config.stages, config.stage_channels, strict=True)
            })
        self.identity = nn.ModuleDict({
            r: IdentityProjection(config.identity_dim, config.dim, config.identity_tokens, CROPS_PER_REGION[r])
            for r in config.regions
        })
        self.clarity = ClarityEmbedding(config.time_embed_dim, config.clarity_frequencies) if config.clarity else None
        self.movement = MovementMapEncoder(config.first_channels) if config.movement else None

    def module_for(self, region: str, stage: str) -> RegionAttention:
        per_stage = self.regions[region]
        assert isinstance(per_stage, nn.ModuleDict)
        mod = per_stage[stage_key(stage)]
        assert isinstance(mod, RegionAttention)
        return mod

    def attention_modules(self) -> list[tuple[str, str, RegionAttention]]:
        """(region, stage, module) for every Region Attention Module."""
        return [(r, s, self.module_for(r, s)) for r in self.config.regions for s in self.config.stages]

    def orthogonality_loss(self) -> torch.Tensor:
        """Mean ``orthogonality_loss`` over all spatial and temporal banks (0 when all are orthogonal)."""
        losses = [orthogonality_loss(b) for _, _, m in self.attention_modules() for b in (m.spatial_bank,
                                                                                            m.temporal_bank)]
        return torch.stack(losses).mean()

    def zero_outputs(self) -> None:
        """Make the codebook neutral again (zero every output projection and condition's last layer)."""
        for _, _, m in self.attention_modules():
            m.reset_output()
        if self.clarity is not None:
            zero_layer(self.clarity.fc2)
        if self.movement is not None:
            zero_layer(self.movement.final_proj)

    def check_unet(self, unet: nn.Module, name: str = "the region codebook") -> None:
        """Raise ValueError naming both sides when this codebook does not fit ``unet``'s widths."""
        cfg = self.config
        try:
            have = cfg.expected_stage_channels(unet)
        except ValueError as e:
            raise ValueError(f"{name} attaches at UNet stages {list(cfg.stages)}, which this UNet lacks ({e}). "
                             "It was trained for another UNet; train one for this video model.") from e
        w = unet_widths(unet)
        mine = (cfg.stage_channels, cfg.first_channels, cfg.time_embed_dim)
        theirs = (have, w["first_channels"], w["time_embed_dim"])
        if mine != theirs:
            raise ValueError(
                f"Channel mismatch: {name} was built for a UNet with block_out_channels "
                f"{list(cfg.unet_block_out_channels)} ({dict(zip(cfg.stages, cfg.stage_channels, strict=True))} at "
                f"its stages), but the loaded video model's UNet has block_out_channels "
                f"{list(w['block_out_channels'])} ({dict(zip(cfg.stages, have, strict=True))}). Use a codebook "
                "trained for this video model (train one with Embody Train Region Codebook)."
            )


def save_region_codebook(codebook: RegionCodebook, path: str | os.PathLike) -> str:
    """Write ``path`` (.safetensors, config in metadata) and the sidecar ``.json``; returns the safetensors path."""
    path = os.fspath(path)
    if not path.endswith(".safetensors"):
        path += ".safetensors"
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in codebook.state_dict().items()}
    text = codebook.config.to_json()
    save_file(tensors, path, metadata={METADATA_KEY: text})
    with open(path[: -len(".safetensors")] + ".json", "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return path


def read_region_codebook_config(path: str | os.PathLike) -> RegionCodebookConfig:
    """The config of a saved codebook (metadata first, then the sidecar JSON)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Region codebook file not found: {path}")
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for non-safetensors files
        raise ValueError(f"{path} is not a safetensors file ({e}); region codebooks are .safetensors files "
                         "written by Embody Train Region Codebook.") from e
    if METADATA_KEY in meta:
        return RegionCodebookConfig.from_json(meta[METADATA_KEY], source=path)
    sidecar = os.path.splitext(path)[0] + ".json"
    if os.path.isfile(sidecar):
        with open(sidecar, encoding="utf-8") as f:
            return RegionCodebookConfig.from_json(f.read(), source=sidecar)
    raise ValueError(f"{path} has no region codebook config (neither in its metadata nor in {sidecar}); it is not "
                     "an Embody region codebook.")


def load_region_codebook(path: str | os.PathLike, device: torch.device | str = "cpu",
                         dtype: torch.dtype = torch.float32) -> RegionCodebook:
    """Rebuild a codebook from its file (strict: every tensor must be present with its config's shape)."""
    from safetensors.torch import load_file

    path = os.fspath(path)
    config = read_region_codebook_config(path)
    codebook = RegionCodebook(config)
    sd = load_file(path)
    expected = codebook.state_dict()
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    wrong = sorted(k for k in set(sd) & set(expected) if sd[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        detail = {"missing": missing[:5], "unexpected": unexpected[:5], "wrong shape": wrong[:5]}
        raise ValueError(f"{path} does not match its own config ({json.dumps(detail)}); the file is damaged or was "
                         "edited. Re-export it from the trainer.")
    codebook.load_state_dict(sd, strict=True)
    codebook.lora = read_region_lora(path)
    return codebook.to(device=device, dtype=dtype).eval()
