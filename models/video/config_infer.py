"""Recover a ``UNetSpatioTemporalConditionModel`` config from a state dict's tensor shapes.

The official MimicMotion .pth carries no config, so the architecture is read off the weights: block widths from the
resnet convs, block kinds from which blocks have attentions, cross-attention width from ``attn2.to_k``, time-embedding
inputs from ``add_embedding``. Values that leave no trace in the weights (``num_frames``, ``sample_size``, attention
head counts) come from the official SVD config; head counts keep SVD's head width of 64 where it divides the widths.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

# stabilityai/stable-video-diffusion-img2vid-xt-1-1 unet/config.json (the MimicMotion UNet is built from it).
SVD_UNET_CONFIG: dict[str, Any] = {
    "sample_size": 96,
    "in_channels": 8,
    "out_channels": 4,
    "down_block_types": (
        "CrossAttnDownBlockSpatioTemporal",
        "CrossAttnDownBlockSpatioTemporal",
        "CrossAttnDownBlockSpatioTemporal",
        "DownBlockSpatioTemporal",
    ),
    "up_block_types": (
        "UpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
    ),
    "block_out_channels": (320, 640, 1280, 1280),
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 768,
    "layers_per_block": 2,
    "cross_attention_dim": 1024,
    "transformer_layers_per_block": 1,
    "num_attention_heads": (5, 10, 20, 20),
    "num_frames": 25,
}

ShapeLike = torch.Tensor | torch.Size | tuple[int, ...]


def _shape(v: ShapeLike) -> tuple[int, ...]:
    return tuple(v.shape) if isinstance(v, torch.Tensor) else tuple(v)


def _indices(keys: list[str], pattern: str) -> list[int]:
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in keys if (m := rx.match(k))})


def _heads(channels: tuple[int, ...]) -> tuple[int, ...]:
    # Head counts do not change any weight shape; SVD uses 64-wide heads, tiny test models 16-wide ones.
    if channels == SVD_UNET_CONFIG["block_out_channels"]:
        return SVD_UNET_CONFIG["num_attention_heads"]
    for width in (64, 16, 8, 1):
        if all(c % width == 0 for c in channels):
            return tuple(c // width for c in channels)
    return tuple(1 for _ in channels)


def infer_unet_config(state: Mapping[str, ShapeLike], name: str = "the UNet weights") -> dict[str, Any]:
    """Infer the UNet config from weight names and shapes (tensors, meta tensors or plain shapes; no ``unet.`` prefix).

    Returns:
        kwargs for ``UNetSpatioTemporalConditionModel(**config)``.
    Raises:
        ValueError naming ``name`` when the keys are not a spatio-temporal UNet's.
    """
    shapes = {k: _shape(v) for k, v in state.items()}
    keys = list(shapes)
    required = ("conv_in.weight", "conv_out.weight", "add_embedding.linear_1.weight")
    missing = [k for k in required if k not in shapes]
    if missing or not any("spatial_res_block" in k for k in keys):
        raise ValueError(
            f"{name} is not a spatio-temporal (SVD / MimicMotion) UNet: missing {missing or 'spatial_res_block keys'}."
        )
    downs = _indices(keys, r"down_blocks\.(\d+)\.")
    ups = _indices(keys, r"up_blocks\.(\d+)\.")
    if not downs or downs != list(range(len(downs))) or len(ups) != len(downs):
        raise ValueError(f"{name}: down/up blocks are incomplete (down {downs}, up {ups}); the file is damaged.")

    channels = []
    for i in downs:
        conv = shapes.get(f"down_blocks.{i}.resnets.0.spatial_res_block.conv1.weight")
        if conv is None:
            raise ValueError(f"{name}: down_blocks.{i} has no resnets; the file is damaged.")
        channels.append(conv[0])
    block_out = tuple(channels)
    down_types = tuple(
        "CrossAttnDownBlockSpatioTemporal" if f"down_blocks.{i}.attentions.0.proj_in.weight" in shapes
        else "DownBlockSpatioTemporal"
        for i in downs
    )
    up_types = tuple(
        "CrossAttnUpBlockSpatioTemporal" if f"up_blocks.{i}.attentions.0.proj_in.weight" in shapes
        else "UpBlockSpatioTemporal"
        for i in ups
    )
    layers = len(_indices(keys, r"down_blocks\.0\.resnets\.(\d+)\."))
    to_k = [v for k, v in shapes.items() if k.endswith("transformer_blocks.0.attn2.to_k.weight")]
    cross_dim = to_k[0][1] if to_k else SVD_UNET_CONFIG["cross_attention_dim"]
    # transformer depth per block, read on the first attention of each cross-attention down block (mid uses the last)
    depths = []
    for i in downs:
        n = len(_indices(keys, rf"down_blocks\.{i}\.attentions\.0\.transformer_blocks\.(\d+)\."))
        depths.append(max(n, 1))
    add_in = shapes["add_embedding.linear_1.weight"][1]
    if add_in % 3:
        raise ValueError(f"{name}: add_embedding input {add_in} is not 3 x the time-id embedding width (SVD uses 768).")
    config = dict(SVD_UNET_CONFIG)
    config.update(
        in_channels=shapes["conv_in.weight"][1],
        out_channels=shapes["conv_out.weight"][0],
        down_block_types=down_types,
        up_block_types=up_types,
        block_out_channels=block_out,
        addition_time_embed_dim=add_in // 3,
        projection_class_embeddings_input_dim=add_in,
        layers_per_block=layers,
        cross_attention_dim=cross_dim,
        transformer_layers_per_block=depths[0] if len(set(depths)) == 1 else tuple(depths),
        num_attention_heads=_heads(block_out),
    )
    return config
