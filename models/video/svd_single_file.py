"""SVD img2vid single-file checkpoints (SGM layout) -> diffusers temporal VAE + transformers CLIP vision encoder.

Only the VAE (``first_stage_model.*``) and the OpenCLIP ViT-H image encoder
(``conditioner.embedders.0.open_clip.model.visual.*``) are read; the SVD UNet in the file is skipped (MimicMotion
brings its own), so a 4.8 GB file costs about 0.8 GB of reads. The VAE encoder is the plain LDM encoder and goes
through diffusers' own ``convert_ldm_vae_checkpoint``; diffusers has no converter for SGM's temporal ``VideoDecoder``
or for OpenCLIP *vision* towers, so those two key maps are written here (checked numerically against ComfyUI's SGM
implementation of the decoder; see tests/test_video_load_single_file.py for the layout round trip).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..io.checkpoint import describe_family, load_state_dict, read_keys, sniff_family, strip_prefix
from .loader import CLIP_MEAN, CLIP_STD, SVD_SCHEDULER_CONFIG, build_clip_vision, clip_image_size, load_strict

if TYPE_CHECKING:
    from transformers import CLIPVisionConfig

logger = logging.getLogger(__name__)

VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "conditioner.embedders.0.open_clip.model.visual."

# Temporal ResBlock sub-layers: SGM time_stack (Sequential indices) -> diffusers temporal_res_block names.
_TIME_STACK = {"in_layers.0": "norm1", "in_layers.2": "conv1", "out_layers.0": "norm2", "out_layers.3": "conv2"}
_ATTN = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}


def _resblock(rest: str) -> str:
    """SGM VideoResBlock parameter path (after block prefix) -> diffusers SpatioTemporalResBlock path."""
    if rest == "mix_factor":
        return "time_mixer.mix_factor"
    if rest.startswith("time_stack."):
        layer, param = rest[len("time_stack."):].rsplit(".", 1)
        return f"temporal_res_block.{_TIME_STACK[layer]}.{param}"
    return "spatial_res_block." + rest.replace("nin_shortcut", "conv_shortcut")


def convert_video_decoder(sd: Mapping[str, torch.Tensor], num_up: int) -> dict[str, torch.Tensor]:
    """SGM ``decoder.*`` keys (VideoDecoder) -> diffusers ``decoder.*`` keys (TemporalDecoder)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        if not key.startswith("decoder."):
            continue
        k = key[len("decoder."):]
        if m := re.fullmatch(r"mid\.block_(\d)\.(.+)", k):
            new = f"mid_block.resnets.{int(m.group(1)) - 1}.{_resblock(m.group(2))}"
        elif m := re.fullmatch(r"mid\.attn_1\.(\w+)\.(weight|bias)", k):
            new = f"mid_block.attentions.0.{_ATTN[m.group(1)]}.{m.group(2)}"
            if value.ndim == 4:  # 1x1 conv -> linear
                value = value[:, :, 0, 0]
        elif m := re.fullmatch(r"up\.(\d+)\.block\.(\d+)\.(.+)", k):
            # SGM counts up blocks from the lowest resolution's opposite end, diffusers from the first decoded one.
            new = f"up_blocks.{num_up - 1 - int(m.group(1))}.resnets.{m.group(2)}.{_resblock(m.group(3))}"
        elif m := re.fullmatch(r"up\.(\d+)\.upsample\.conv\.(weight|bias)", k):
            new = f"up_blocks.{num_up - 1 - int(m.group(1))}.upsamplers.0.conv.{m.group(2)}"
        elif k.startswith("conv_out.time_mix_conv."):
            new = "time_conv_out." + k.rsplit(".", 1)[1]
        elif k.startswith("norm_out."):
            new = "conv_norm_out." + k.rsplit(".", 1)[1]
        elif k.split(".")[0] in ("conv_in", "conv_out"):
            new = k
        else:
            raise ValueError(f"unexpected key in the SVD temporal decoder: {key!r}")
        out["decoder." + new] = value
    return out


def vae_config_from_sgm(sd: Mapping[str, torch.Tensor]) -> dict:
    """diffusers AutoencoderKLTemporalDecoder config from SGM VAE shapes (SVD: 128/256/512/512, 2 layers)."""
    levels = sorted({int(m.group(1)) for k in sd if (m := re.match(r"encoder\.down\.(\d+)\.block\.0\.conv1", k))})
    if not levels or "decoder.conv_in.weight" not in sd:
        raise ValueError("the VAE in the file has no encoder.down.* / decoder.conv_in keys")
    channels = [sd[f"encoder.down.{i}.block.0.conv1.weight"].shape[0] for i in levels]
    layers = len({m.group(1) for k in sd if (m := re.match(r"encoder\.down\.0\.block\.(\d+)\.", k))})
    return {
        "in_channels": sd["encoder.conv_in.weight"].shape[1], "out_channels": sd["decoder.conv_out.weight"].shape[0],
        "down_block_types": ["DownEncoderBlock2D"] * len(channels), "block_out_channels": channels,
        "layers_per_block": layers, "latent_channels": sd["decoder.conv_in.weight"].shape[1],
        "sample_size": 768, "scaling_factor": 0.18215, "force_upcast": True,
    }


