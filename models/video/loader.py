"""Build ``VideoComponents`` from the official MimicMotion weights and an SVD img2vid base.

MimicMotion file: the official pickled ``MimicMotion_1(-1).pth`` (fp16 ``unet.*`` + ``pose_net.*``), a safetensors
conversion with or without those prefixes, or a UNet-only file (kijai's pruned "MergedUnet") plus a separate PoseNet
file. The UNet config is inferred from the weight shapes (config_infer.py) and the UNet is built on the meta device,
so no random init of 1.5 B parameters happens; loading is strict and reports missing/unexpected keys by name.
SVD base: a diffusers folder (vae/, image_encoder/, feature_extractor/, scheduler/) or the single-file checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import torch
from torch import nn

from ..io.checkpoint import describe_family, load_state_dict, sniff_family, strip_prefix
from .components import VideoComponents, VideoModel
from .config_infer import infer_unet_config
from .posenet import PoseNet

if TYPE_CHECKING:
    from transformers import CLIPVisionConfig

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound=nn.Module)

# OpenAI CLIP normalisation (SVD feature_extractor/preprocessor_config.json).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# SVD img2vid xt scheduler/scheduler_config.json, as published with the model.
SVD_SCHEDULER_CONFIG: dict = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "set_alpha_to_one": False,
    "sigma_max": 700.0,
    "sigma_min": 0.002,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "timestep_type": "continuous",
    "trained_betas": None,
    "use_karras_sigmas": True,
}

MM_EXPECTED = "a MimicMotion checkpoint (MimicMotion_1-1.pth or a .safetensors conversion: unet.* + pose_net.* keys)"


def detect_version(path: str) -> str:
    """"1.1" (72-frame model) or "1.0" (16-frame) from the file name; 1.1 when the name does not say."""
    name = os.path.basename(path).lower()
    if re.search(r"1[-._]1", name):
        return "1.1"
    if re.search(r"1[-._]0|_1\.(pth|safetensors)$|v1(?!\d)", name):
        return "1.0"
    logger.info("Could not tell the MimicMotion version from %r; assuming 1.1 (72-frame windows).", name)
    return "1.1"


def auto_weight_dtype(device: torch.device | str, fp16_fast: bool) -> tuple[torch.dtype, str]:
    """The weight dtype 'auto' precision loads for ``device``, and why (for the log).

    fp16_fast: whether the host (ComfyUI's ``should_use_fp16``) says the device runs fp16 well. On a CPU fp32 is
    chosen whatever it says: CPUs have no fast fp16 arithmetic, and the fp16 UNet measured about 3x slower than fp32
    there (issue 10); fp32 needs twice the memory. Elsewhere fp16 (the official choice) when fast, else fp32.
    """
    dev = torch.device(device)
    if dev.type == "cpu":
        return torch.float32, (f"fp32 on {dev}: CPUs have no fast fp16 arithmetic (fp16 ran about 3x slower), "
                               "at twice the memory of fp16")
    if fp16_fast:
        return torch.float16, f"fp16 on {dev}: the official precision, and the device runs it fast"
    return torch.float32, f"fp32 on {dev}: the device has no fast fp16 arithmetic"


def _key_report(missing: list[str], unexpected: list[str], limit: int = 8) -> str:
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {', '.join(sorted(missing)[:limit])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(sorted(unexpected)[:limit])})")
    return "; ".join(parts)


def _mapped(dtype: torch.dtype | None) -> bool:
    """Memory-map weight files only when loading fp16, the dtype the official files store (used as stored, a mapping
    costs no copy). For any other dtype the tensors are cast and freed one by one, which a mapping would defeat:
    it stays resident until its last tensor is gone. None (kept as stored, later cast while in use): unmapped too."""
    return dtype == torch.float16


def load_strict(module: _M, sd: Mapping[str, torch.Tensor], dtype: torch.dtype | None, what: str,
                consume: bool = False) -> _M:
    """Load ``sd`` into ``module`` (possibly on the meta device) with exact key and shape checks, cast to ``dtype``.

    dtype: None keeps each tensor in the file's dtype (idle storage, see ``load_video_components``).

    consume: empty ``sd`` (a dict the caller no longer needs) tensor by tensor while casting, so a file's fp16
    tensors are freed as their fp32 copies are made: the peak is the fp32 model, not fp16 file + fp32 model
    (issue 10: 'no fp16 + fp32 double copies while loading')."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    if missing or unexpected:
        raise ValueError(f"{what} does not match the expected architecture: {_key_report(missing, unexpected)}.")
    bad = [f"{k} {tuple(sd[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if sd[k].shape != v.shape]
    if bad:
        raise ValueError(f"{what} has tensors of the wrong shape (file vs model): {', '.join(bad[:8])}.")
    if consume and isinstance(sd, MutableMapping):
        floats = {}
        for k in list(sd):
            v = sd.pop(k)
            floats[k] = v.to(dtype) if dtype is not None and v.is_floating_point() else v
            del v  # the file's tensor goes now (when nothing else holds it), not after the whole model is cast
    else:
        floats = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v) for k, v in sd.items()}
    module.load_state_dict(floats, strict=True, assign=True)
    leftover = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if leftover:
        raise ValueError(f"{what}: these tensors were not filled from the file: {leftover[:8]}.")
    return module.eval()


