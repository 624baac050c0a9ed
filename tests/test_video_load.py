"""Loading MimicMotion + SVD base in the official layouts (tiny models), config inference, and clear errors."""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict

import pytest
import torch
from safetensors.torch import save_file

from models.io.checkpoint import load_state_dict, sniff_family
from models.video.config_infer import SVD_UNET_CONFIG, infer_unet_config
from models.video.loader import detect_version, load_video_components, load_video_model
from tests.helpers.tiny_mimicmotion import (
    mimicmotion_state_dict,
    tiny_components,
    tiny_unet_config,
    write_tiny_mimicmotion,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("models"))
    paths = write_tiny_mimicmotion(root)
    return root, paths, tiny_components(seed=0)


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module, atol: float) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k].float(), sb[k].float(), atol=atol, rtol=0, msg=k)


def test_infer_official_config_from_meta_shapes():
    from diffusers import UNetSpatioTemporalConditionModel

    with torch.device("meta"):
        unet = UNetSpatioTemporalConditionModel(**SVD_UNET_CONFIG)
    shapes = {k: v.shape for k, v in unet.state_dict().items()}  # plain shapes are enough
    assert infer_unet_config(shapes) == SVD_UNET_CONFIG
    assert infer_unet_config(shapes)["num_frames"] == 25


def test_infer_tiny_config_from_weights(tiny):
    _, _, comps = tiny
    assert infer_unet_config(comps.unet.state_dict()) == tiny_unet_config()


def test_infer_rejects_non_svd_unet():
    with pytest.raises(ValueError, match="not a spatio-temporal"):
        infer_unet_config({"conv_in.weight": (320, 4, 3, 3)}, name="x.pth")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_official_pth_and_folder_load_exactly(tiny, dtype):
    _, paths, ref = tiny
    vm = load_video_model(paths["mimicmotion"], paths["svd_folder"], dtype)
    c = vm.components
    assert c.dtype == dtype and c.version == "1.1" and vm.version == "1.1"
    for name in ("unet", "pose_net", "vae", "image_encoder"):
        mod = c.module(name)
        assert all(p.dtype == dtype for p in mod.parameters()), name
        assert not mod.training
    # UNet/PoseNet went through fp16 in the file; VAE/CLIP are exact up to the requested dtype
    tol = {torch.float32: 1e-3, torch.float16: 1e-3, torch.bfloat16: 2e-2}[dtype]
    _assert_same_weights(ref.unet, c.unet, tol)
    _assert_same_weights(ref.pose_net, c.pose_net, tol)
    _assert_same_weights(ref.vae, c.vae, tol)
    _assert_same_weights(ref.image_encoder, c.image_encoder, tol)
    assert c.image_size == 64 and c.image_mean == ref.image_mean
    assert c.scheduler_config["prediction_type"] == "v_prediction" and c.scheduler_config["sigma_max"] == 700.0
    pos = c.image_encoder.vision_model.embeddings.position_ids
    assert pos.device.type == "cpu" and pos[0, -1].item() == pos.shape[1] - 1


def test_loaded_model_runs_like_the_original(tiny):
    _, paths, ref = tiny
    c = load_video_components(paths["mimicmotion"], paths["svd_folder"], torch.float32)
    torch.manual_seed(0)
    img = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        a = c.image_encoder(pixel_values=img).image_embeds
        b = ref.image_encoder(pixel_values=img).image_embeds
        torch.testing.assert_close(a, b)
        pose = torch.rand(2, 3, 64, 64) * 2 - 1
        torch.testing.assert_close(c.pose_net(pose), ref.pose_net(pose), atol=2e-3, rtol=2e-2)


@pytest.mark.parametrize("prefixed", [True, False])
def test_safetensors_conversions_and_unet_only_files(tiny, tmp_path, prefixed):
    _, paths, ref = tiny
    sd = mimicmotion_state_dict(ref)
    if prefixed:
        path = str(tmp_path / "MimicMotion_1-0.safetensors")
        save_file(dict(sd), path)
        vm = load_video_model(path, paths["svd_folder"], torch.float32)
        assert vm.version == "1.0"
        _assert_same_weights(ref.unet, vm.components.unet, 1e-3)
        return
    # kijai-style: a UNet-only file without prefixes + a separate PoseNet file
    unet_path = str(tmp_path / "MimicMotionMergedUnet_1-1-fp16.safetensors")
    pose_path = str(tmp_path / "pose.safetensors")
    save_file({k[5:]: v for k, v in sd.items() if k.startswith("unet.")}, unet_path)
    save_file({k[9:]: v for k, v in sd.items() if k.startswith("pose_net.")}, pose_path)
    with pytest.raises(ValueError, match="holds only a UNet"):
        load_video_model(unet_path, paths["svd_folder"], torch.float32)
    vm = load_video_model(unet_path, paths["svd_folder"], torch.float32, pose_net_path=pose_path)
    _assert_same_weights(ref.pose_net, vm.components.pose_net, 1e-3)
    assert vm.files["pose_net"] == pose_path
    with pytest.raises(ValueError, match="not a MimicMotion PoseNet"):
        load_video_model(unet_path, paths["svd_folder"], torch.float32, pose_net_path=unet_path)