def convert_sgm_vae(sd: Mapping[str, torch.Tensor]) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config, diffusers state dict) of the SVD VAE from SGM keys (no ``first_stage_model.`` prefix)."""
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    config = vae_config_from_sgm(sd)
    encoder_only = {VAE_PREFIX + k: v for k, v in sd.items() if k.startswith("encoder.")}
    converted = convert_ldm_vae_checkpoint(encoder_only, {"down_block_types": config["down_block_types"],
                                                          "up_block_types": []})
    out = {k: v for k, v in converted.items() if k.startswith("encoder.")}
    out.update(convert_video_decoder(sd, len(config["block_out_channels"])))
    # SGM's AutoencodingEngine has no quant_conv (the Gaussian regulariser reads the encoder output directly), so
    # diffusers' quant_conv must be the identity.
    width = 2 * config["latent_channels"]
    out["quant_conv.weight"] = torch.eye(width).view(width, width, 1, 1)
    out["quant_conv.bias"] = torch.zeros(width)
    return config, out


def convert_open_clip_visual(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenCLIP ``visual.*`` keys (prefix removed) -> transformers CLIPVisionModelWithProjection keys."""
    top = {
        "class_embedding": "vision_model.embeddings.class_embedding",
        "conv1.weight": "vision_model.embeddings.patch_embedding.weight",
        "positional_embedding": "vision_model.embeddings.position_embedding.weight",
        "ln_pre.weight": "vision_model.pre_layrnorm.weight",
        "ln_pre.bias": "vision_model.pre_layrnorm.bias",
        "ln_post.weight": "vision_model.post_layernorm.weight",
        "ln_post.bias": "vision_model.post_layernorm.bias",
    }
    block = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2",
             "attn.out_proj": "self_attn.out_proj"}
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        if key in top:
            out[top[key]] = value
        elif key == "proj":  # OpenCLIP computes x @ proj; a Linear stores the transpose
            out["visual_projection.weight"] = value.t().contiguous()
        elif m := re.fullmatch(r"transformer\.resblocks\.(\d+)\.(.+)\.(weight|bias)", key):
            layer, name, param = m.groups()
            base = f"vision_model.encoder.layers.{layer}."
            if name in block:
                out[base + f"{block[name]}.{param}"] = value
            else:
                raise ValueError(f"unexpected key in the OpenCLIP vision tower: {key!r}")
        elif m := re.fullmatch(r"transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)", key):
            # fused q,k,v in this order along dim 0
            base = f"vision_model.encoder.layers.{m.group(1)}.self_attn."
            for name, part in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0), strict=True):
                out[base + f"{name}.{m.group(2)}"] = part.contiguous()
        else:
            raise ValueError(f"unexpected key in the OpenCLIP vision tower: {key!r}")
    return out


def clip_config_from_open_clip(sd: Mapping[str, torch.Tensor]) -> CLIPVisionConfig:
    """CLIPVisionConfig from OpenCLIP shapes. Head count leaves no trace in weights: ViT-H/14 uses 16 (width 80)."""
    from transformers import CLIPVisionConfig

    hidden = sd["class_embedding"].shape[0]
    patch = sd["conv1.weight"].shape[-1]
    grid = round((sd["positional_embedding"].shape[0] - 1) ** 0.5)
    layers = len({m.group(1) for k in sd if (m := re.match(r"transformer\.resblocks\.(\d+)\.", k))})
    heads = {1280: 16, 1024: 16, 768: 12}.get(hidden, max(1, hidden // 8))
    return CLIPVisionConfig(
        hidden_size=hidden, intermediate_size=sd["transformer.resblocks.0.mlp.c_fc.weight"].shape[0],
        projection_dim=sd["proj"].shape[1], num_hidden_layers=layers, num_attention_heads=heads,
        image_size=grid * patch, patch_size=patch, hidden_act="gelu", layer_norm_eps=1e-5,
    )


def load_svd_single_file(path: str, dtype: torch.dtype | None) -> tuple[nn.Module, nn.Module, dict]:
    """VAE, CLIP image encoder and settings from ``svd_xt_1_1.safetensors``-style files (same return as the folder)."""
    from diffusers import AutoencoderKLTemporalDecoder

    expected = "a Stable Video Diffusion img2vid checkpoint (svd_xt_1_1.safetensors)"
    keys = read_keys(path, expected=expected)
    if sniff_family(keys) != "svd":
        raise ValueError(f"{path!r} looks like {describe_family(keys)}, not {expected}.")
    sd = load_state_dict(path, prefixes=(VAE_PREFIX, CLIP_PREFIX), expected=expected)
    vae_sd, clip_sd = strip_prefix(sd, VAE_PREFIX), strip_prefix(sd, CLIP_PREFIX)
    if not clip_sd or "decoder.mid.block_1.mix_factor" not in vae_sd:
        raise ValueError(f"{path!r} is an SVD checkpoint without its image encoder or temporal VAE decoder.")
    vae_config, vae_weights = convert_sgm_vae(vae_sd)
    with torch.device("meta"):
        vae = AutoencoderKLTemporalDecoder.from_config(vae_config)
    vae = load_strict(vae, vae_weights, dtype, f"The VAE in {path!r}")
    clip_config = clip_config_from_open_clip(clip_sd)
    encoder = build_clip_vision(clip_config, convert_open_clip_visual(clip_sd), dtype, f"The image encoder in {path!r}")
    settings = {"image_mean": CLIP_MEAN, "image_std": CLIP_STD, "image_size": clip_image_size(clip_config),
                "scheduler_config": dict(SVD_SCHEDULER_CONFIG)}
    return vae, encoder, settings
