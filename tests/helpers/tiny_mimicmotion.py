"""Tiny random-init MimicMotion / SVD models in the official layouts, for CPU tests and test workflows.

Sizes follow shared/reference/mimicmotion.md section 4 (UNet (32, 64), VAE 4 blocks of 32 so the scale factor is 8,
CLIP hidden 32 / projection 32, 64 px images). Files are written exactly as users have them: an OrderedDict of fp16
``unet.*`` + ``pose_net.*`` tensors saved with torch.save, and an SVD diffusers folder without its unet/.
"""

from __future__ import annotations

import json
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
        block_out_channels=(32, 32, 32, 32), layers_per_block=1, latent_channels=4,
        sample_size=TINY_IMAGE_SIZE, scaling_factor=0.18215, force_upcast=True,
    )


def tiny_clip_config() -> CLIPVisionConfig:
    return CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4, image_size=TINY_IMAGE_SIZE,
        patch_size=8, intermediate_size=37, hidden_act="gelu", layer_norm_eps=1e-5,
    )


def tiny_components(seed: int = 0, dtype: torch.dtype = torch.float32, version: str = "1.1") -> VideoComponents:
    """Random tiny components; PoseNet's zero-initialised projection is randomised so the pose has an effect."""
    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(**tiny_unet_config())
    pose_net = PoseNet(noise_latent_channels=tiny_unet_config()["block_out_channels"][0])
    torch.nn.init.normal_(pose_net.final_proj.weight, std=0.05)
    vae = AutoencoderKLTemporalDecoder(**tiny_vae_config())
    image_encoder = CLIPVisionModelWithProjection(tiny_clip_config())
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
         "svd_single_file": models_dir/checkpoints/tiny_svd.safetensors (if the single-file writer is available)}.
    """
    comps = tiny_components(seed=seed)
    paths: dict[str, str] = {}
    mm_dir = os.path.join(models_dir, "mimicmotion")
    os.makedirs(mm_dir, exist_ok=True)
    paths["mimicmotion"] = os.path.join(mm_dir, "tiny_mimicmotion.pth")
    torch.save(mimicmotion_state_dict(comps), paths["mimicmotion"])
    paths["svd_folder"] = write_svd_folder(comps, os.path.join(models_dir, "diffusers", "tiny-svd"))
    return paths
