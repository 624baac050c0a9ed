"""Tiny random-init MimicMotion / SVD models in the official layouts, for CPU tests and test workflows.

Sizes are the smallest that keep the official layouts (UNet (32, 64), VAE 4 blocks of 32 so the scale factor is 8,
CLIP hidden 32 / projection 32, 64 px images). Files are written exactly as users have them: an OrderedDict of fp16
``unet.*`` + ``pose_net.*`` tensors saved with torch.save, and an SVD diffusers folder without its unet/.
"""

from __future__ import annotations

import json
import math
import os
from collections import OrderedDict
from typing import Any

import torch
from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from models.video.components import VideoComponents
from models.video.config_infer import SVD_UNET_CONFIG
from models.video.loader import CLIP_MEAN, CLIP_STD, SVD_SCHEDULER_CONFIG
from models.video.posenet import PoseNet

TINY_IMAGE_SIZE = 64


def tiny_unet_config() -> dict[str, Any]:
    """SVD's UNet config shrunk to 1.3 M parameters (values not in the weights stay at SVD's, as the loader infers)."""
    cfg = dict(SVD_UNET_CONFIG)
    cfg.update(
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=(2, 4),
        addition_time_embed_dim=32,
        projection_class_embeddings_input_dim=96,
    )
    return cfg


def tiny_vae_config() -> dict[str, Any]:
    return dict(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        block_out_channels=(32, 32, 32, 32), layers_per_block=2, latent_channels=4,
        sample_size=TINY_IMAGE_SIZE, scaling_factor=0.18215, force_upcast=True,
    )


def tiny_clip_config() -> CLIPVisionConfig:
    return CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4, image_size=TINY_IMAGE_SIZE,
        patch_size=8, intermediate_size=37, hidden_act="gelu", layer_norm_eps=1e-5,
    )


