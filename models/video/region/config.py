"""Configuration of a region codebook (CyberHost's Region Attention Module + its two conditions), stored as JSON.

The config fixes every shape in the weights, so a saved codebook rebuilds from it alone. It also records the widths
of the UNet it was built for (``stage_channels``, ``first_channels``, ``time_embed_dim``), so attaching it to another
UNet fails with an error that names both instead of a shape error deep inside torch.

Stages name UNet blocks of diffusers' ``UNetSpatioTemporalConditionModel``: ``"down.i"``, ``"mid"``, ``"up.i"``. The
region modules run on the output of the block's last resnet (``<block>.resnets[-1]``), i.e. on features of shape
[batch*frames, channels, h, w] at that block's resolution, before the block's last spatio-temporal transformer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from torch import nn

FORMAT = "embody.region_codebook"
FORMAT_VERSION = 1
REGIONS = ("face", "hands")
HAND_KEYPOINTS = 42  # 21 per hand, COCO-WholeBody order (left 91..111, right 112..132)
# Identity crops per region: one face, two hands (subject's left, subject's right).
CROPS_PER_REGION = {"face": 1, "hands": 2}


def _stage_channels_from_unet_config(block_out_channels: tuple[int, ...], stage: str) -> int:
    kind, _, idx = stage.partition(".")
    if kind == "mid" and not idx:
        return block_out_channels[-1]
    if kind in ("down", "up") and idx.isdigit() and int(idx) < len(block_out_channels):
        chans = block_out_channels if kind == "down" else tuple(reversed(block_out_channels))
        return chans[int(idx)]
    raise ValueError(
        f"Unknown UNet stage {stage!r}; use 'down.i', 'mid' or 'up.i' with i in 0..{len(block_out_channels) - 1}."
    )


def unet_widths(unet: nn.Module) -> dict[str, Any]:
    """The widths a codebook depends on, read from a diffusers UNet's config.

    Returns {"block_out_channels": tuple, "first_channels": conv_in output channels, "time_embed_dim": int}.
    """
    cfg = getattr(unet, "config", None)
    boc = getattr(cfg, "block_out_channels", None)
    if boc is None:
        raise ValueError(f"A region codebook attaches to a diffusers UNetSpatioTemporalConditionModel; got "
                         f"{type(unet).__name__} without config.block_out_channels.")
    boc = tuple(int(c) for c in boc)
    return {"block_out_channels": boc, "first_channels": boc[0], "time_embed_dim": boc[0] * 4}


def stage_module(unet: nn.Module, stage: str) -> nn.Module:
    """The module whose output the region modules of ``stage`` transform (the block's last resnet)."""
    kind, _, idx = stage.partition(".")
    try:
        block: Any = unet.mid_block if kind == "mid" else getattr(unet, f"{kind}_blocks")[int(idx)]
        mod = block.resnets[-1]
    except (AttributeError, IndexError, ValueError, TypeError) as e:
        raise ValueError(f"The UNet has no stage {stage!r} (expected 'down.i', 'mid' or 'up.i').") from e
    if not isinstance(mod, nn.Module):
        raise ValueError(f"The UNet's stage {stage!r} has no resnet module.")
    return mod


@dataclass
class RegionCodebookConfig:
    """Every hyper-parameter of a region codebook.

    Attributes:
        regions: region names, a subset of ("face", "hands"); one Region Attention Module per region and stage.
        stages: UNet stages the modules attach to (see module docstring).
        stage_channels: feature channels at each stage (same order as ``stages``), from the UNet it was built for.
        dim: inner width of the attention (queries, bank entries, identity tokens).
        heads: attention heads (dim % heads == 0).
        spatial_tokens: n, entries of the spatial latent bank C_spa [n, dim] (n <= dim: kept orthonormal).
        temporal_tokens: m, entries of the temporal latent bank C_temp [m, dim] (m <= dim).
        identity_dim: width of one identity descriptor before projection (the image encoder's embedding width:
            the SVD CLIP image encoder's projection_dim, 1024 for SVD).
        identity_tokens: tokens each identity crop is projected to (added to the spatial bank as keys/values).
        mask_hidden: channels of the mask predictor's hidden conv.
        hand_keypoints: heatmap channels of the hand keypoint head (0 = no head).
        first_channels: the UNet's conv_in output channels (the movement-map encoder's output width).
        time_embed_dim: the UNet's time-embedding width (the clarity embedding's output width).
        clarity: build the hand-clarity embedding (added to the time embedding).
        clarity_frequencies: Fourier features of log1p(clarity) fed to the clarity MLP.
        movement: build the body-movement-map encoder (residual on conv_in, like PoseNet).
        unet_block_out_channels: block_out_channels of the UNet it was built for (error messages, checks).
    """

    regions: tuple[str, ...] = REGIONS
    stages: tuple[str, ...] = ("up.1", "up.2", "up.3")
    stage_channels: tuple[int, ...] = (1280, 640, 320)
    dim: int = 320
    heads: int = 8
    spatial_tokens: int = 32
    temporal_tokens: int = 16
    identity_dim: int = 1024
    identity_tokens: int = 4
    mask_hidden: int = 64
    hand_keypoints: int = HAND_KEYPOINTS
    first_channels: int = 320
    time_embed_dim: int = 1280
    clarity: bool = True
    clarity_frequencies: int = 16
    movement: bool = True
    unet_block_out_channels: tuple[int, ...] = field(default=(320, 640, 1280, 1280))

    def __post_init__(self) -> None:
        self.regions = tuple(self.regions)
        self.stages = tuple(self.stages)
        self.stage_channels = tuple(int(c) for c in self.stage_channels)
        self.unet_block_out_channels = tuple(int(c) for c in self.unet_block_out_channels)
        self.validate()

    def validate(self) -> None:
        bad = [r for r in self.regions if r not in REGIONS]
        if bad or not self.regions or len(set(self.regions)) != len(self.regions):
            raise ValueError(f"regions must be distinct names from {REGIONS}; got {self.regions}.")
        if not self.stages or len(self.stages) != len(self.stage_channels):
            raise ValueError(f"stages {self.stages} and stage_channels {self.stage_channels} must be non-empty and "
                             "of the same length.")
        if len(set(self.stages)) != len(self.stages):
            raise ValueError(f"stages must be distinct; got {self.stages}.")
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be a multiple of heads ({self.heads}).")
        if not 1 <= self.spatial_tokens <= self.dim or not 1 <= self.temporal_tokens <= self.dim:
            raise ValueError(f"spatial_tokens ({self.spatial_tokens}) and temporal_tokens ({self.temporal_tokens}) "
                             f"must be between 1 and dim ({self.dim}) so the banks can be orthonormal.")
        for name in ("identity_dim", "identity_tokens", "mask_hidden", "first_channels", "time_embed_dim",
                     "clarity_frequencies"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}.")

    @classmethod
    def for_unet(cls, unet: nn.Module, stages: tuple[str, ...] | None = None, identity_dim: int | None = None,
                 **overrides: Any) -> RegionCodebookConfig:
        """A config whose widths match ``unet`` (default stages: every up block but the lowest-resolution one).

        identity_dim: the image encoder's embedding width (e.g. ``image_encoder.config.projection_dim``).
        overrides: any other field (dim, heads, spatial_tokens, ...).
        """
        w = unet_widths(unet)
        boc = w["block_out_channels"]
        if stages is None:
            stages = tuple(f"up.{i}" for i in range(1, len(boc))) or ("up.0",)
        chans = tuple(_stage_channels_from_unet_config(boc, s) for s in stages)
        kw: dict[str, Any] = dict(stages=tuple(stages), stage_channels=chans, first_channels=w["first_channels"],
                                  time_embed_dim=w["time_embed_dim"], unet_block_out_channels=boc)
        if identity_dim is not None:
            kw["identity_dim"] = int(identity_dim)
        if "dim" not in overrides:
            kw["dim"] = boc[0]
        kw.update(overrides)
        return cls(**kw)

    def expected_stage_channels(self, unet: nn.Module) -> tuple[int, ...]:
        """Channels ``unet`` has at this config's stages (raises ValueError for a stage the UNet lacks)."""
        boc = unet_widths(unet)["block_out_channels"]
        return tuple(_stage_channels_from_unet_config(boc, s) for s in self.stages)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {"format": FORMAT, "format_version": FORMAT_VERSION,
                **{k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> RegionCodebookConfig:
        d = dict(d)
        fmt = d.pop("format", FORMAT)
        version = int(d.pop("format_version", FORMAT_VERSION))
        if fmt != FORMAT:
            raise ValueError(f"{source} is not an Embody region codebook config (format {fmt!r}, expected {FORMAT!r}).")
        if version > FORMAT_VERSION:
            raise ValueError(f"{source} uses region codebook format {version}; this Embody reads up to "
                             f"{FORMAT_VERSION}. Update Embody.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{source} has unknown region codebook settings {unknown}; known: {sorted(known)}.")
        kwargs: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kwargs)

    @classmethod
    def from_json(cls, text: str, source: str = "config") -> RegionCodebookConfig:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{source} is not valid JSON: {e}") from e
        if not isinstance(d, dict):
            raise ValueError(f"{source} must hold a JSON object, got {type(d).__name__}.")
        return cls.from_dict(d, source)
