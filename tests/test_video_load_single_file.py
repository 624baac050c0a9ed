"""SVD single-file checkpoints (SGM VAE + OpenCLIP image encoder) -> diffusers / transformers modules."""

from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import load_file, save_file

from models.io.checkpoint import strip_prefix
from models.video.loader import load_strict, load_video_model
from models.video.svd_single_file import convert_sgm_vae
from tests.helpers.tiny_mimicmotion import tiny_components, write_tiny_mimicmotion

torch.set_num_threads(1)
REFERENCE = os.path.join(os.path.dirname(__file__), "data", "sgm_video_vae_reference.safetensors")


def test_sgm_video_vae_matches_reference_implementation():
    """Fixture made by running ComfyUI's SGM Encoder + VideoDecoder (comfy/ldm) on random fp16 weights."""
    from diffusers import AutoencoderKLTemporalDecoder

    ref = load_file(REFERENCE)
    tensors = strip_prefix(ref, "first_stage_model.")
    config, weights = convert_sgm_vae(tensors)
    assert config["layers_per_block"] == 2 and config["block_out_channels"] == [32, 32, 32, 32]
    with torch.device("meta"):
        vae = AutoencoderKLTemporalDecoder.from_config(config)
    vae = load_strict(vae, weights, torch.float32, "reference VAE")
    with torch.no_grad():
        decoded = vae.decode(ref["test.z"], num_frames=ref["test.z"].shape[0]).sample
        moments = vae.quant_conv(vae.encoder(ref["test.x"]))
    torch.testing.assert_close(decoded, ref["test.decoded"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(moments, ref["test.moments"], atol=1e-4, rtol=1e-4)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("models"))
    return write_tiny_mimicmotion(root), tiny_components(seed=0)


def test_single_file_loads_like_the_folder(tiny):
    paths, ref = tiny
    vm = load_video_model(paths["mimicmotion"], paths["svd_single_file"], torch.float32)
    c = vm.components
    assert c.image_size == 64 and c.image_encoder.config.num_attention_heads == 4
    for name in ("vae", "image_encoder"):
        a, b = ref.module(name).state_dict(), c.module(name).state_dict()
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k], atol=1e-3, rtol=0, msg=k)  # file is fp16
    img = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(c.image_encoder(pixel_values=img).image_embeds,
                                   ref.image_encoder(pixel_values=img).image_embeds, atol=2e-3, rtol=1e-2)
    assert c.scheduler_config["use_karras_sigmas"] is True


def test_single_file_of_another_family_is_named(tiny, tmp_path):
    paths, _ = tiny
    sdxl = str(tmp_path / "sd_xl_base_1.0.safetensors")
    save_file({"conditioner.embedders.1.model.ln_final.weight": torch.zeros(2),
               "model.diffusion_model.input_blocks.0.0.weight": torch.zeros(2),
               "model.diffusion_model.label_emb.0.0.weight": torch.zeros(2)}, sdxl)
    with pytest.raises(ValueError, match="sd_xl_base_1.0.safetensors.*an SDXL checkpoint, not a Stable Video"):
        load_video_model(paths["mimicmotion"], sdxl)
    # the SVD file is not a MimicMotion file either
    with pytest.raises(ValueError, match="Stable Video Diffusion single-file checkpoint, not a MimicMotion"):
        load_video_model(paths["svd_single_file"], paths["svd_folder"])