def _seeded_init(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Fan-in scaled normal weights, near-one norm scales and small biases, in parameter order."""
    for name, p in module.named_parameters():
        noise = torch.randn(p.shape, generator=generator)
        if p.dim() >= 2:
            p.copy_(noise / math.sqrt(p[0].numel()))
        elif name.endswith("weight"):  # GroupNorm / LayerNorm scales
            p.copy_(1.0 + 0.02 * noise)
        else:
            p.copy_(0.02 * noise)


def tiny_components(seed: int = 0, dtype: torch.dtype = torch.float32, version: str = "1.1") -> VideoComponents:
    """Random tiny components; PoseNet's zero-initialised projection is randomised so the pose has an effect.

    Every parameter is drawn from our own seeded generator (not the libraries' init schemes), so the same seed gives
    the same weights whatever diffusers/transformers version builds the modules: the official-pipeline fixture of
    tests/test_video_equivalence.py stays valid across library upgrades.
    """
    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(**tiny_unet_config())
    pose_net = PoseNet(noise_latent_channels=tiny_unet_config()["block_out_channels"][0])
    vae = AutoencoderKLTemporalDecoder(**tiny_vae_config())
    image_encoder = CLIPVisionModelWithProjection(tiny_clip_config())
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in (unet, pose_net, vae, image_encoder):
            _seeded_init(module, generator)
        pose_net.scale.fill_(2.0)  # the official learned scale's initial value
        # SGM's VAE has no quant_conv: identity keeps the folder and single-file layouts equal.
        vae.quant_conv.weight.copy_(torch.eye(8).view(8, 8, 1, 1))
        vae.quant_conv.bias.zero_()
    mods = [(m if dtype == torch.float32 else m.to(dtype)).eval() for m in (unet, pose_net, vae, image_encoder)]
    return VideoComponents(
        unet=mods[0], pose_net=mods[1], vae=mods[2], image_encoder=mods[3], image_mean=CLIP_MEAN, image_std=CLIP_STD,
        image_size=TINY_IMAGE_SIZE, scheduler_config=dict(SVD_SCHEDULER_CONFIG), dtype=dtype, version=version,
    )


def mimicmotion_state_dict(components: VideoComponents) -> OrderedDict[str, torch.Tensor]:
    """The official checkpoint layout: fp16 ``unet.*`` then ``pose_net.*``."""
    sd: OrderedDict[str, torch.Tensor] = OrderedDict()
    for prefix, module in (("unet.", components.unet), ("pose_net.", components.pose_net)):
        for k, v in module.state_dict().items():
            sd[prefix + k] = v.detach().to(torch.float16).contiguous()
    return sd


def write_svd_folder(components: VideoComponents, folder: str) -> str:
    """An SVD diffusers folder (vae/, image_encoder/, feature_extractor/, scheduler/) with the tiny VAE and CLIP."""
    components.vae.save_pretrained(os.path.join(folder, "vae"))
    components.image_encoder.save_pretrained(os.path.join(folder, "image_encoder"))
    os.makedirs(os.path.join(folder, "feature_extractor"), exist_ok=True)
    side = components.image_size
    with open(os.path.join(folder, "feature_extractor", "preprocessor_config.json"), "w") as f:
        json.dump({
            "crop_size": {"height": side, "width": side}, "do_center_crop": True, "do_convert_rgb": True,
            "do_normalize": True, "do_rescale": True, "do_resize": True,
            "feature_extractor_type": "CLIPFeatureExtractor",
            "image_mean": list(components.image_mean), "image_processor_type": "CLIPImageProcessor",
            "image_std": list(components.image_std), "resample": 3, "rescale_factor": 1 / 255,
            "size": {"shortest_edge": side},
        }, f, indent=2)
    os.makedirs(os.path.join(folder, "scheduler"), exist_ok=True)
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump({"_class_name": "EulerDiscreteScheduler", **components.scheduler_config}, f, indent=2)
    return folder


def write_tiny_mimicmotion(models_dir: str, seed: int = 0) -> dict[str, str]:
    """Write tiny model files into a ComfyUI-style models folder.

    Returns:
        {"mimicmotion": models_dir/mimicmotion/tiny_mimicmotion.pth, "svd_folder": models_dir/diffusers/tiny-svd,
         "svd_single_file": models_dir/checkpoints/tiny_svd_xt.safetensors}.
    """
    comps = tiny_components(seed=seed)
    paths: dict[str, str] = {}
    mm_dir = os.path.join(models_dir, "mimicmotion")
    os.makedirs(mm_dir, exist_ok=True)
    paths["mimicmotion"] = os.path.join(mm_dir, "tiny_mimicmotion.pth")
    torch.save(mimicmotion_state_dict(comps), paths["mimicmotion"])
    paths["svd_folder"] = write_svd_folder(comps, os.path.join(models_dir, "diffusers", "tiny-svd"))
    os.makedirs(os.path.join(models_dir, "checkpoints"), exist_ok=True)
    paths["svd_single_file"] = write_tiny_svd_single_file(
        comps, os.path.join(models_dir, "checkpoints", "tiny_svd_xt.safetensors"))
    return paths


# ---- single-file (SGM / OpenCLIP layout) writer: the inverse key maps, stated independently of the loader's ----

_SGM_RES = {"norm1": "time_stack.in_layers.0", "conv1": "time_stack.in_layers.2", "norm2": "time_stack.out_layers.0",
            "conv2": "time_stack.out_layers.3"}


def _sgm_res(rest: str) -> str:
    parts = rest.split(".")
    if parts[0] == "time_mixer":
        return "mix_factor"
    if parts[0] == "temporal_res_block":
        return f"{_SGM_RES[parts[1]]}.{parts[2]}"
    return rest[len("spatial_res_block."):].replace("conv_shortcut", "nin_shortcut")


def vae_to_sgm(vae: torch.nn.Module) -> dict[str, torch.Tensor]:
    """diffusers AutoencoderKLTemporalDecoder -> SGM keys (encoder as LDM, decoder as VideoDecoder; no quant_conv)."""
    n = len(vae.config.block_out_channels)
    out: dict[str, torch.Tensor] = {}
    attn = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
    for key, v in vae.state_dict().items():
        part, rest = key.split(".", 1)
        if part == "quant_conv":
            continue
        if rest.startswith(("down_blocks.", "up_blocks.")):
            kind, idx, sub, rest2 = rest.split(".", 3)
            if part == "encoder":
                if sub == "resnets":
                    new = f"down.{idx}.block.{rest2.replace('conv_shortcut', 'nin_shortcut')}"
                else:  # downsamplers.0.conv.*
                    new = f"down.{idx}.downsample.{rest2.split('.', 1)[1]}"
            else:
                lvl = n - 1 - int(idx)
                if sub == "resnets":
                    j, r = rest2.split(".", 1)
                    new = f"up.{lvl}.block.{j}.{_sgm_res(r)}"
                else:
                    new = f"up.{lvl}.upsample.{rest2.split('.', 1)[1]}"
        elif rest.startswith("mid_block.resnets."):
            j, r = rest[len("mid_block.resnets."):].split(".", 1)
            r = _sgm_res(r) if part == "decoder" else r.replace("conv_shortcut", "nin_shortcut")
            new = f"mid.block_{int(j) + 1}.{r}"
        elif rest.startswith("mid_block.attentions.0."):
            r = rest[len("mid_block.attentions.0."):]
            name, param = r.rsplit(".", 1)
            new = f"mid.attn_1.{attn[name]}.{param}"
            if v.ndim == 2:
                v = v[:, :, None, None]
        elif rest.startswith("time_conv_out."):
            new = "conv_out.time_mix_conv." + rest.split(".")[-1]
        elif rest.startswith("conv_norm_out."):
            new = "norm_out." + rest.split(".")[-1]
        else:
            new = rest
        out[f"first_stage_model.{part}.{new}"] = v
    return out


def clip_to_open_clip(encoder: torch.nn.Module) -> dict[str, torch.Tensor]:
    """transformers CLIPVisionModelWithProjection -> OpenCLIP ``visual.*`` keys with SVD's conditioner prefix."""
    p = "conditioner.embedders.0.open_clip.model.visual."
    sd = encoder.state_dict()
    emb, vm = "vision_model.embeddings.", "vision_model."
    out = {
        p + "class_embedding": sd[emb + "class_embedding"], p + "conv1.weight": sd[emb + "patch_embedding.weight"],
        p + "positional_embedding": sd[emb + "position_embedding.weight"],
        p + "ln_pre.weight": sd[vm + "pre_layrnorm.weight"], p + "ln_pre.bias": sd[vm + "pre_layrnorm.bias"],
        p + "ln_post.weight": sd[vm + "post_layernorm.weight"], p + "ln_post.bias": sd[vm + "post_layernorm.bias"],
        p + "proj": sd["visual_projection.weight"].t().contiguous(),
    }
    for i in range(encoder.config.num_hidden_layers):
        s, d = f"{vm}encoder.layers.{i}.", f"{p}transformer.resblocks.{i}."
        for param in ("weight", "bias"):
            out[d + f"attn.in_proj_{param}"] = torch.cat([sd[s + f"self_attn.{x}_proj.{param}"] for x in "qkv"])
            for a, b in (("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"),
                         ("mlp.fc2", "mlp.c_proj"), ("self_attn.out_proj", "attn.out_proj")):
                out[d + f"{b}.{param}"] = sd[s + f"{a}.{param}"]
    return out


def write_tiny_svd_single_file(components: VideoComponents, path: str) -> str:
    """A tiny SVD single file: SGM VAE + OpenCLIP image encoder. Of SVD's UNet it holds only two SGM temporal keys
    (enough to be recognised as SVD): the loader never reads the SVD UNet, MimicMotion brings its own."""
    from safetensors.torch import save_file

    sd = {**vae_to_sgm(components.vae), **clip_to_open_clip(components.image_encoder)}
    sd["model.diffusion_model.input_blocks.1.0.time_stack.in_layers.0.weight"] = torch.ones(32)
    sd["model.diffusion_model.input_blocks.1.0.time_mixer.mix_factor"] = torch.zeros(1)
    save_file({k: v.to(torch.float16).contiguous() for k, v in sd.items()}, path)
    return path
