"""Idle modules kept in the files' fp16 and cast to fp32 only while in use (issue 10, peak memory on a CPU).

Tiny models written as fp16 files like the official ones. With the storage swapping on, every stage must give
exactly (torch.equal) what the plain fp32 load gives, each module must be fp32 while it runs and fp16 while idle.
"""

from __future__ import annotations

import logging
import os
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from models.video.components import VideoModel
from models.video.conditioning import encode_reference
from models.video.decode import decode_latents
from models.video.fusion import FusionSchedule
from models.video.loader import load_video_model
from models.video.sampler import SamplerSettings, denoise
from tests.helpers.tiny_mimicmotion import write_tiny_mimicmotion

torch.set_num_threads(1)

NAMES = ("unet", "pose_net", "vae", "image_encoder")


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """The tiny files, plus an SVD folder in fp16 like the official one (the helper writes VAE and CLIP in fp32)."""
    paths = write_tiny_mimicmotion(str(tmp_path_factory.mktemp("models")))
    half = str(tmp_path_factory.mktemp("svd_fp16"))
    shutil.copytree(paths["svd_folder"], half, dirs_exist_ok=True)
    for sub, stem in (("vae", "diffusion_pytorch_model"), ("image_encoder", "model")):
        path = os.path.join(half, sub, f"{stem}.safetensors")
        sd = load_file(path)
        os.remove(path)
        save_file({k: v.half() if v.is_floating_point() else v for k, v in sd.items()},
                  os.path.join(half, sub, f"{stem}.fp16.safetensors"))
    return {**paths, "svd_fp16": half}


def _dtype(module: torch.nn.Module) -> torch.dtype:
    found = {p.dtype for p in module.parameters() if p.is_floating_point()}
    assert len(found) == 1, found
    return found.pop()


def _pipeline(vm: VideoModel, seen: list[tuple[str, dict[str, torch.dtype]]] | None = None):
    """Encode, sample and decode the way the nodes do (prepare before each stage); returns (latents, images).

    seen: if given, a forward pre-hook on each module records, each time one runs, every module's dtype then."""
    c = vm.components
    handles = []
    if seen is not None:
        def hook(name: str):
            return lambda _m, _a: seen.append((name, {n: _dtype(c.module(n)) for n in NAMES}))

        hooked = {"unet": c.unet, "pose_net": c.pose_net, "vae": c.vae.decoder, "vae_enc": c.vae.encoder,
                  "image_encoder": c.image_encoder}
        handles = [m.register_forward_pre_hook(hook(n)) for n, m in hooked.items()]
    try:
        g = torch.Generator().manual_seed(0)
        ref = torch.rand(1, 3, 64, 64, generator=g)
        poses = torch.zeros(5, 3, 64, 64)
        for f in range(5):
            poses[f, :, 20 + 3 * f : 30 + 3 * f, 10:40] = 1.0
        settings = SamplerSettings(steps=2, seed=3, cfg_min=2.0, cfg_max=2.0)
        gen = torch.Generator().manual_seed(settings.seed)
        with torch.no_grad():
            device = vm.prepare(["image_encoder", "vae"])
            cond = encode_reference(c, ref, gen, device, 0.02)
            device = vm.prepare(["unet"])
            latents = denoise(c, cond, poses, FusionSchedule(4, 2).fitted(5), settings, gen, device)
            vm.prepare(["vae"])
            images = decode_latents(c.vae, latents, chunk_size=2)
    finally:
        for h in handles:
            h.remove()
    return latents, images


def test_idle_storage_is_exact_and_casts_at_the_right_moments(paths, caplog):
    plain = load_video_model(paths["mimicmotion"], paths["svd_fp16"], torch.float32)
    with caplog.at_level(logging.INFO, logger="models.video.loader"):
        stored = load_video_model(paths["mimicmotion"], paths["svd_fp16"], torch.float32, idle_storage=True)
    assert "Idle modules kept in their files' half dtype (unet fp16, pose_net fp16, vae fp16, image_encoder fp16)" \
        in caplog.text
    assert stored.components.storage_dtypes == dict.fromkeys(NAMES, torch.float16)
    assert plain.components.storage_dtypes == {}
    # Loaded idle: all in the files' fp16, nothing resident in fp32.
    assert {_dtype(stored.components.module(n)) for n in NAMES} == {torch.float16}

    seen: list[tuple[str, dict[str, torch.dtype]]] = []
    lat_a, img_a = _pipeline(plain)
    lat_b, img_b = _pipeline(stored, seen)
    assert torch.equal(lat_a, lat_b)
    assert torch.equal(img_a, img_b)

    fp16, fp32 = torch.float16, torch.float32
    by_stage = {name: [d for n, d in seen if n == name] for name in ("image_encoder", "vae_enc", "unet", "pose_net",
                                                                     "vae")}
    assert all(by_stage.values()), {k: len(v) for k, v in by_stage.items()}
    for d in by_stage["image_encoder"] + by_stage["vae_enc"]:  # reference encode: CLIP + VAE in use, UNet idle
        assert d == {"unet": fp16, "pose_net": fp16, "vae": fp32, "image_encoder": fp32}
    for d in by_stage["unet"] + by_stage["pose_net"]:  # sampling: UNet + PoseNet in use, CLIP and VAE idle
        assert d == {"unet": fp32, "pose_net": fp32, "vae": fp16, "image_encoder": fp16}
    for d in by_stage["vae"]:  # decode: only the VAE in fp32
        assert d == {"unet": fp16, "pose_net": fp16, "vae": fp32, "image_encoder": fp16}
    # The plain load never casts: everything stays fp32.
    assert {_dtype(plain.components.module(n)) for n in NAMES} == {torch.float32}


def test_idle_storage_only_for_half_files_and_fp32_compute(paths, tmp_path):
    # fp16 compute: nothing to cast.
    vm = load_video_model(paths["mimicmotion"], paths["svd_fp16"], torch.float16, idle_storage=True)
    assert vm.components.storage_dtypes == {}
    # An SVD folder with fp32 VAE and CLIP files: casting those to fp16 would not be exact, so only the UNet and
    # PoseNet (from the fp16 MimicMotion file) are stored in fp16; the outputs still equal the plain fp32 load's.
    vm = load_video_model(paths["mimicmotion"], paths["svd_folder"], torch.float32, idle_storage=True)
    assert vm.components.storage_dtypes == {"unet": torch.float16, "pose_net": torch.float16}
    assert _dtype(vm.components.vae) == _dtype(vm.components.image_encoder) == torch.float32
    vm.prepare(["vae"])
    assert [_dtype(vm.components.module(n)) for n in NAMES] == [torch.float16, torch.float16, torch.float32,
                                                                torch.float32]
    plain = load_video_model(paths["mimicmotion"], paths["svd_folder"], torch.float32)
    lat_a, img_a = _pipeline(plain)
    lat_b, img_b = _pipeline(vm)
    assert torch.equal(lat_a, lat_b) and torch.equal(img_a, img_b)
    with pytest.raises(KeyError, match="unknown module groups"):
        vm.components.set_in_use(["clip"])