def split_mimicmotion(
    sd: Mapping[str, torch.Tensor], path: str
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """Split a MimicMotion state dict into (unet, pose_net) parts; pose_net is None for UNet-only files."""
    family = sniff_family(sd.keys())
    if family == "mimicmotion":
        return strip_prefix(sd, "unet."), strip_prefix(sd, "pose_net.")
    if family == "svd_unet":
        unet = strip_prefix(sd, "unet.") if any(k.startswith("unet.") for k in sd) else dict(sd)
        pose = strip_prefix(sd, "pose_net.") or None
        return unet, pose
    raise ValueError(f"{path!r} looks like {describe_family(sd.keys())}, not {MM_EXPECTED}.")


def load_pose_net_file(path: str) -> dict[str, torch.Tensor]:
    sd = load_state_dict(path, expected="a MimicMotion PoseNet (conv_layers.*, final_proj.*, scale)")
    if any(k.startswith("pose_net.") for k in sd):
        sd = strip_prefix(sd, "pose_net.")
    if sniff_family(sd.keys()) != "posenet":
        raise ValueError(f"{path!r} looks like {describe_family(sd.keys())}, not a MimicMotion PoseNet.")
    return sd


def build_unet(unet_sd: Mapping[str, torch.Tensor], dtype: torch.dtype | None, name: str,
               consume: bool = False) -> nn.Module:
    from diffusers import UNetSpatioTemporalConditionModel

    config = infer_unet_config(unet_sd, name=f"the UNet in {name!r}")
    with torch.device("meta"):
        # cast: type checkers resolve diffusers' top-level names to its dummy (torch-less) classes.
        unet = cast(nn.Module, UNetSpatioTemporalConditionModel(**config))
    return load_strict(unet, unet_sd, dtype, f"The UNet in {name!r}", consume)


def build_pose_net(pose_sd: Mapping[str, torch.Tensor], dtype: torch.dtype | None, name: str) -> PoseNet:
    if "final_proj.weight" not in pose_sd:
        raise ValueError(f"The PoseNet in {name!r} has no final_proj.weight; keys: {sorted(pose_sd)[:8]}.")
    with torch.device("meta"):
        net = PoseNet(noise_latent_channels=pose_sd["final_proj.weight"].shape[0])
    pose_sd = dict(pose_sd)
    if "scale" in pose_sd and pose_sd["scale"].numel() == 1:
        # The official checkpoints store the learned scale as shape [1]; some conversions store a 0-dim scalar.
        pose_sd["scale"] = pose_sd["scale"].reshape(1)
    return load_strict(net, pose_sd, dtype, f"The PoseNet in {name!r}")


def load_mimicmotion(
    path: str, dtype: torch.dtype | None = torch.float16, pose_net_path: str | None = None
) -> tuple[nn.Module, PoseNet]:
    """UNet and PoseNet from a MimicMotion file (and an optional separate PoseNet file)."""
    unet_sd, pose_sd = split_mimicmotion(load_state_dict(path, expected=MM_EXPECTED, mmap=_mapped(dtype)), path)
    if pose_net_path:
        pose_sd = load_pose_net_file(pose_net_path)
    if pose_sd is None:
        raise ValueError(
            f"{path!r} holds only a UNet (no pose_net.* keys). Pick the PoseNet file too (e.g. kijai's "
            "mimic_motion_pose_net.safetensors) or use the official MimicMotion_1-1.pth, which holds both."
        )
    unet = build_unet(unet_sd, dtype, path, consume=True)  # unet_sd holds the file's only references
    pose_net = build_pose_net(pose_sd, dtype, pose_net_path or path)
    unet_config: Any = unet.config  # a diffusers config (nn.Module's __getattr__ types it as Tensor | Module)
    width = unet_config.block_out_channels[0]
    if pose_net.out_channels != width:
        raise ValueError(f"PoseNet outputs {pose_net.out_channels} channels but the UNet's first block has {width}.")
    return unet, pose_net


def _read_json(path: str, what: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{what}: {path!r} is missing.") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what}: {path!r} is not valid JSON ({exc}).") from exc


def _weights_file(folder: str, stem: str, what: str) -> str:
    for name in (f"{stem}.safetensors", f"{stem}.fp16.safetensors", f"{stem}.bin", f"{stem}.fp16.bin"):
        if os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise FileNotFoundError(f"{what}: no {stem}[.fp16].safetensors/.bin in {folder!r}.")


def load_svd_folder(folder: str, dtype: torch.dtype | None) -> tuple[nn.Module, nn.Module, dict]:
    """VAE, CLIP image encoder and preprocessing/scheduler settings from an SVD diffusers folder."""
    from diffusers import AutoencoderKLTemporalDecoder
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    what = f"SVD base folder {folder!r}"
    missing = [s for s in ("vae", "image_encoder") if not os.path.isdir(os.path.join(folder, s))]
    if missing:
        raise FileNotFoundError(
            f"{what} has no {' or '.join(s + '/' for s in missing)}; expected the diffusers layout of "
            "stable-video-diffusion-img2vid-xt-1-1 (vae/, image_encoder/, feature_extractor/, scheduler/)."
        )
    vae_dir, enc_dir = os.path.join(folder, "vae"), os.path.join(folder, "image_encoder")
    vae_cfg = _read_json(os.path.join(vae_dir, "config.json"), what)
    with torch.device("meta"):
        vae = AutoencoderKLTemporalDecoder.from_config(vae_cfg)
    vae_file = _weights_file(vae_dir, "diffusion_pytorch_model", what)
    vae_sd = load_state_dict(vae_file, expected="the SVD temporal-decoder VAE", mmap=_mapped(dtype))
    vae = load_strict(vae, vae_sd, dtype, vae_file, consume=True)

    enc_cfg = CLIPVisionConfig.from_dict(_read_json(os.path.join(enc_dir, "config.json"), what))
    enc_file = _weights_file(enc_dir, "model", what)
    encoder = build_clip_vision(enc_cfg, load_state_dict(enc_file, expected="a CLIP vision model",
                                                         mmap=_mapped(dtype)), dtype, enc_file, consume=True)
    _ = CLIPVisionModelWithProjection  # type of ``encoder``

    settings = {"image_mean": CLIP_MEAN, "image_std": CLIP_STD, "image_size": clip_image_size(enc_cfg)}
    fe_path = os.path.join(folder, "feature_extractor", "preprocessor_config.json")
    if os.path.isfile(fe_path):
        fe = _read_json(fe_path, what)
        settings["image_mean"] = tuple(float(x) for x in fe.get("image_mean", CLIP_MEAN))
        settings["image_std"] = tuple(float(x) for x in fe.get("image_std", CLIP_STD))
    sched_path = os.path.join(folder, "scheduler", "scheduler_config.json")
    sched = dict(SVD_SCHEDULER_CONFIG)
    if os.path.isfile(sched_path):
        sched = {k: v for k, v in _read_json(sched_path, what).items() if not k.startswith("_")}
    else:
        logger.info("%s has no scheduler/; using SVD's scheduler config.", what)
    settings["scheduler_config"] = sched
    return vae, encoder, settings


def clip_image_size(config: CLIPVisionConfig) -> int:
    """The CLIP input side in pixels (``config.image_size``, a single number for CLIP vision models)."""
    size = config.image_size
    if size is None or isinstance(size, (list, tuple)):
        raise ValueError(f"The CLIP vision config has image_size={size!r}; expected one number (e.g. 224).")
    return int(size)


def build_clip_vision(
    config: CLIPVisionConfig, sd: Mapping[str, torch.Tensor], dtype: torch.dtype | None, what: str,
    consume: bool = False
) -> nn.Module:
    """CLIPVisionModelWithProjection from a transformers-layout state dict, without random init.

    consume: empty ``sd`` while casting (see ``load_strict``)."""
    from transformers import CLIPVisionModelWithProjection

    with torch.device("meta"):
        model = CLIPVisionModelWithProjection(config)
    # position_ids is a non-persistent buffer (not in files): rebuild it on CPU after loading.
    expected_persistent = set(model.state_dict())
    drop = [k for k in sd if k not in expected_persistent and k.endswith("position_ids")]
    if consume and isinstance(sd, MutableMapping):
        for k in drop:  # in place: a filtered copy would keep the caller's dict (and its tensors) alive
            del sd[k]
    else:
        sd = {k: v for k, v in sd.items() if k not in drop}
    emb = model.vision_model.embeddings
    n_pos = emb.position_embedding.num_embeddings
    emb.register_buffer("position_ids", torch.arange(n_pos).expand((1, -1)), persistent=False)
    return load_strict(model, sd, dtype, what, consume)


def load_svd_base(path: str, dtype: torch.dtype | None) -> tuple[nn.Module, nn.Module, dict]:
    """SVD base from a diffusers folder or a single-file checkpoint (SGM layout)."""
    if os.path.isdir(path):
        return load_svd_folder(path, dtype)
    from .svd_single_file import load_svd_single_file

    return load_svd_single_file(path, dtype)


def load_video_components(
    mimicmotion_path: str,
    svd_path: str,
    dtype: torch.dtype = torch.float16,
    version: str | None = None,
    pose_net_path: str | None = None,
    idle_storage: bool = False,
) -> VideoComponents:
    """All MimicMotion modules, on CPU in ``dtype`` (or their idle storage dtype), in eval mode.

    Args:
        mimicmotion_path: MimicMotion .pth/.safetensors (see module docstring).
        svd_path: SVD diffusers folder or single-file checkpoint.
        dtype: torch.float32 / float16 / bfloat16: the compute dtype.
        version: "1.0" / "1.1"; None = from the file name.
        pose_net_path: separate PoseNet file for UNet-only checkpoints.
        idle_storage: with dtype fp32, keep each module whose file is in a half dtype (fp16 / bf16; the official
            files are fp16) in that dtype while idle, and let ``VideoComponents.set_in_use`` cast it to fp32 only
            while it runs (issue 10: the peak on a CPU is all four modules resident in fp32). Half -> fp32 -> half
            is exact, so the computation sees the same fp32 values as an fp32 load. Modules from fp32 (or mixed)
            files are loaded in ``dtype`` as before; off: all modules in ``dtype``.
    """
    if version not in (None, "1.0", "1.1"):
        raise ValueError(f"version must be '1.0' or '1.1', got {version!r}")
    as_stored = idle_storage and dtype == torch.float32
    load_dtype = None if as_stored else dtype  # None: each tensor in its file's dtype, cast below or while in use
    unet, pose_net = load_mimicmotion(mimicmotion_path, load_dtype, pose_net_path)
    vae, encoder, settings = load_svd_base(svd_path, load_dtype)
    storage: dict[str, torch.dtype] = {}
    if as_stored:
        for name, m in (("unet", unet), ("pose_net", pose_net), ("vae", vae), ("image_encoder", encoder)):
            half = _half_dtype(m)
            if half is None:  # an fp32 or mixed file: casting it to a half dtype would not be exact
                nn.Module.to(m, dtype)  # one tensor at a time; nn.Module's, as diffusers' .to warns on dtypes
            else:
                storage[name] = half
        kept = ", ".join(f"{n} {_short(d)}" for n, d in storage.items()) or "none"
        logger.info("Idle modules kept in their files' half dtype (%s); cast to %s while in use (exact: half -> "
                    "fp32 -> half loses nothing). Others in %s.", kept, _short(dtype), _short(dtype))
    # diffusers/transformers configs (nn.Module's __getattr__ types them as Tensor | Module).
    unet_config: Any = unet.config
    encoder_config: Any = encoder.config
    vae_config: Any = vae.config
    cross = unet_config.cross_attention_dim
    if encoder_config.projection_dim != cross:
        raise ValueError(
            f"The CLIP image encoder of {svd_path!r} projects to {encoder_config.projection_dim} but the UNet of "
            f"{mimicmotion_path!r} expects {cross}: the SVD base and the MimicMotion file do not belong together."
        )
    if vae_config.latent_channels * 2 != unet_config.in_channels:
        raise ValueError(
            f"The VAE of {svd_path!r} has {vae_config.latent_channels} latent channels but the UNet takes "
            f"{unet_config.in_channels} (2 x latent)."
        )
    return VideoComponents(
        unet=unet, pose_net=pose_net, vae=vae, image_encoder=encoder, image_mean=settings["image_mean"],
        image_std=settings["image_std"], image_size=settings["image_size"],
        scheduler_config=settings["scheduler_config"], dtype=dtype,
        version=version or detect_version(mimicmotion_path), storage_dtypes=storage,
    )


def _short(dtype: torch.dtype) -> str:
    return {torch.float16: "fp16", torch.bfloat16: "bf16", torch.float32: "fp32"}.get(dtype, str(dtype))


def _half_dtype(module: nn.Module) -> torch.dtype | None:
    """The one half dtype (fp16 or bf16) every floating tensor of ``module`` is in, else None."""
    found = {t.dtype for t in [*module.parameters(), *module.buffers()] if t.is_floating_point()}
    if len(found) == 1 and next(iter(found)) in (torch.float16, torch.bfloat16):
        return next(iter(found))
    return None


def load_video_model(
    mimicmotion_path: str,
    svd_path: str,
    dtype: torch.dtype = torch.float16,
    version: str | None = None,
    pose_net_path: str | None = None,
    idle_storage: bool = False,
) -> VideoModel:
    """``load_video_components`` wrapped as an EMBODY_VIDEO_MODEL with the version's fusion defaults."""
    comps = load_video_components(mimicmotion_path, svd_path, dtype, version, pose_net_path, idle_storage)
    files = {"mimicmotion": mimicmotion_path, "svd": svd_path}
    if pose_net_path:
        files["pose_net"] = pose_net_path
    return VideoModel.from_components(comps, files)