def test_missing_and_unexpected_keys_are_named(tiny, tmp_path):
    _, paths, ref = tiny
    sd = mimicmotion_state_dict(ref)
    dropped = "unet.down_blocks.0.resnets.0.spatial_res_block.conv2.bias"
    del sd[dropped]
    sd["unet.extra.weight"] = torch.zeros(2)
    path = str(tmp_path / "broken.pth")
    torch.save(sd, path)
    with pytest.raises(ValueError, match="1 missing") as err:
        load_video_model(path, paths["svd_folder"], torch.float32)
    assert dropped[5:] in str(err.value) and "extra.weight" in str(err.value) and "broken.pth" in str(err.value)


def test_wrong_shapes_are_reported(tiny, tmp_path):
    _, paths, ref = tiny
    sd = mimicmotion_state_dict(ref)
    sd["pose_net.conv_layers.2.weight"] = torch.zeros(16, 16, 5, 5, dtype=torch.float16)
    path = str(tmp_path / "shapes.pth")
    torch.save(sd, path)
    with pytest.raises(ValueError, match="wrong shape.*conv_layers.2.weight"):
        load_video_model(path, paths["svd_folder"], torch.float32)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_wrong_family_truncated_and_non_state_dict_files(tiny, tmp_path):
    _, paths, _ = tiny
    sd15 = {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(2),
            "cond_stage_model.transformer.text_model.embeddings.position_ids": torch.zeros(2)}
    sd15_path = str(tmp_path / "v1-5.safetensors")
    save_file(sd15, sd15_path)
    with pytest.raises(ValueError, match="Stable Diffusion 1.x checkpoint, not a MimicMotion"):
        load_video_model(sd15_path, paths["svd_folder"])

    with open(paths["mimicmotion"], "rb") as f:
        head = f.read(4000)
    cut = str(tmp_path / "cut.pth")
    with open(cut, "wb") as f:
        f.write(head)
    with pytest.raises(ValueError, match="cut.pth.*truncated"):
        load_state_dict(cut)
    cut_st = str(tmp_path / "cut.safetensors")
    with open(sd15_path, "rb") as f:
        data = f.read()
    with open(cut_st, "wb") as f:
        f.write(data[: len(data) - 8])
    with pytest.raises(ValueError, match="cut.safetensors.*truncated"):
        load_state_dict(cut_st)

    listed = str(tmp_path / "list.pth")
    torch.save([torch.zeros(2)], listed)
    with pytest.raises(ValueError, match="holds list, not a state dict"):
        load_state_dict(listed)
    evil = str(tmp_path / "evil.pth")
    with open(evil, "wb") as f:
        pickle.dump({"x": OrderedDict, "w": os.getcwd}, f)
    with pytest.raises(ValueError, match="Python objects other than tensors"):
        load_state_dict(evil)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_state_dict(str(tmp_path / "nope.pth"))
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_state_dict(str(empty))


def test_svd_folder_errors(tiny, tmp_path):
    _, paths, _ = tiny
    with pytest.raises(FileNotFoundError, match="no vae/ or image_encoder/"):
        load_video_model(paths["mimicmotion"], str(tmp_path))


def test_lightning_wrapper_is_unwrapped(tmp_path):
    path = str(tmp_path / "wrapped.ckpt")
    torch.save({"state_dict": {"a.weight": torch.ones(2)}, "epoch": 3}, path)
    assert list(load_state_dict(path)) == ["a.weight"]


def test_family_sniffing():
    assert sniff_family(["unet.conv_in.weight", "pose_net.scale"]) == "mimicmotion"
    assert sniff_family(["conditioner.embedders.1.model.ln_final.weight",
                         "model.diffusion_model.input_blocks.0.0.weight"]) == "sdxl"
    assert sniff_family(["double_blocks.0.img_attn.qkv.weight"]) == "flux"
    svd = ["model.diffusion_model.input_blocks.1.0.time_stack.in_layers.0.weight",
           "model.diffusion_model.input_blocks.1.0.time_mixer.mix_factor", "conditioner.embedders.0.open_clip.x"]
    assert sniff_family(svd) == "svd"
    assert sniff_family(["foo"]) == "unknown"


@pytest.mark.parametrize(
    ("name", "version"),
    [("MimicMotion_1-1.pth", "1.1"), ("MimicMotion_1.pth", "1.0"),
     ("MimicMotionMergedUnet_1-0-fp16.safetensors", "1.0"), ("mm_v1.1.safetensors", "1.1"), ("whatever.pth", "1.1")],
)
def test_detect_version(name, version):
    assert detect_version(name) == version
