"""Region codebook module (issue 12): zero-init exactness, hooks, banks, conditions, identity crops, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models.video.region import (
    RegionAttention,
    RegionCodebook,
    attach_region_codebook,
    encode_identity,
    gram_schmidt,
    load_region_codebook,
    orthogonality_loss,
    read_region_codebook_config,
    reference_crops,
    save_region_codebook,
)
from models.video.region.config import RegionCodebookConfig
from tests.helpers.tiny_codebook import randomize_outputs, tiny_codebook, tiny_codebook_config

B, F, H, W = 2, 3, 8, 8


def _inputs(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return dict(sample=torch.randn(B, F, 8, H, W, generator=g), timestep=torch.tensor(12.0),
                encoder_hidden_states=torch.randn(B, 1, 32, generator=g),
                added_time_ids=torch.tensor([[6.0, 127.0, 0.02]] * B), return_dict=False)


def _run(unet, **kw) -> torch.Tensor:
    with torch.no_grad():
        return unet(**_inputs(), **kw)[0]


def _set_all_conditions(handle, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    handle.clarity = 35.0
    handle.movement = handle.encode_movement(torch.rand(B * F, H * 8, W * 8, generator=g))
    handle.identity = {"face": (torch.randn(1, 1, 32, generator=g), torch.tensor([[True]])),
                       "hands": (torch.randn(1, 2, 32, generator=g), torch.tensor([[True, False]]))}


def test_untrained_codebook_is_exact_noop(comps):
    ref = _run(comps.unet)
    cb = tiny_codebook(comps.unet)
    with torch.no_grad(), attach_region_codebook(comps.unet, cb) as handle:
        _set_all_conditions(handle)
        out = comps.unet(**_inputs())[0]
    assert torch.equal(out, ref)
    # The modules really ran: masks and heatmaps of the call are recorded at each stage's resolution.
    assert set(handle.masks) == {"face", "hands"}
    assert handle.masks["hands"]["up.0"].shape == (B * F, 1, 4, 4)
    assert handle.masks["face"]["up.1"].shape == (B * F, 1, 8, 8)
    assert handle.heatmaps["up.1"].shape == (B * F, 42, 8, 8)
    assert handle.last is not None and (handle.last.batch, handle.last.frames) == (B, F)


@pytest.mark.parametrize("part", ["regions", "clarity", "movement"])
def test_each_trained_part_changes_the_output(comps, part):
    """Each zero-initialised branch, once non-zero, changes the UNet output (so the no-op test can fail)."""
    ref = _run(comps.unet)
    cb = tiny_codebook(comps.unet)
    trained = randomize_outputs(tiny_codebook(comps.unet), seed=3)
    sd = cb.state_dict()
    prefix = {"regions": "regions.", "clarity": "clarity.", "movement": "movement."}[part]
    sd.update({k: v for k, v in trained.state_dict().items() if k.startswith(prefix)})
    cb.load_state_dict(sd)
    with torch.no_grad(), attach_region_codebook(comps.unet, cb) as handle:
        _set_all_conditions(handle)
        out = comps.unet(**_inputs())[0]
    assert (out - ref).abs().max() > 1e-3


def test_unset_conditions_and_zero_strength_are_neutral_for_a_trained_codebook(comps):
    ref = _run(comps.unet)
    cb = tiny_codebook(comps.unet, trained=True)
    with torch.no_grad(), attach_region_codebook(comps.unet, cb, record=False) as handle:
        handle.strength = 0.0  # no clarity, no movement, modules off
        out = comps.unet(**_inputs())[0]
    assert torch.equal(out, ref)
    assert handle.last is None


def test_hooks_are_removed_also_on_error(comps):
    cb = tiny_codebook(comps.unet, trained=True)
    ref = _run(comps.unet)
    with pytest.raises(RuntimeError, match="boom"), attach_region_codebook(comps.unet, cb):
        raise RuntimeError("boom")
    assert torch.equal(_run(comps.unet), ref)
    assert not comps.unet._forward_pre_hooks
    assert not comps.unet.conv_in._forward_hooks and not comps.unet.time_embedding._forward_hooks


def test_region_change_is_confined_by_the_mask():
    """out - x = proj_out(z) * mask: where the predicted mask is ~0 nothing is added."""
    torch.manual_seed(0)
    mod = RegionAttention(32, 16, 2, 4, 3, 8, heatmap_channels=5)
    torch.nn.init.normal_(mod.proj_out.weight)
    x = torch.randn(2 * 4, 32, 6, 6)
    with torch.no_grad():
        mod.mask_head[2].bias.fill_(-30.0)  # mask ~ sigmoid(-30) everywhere
        out, mask, heat = mod(x, frames=4)
        assert mask.max() < 1e-10 and (out - x).abs().max() < 1e-6
        mod.mask_head[2].bias.fill_(30.0)
        out, mask, heat = mod(x, frames=4)
    assert (out - x).abs().max() > 1e-2
    assert heat is not None and heat.shape == (8, 5, 6, 6)


def test_temporal_attention_mixes_frames():
    """Changing frame 2 changes frame 0's output (temporal attention per pixel), but not the other clip's."""
    torch.manual_seed(0)
    mod = RegionAttention(32, 16, 2, 4, 3, 8)
    torch.nn.init.normal_(mod.proj_out.weight)
    x = torch.randn(2 * 3, 32, 4, 4)
    x2 = x.clone()
    x2[2] = torch.randn(32, 4, 4)  # clip 0, frame 2 (a new pattern: GroupNorm removes a mere offset)
    with torch.no_grad():
        a, _, _ = mod(x, frames=3)
        b, _, _ = mod(x2, frames=3)
    assert (a[0] - b[0]).abs().max() > 1e-4
    assert torch.equal(a[3:], b[3:])


def test_gram_schmidt_and_orthogonality_loss():
    g = torch.Generator().manual_seed(0)
    bank = torch.randn(6, 16, generator=g, requires_grad=True)
    q = gram_schmidt(bank)
    assert torch.allclose(q @ q.t(), torch.eye(6), atol=1e-5)
    # row 0 keeps its direction (Gram-Schmidt order)
    assert torch.allclose(q[0], bank[0].detach() / bank[0].detach().norm(), atol=1e-5)
    assert orthogonality_loss(q.detach()) < 1e-10
    loss = orthogonality_loss(bank)
    assert loss > 1e-3
    loss.backward()
    assert bank.grad is not None and bank.grad.abs().sum() > 0


def test_gradients_reach_every_trainable_part(comps):
    cb = tiny_codebook(comps.unet, trained=True).train()
    with attach_region_codebook(comps.unet, cb) as handle:
        _set_all_conditions(handle)
        handle.movement = handle.encode_movement(torch.rand(B * F, H * 8, W * 8))
        out = comps.unet(**_inputs())[0]
        loss = out.square().mean() + sum(m.mean() for d in handle.masks.values() for m in d.values())
        loss = loss + sum(h.square().mean() for h in handle.heatmaps.values()) + cb.orthogonality_loss()
        loss.backward()
    comps.unet.zero_grad(set_to_none=True)
    no_grad = [n for n, p in cb.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    # absent tokens of present crops and the face's unused heatmap head do not exist / get no gradient by design
    assert [n for n in no_grad if "absent" not in n] == []


def test_save_load_roundtrip(tmp_path, comps):
    cb = tiny_codebook(comps.unet, trained=True)
    path = save_region_codebook(cb, tmp_path / "cb")
    assert path.endswith(".safetensors")
    side = json.loads((tmp_path / "cb.json").read_text())
    assert side["stages"] == ["up.0", "up.1"] and side["format"] == "embody.region_codebook"
    assert read_region_codebook_config(path) == cb.config
    loaded = load_region_codebook(path)
    for k, v in cb.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k


def test_config_json_rejects_unknown_settings():
    cfg = RegionCodebookConfig(stages=("up.1",), stage_channels=(64,))
    assert RegionCodebookConfig.from_json(cfg.to_json()) == cfg
    d = cfg.to_dict()
    d["bank_size"] = 3
    with pytest.raises(ValueError, match="bank_size"):
        RegionCodebookConfig.from_dict(d)


def test_channel_mismatch_names_both(tmp_path, comps):
    from diffusers import UNetSpatioTemporalConditionModel

    from tests.helpers.tiny_mimicmotion import tiny_unet_config

    cfg = tiny_unet_config()
    cfg.update(block_out_channels=(64, 128), num_attention_heads=(2, 4))
    other = UNetSpatioTemporalConditionModel(**cfg)
    cb = RegionCodebook(tiny_codebook_config(other))
    with pytest.raises(ValueError) as e, attach_region_codebook(comps.unet, cb, name="hands_v1.safetensors"):
        pass
    msg = str(e.value)
    assert "hands_v1.safetensors" in msg and "[64, 128]" in msg and "[32, 64]" in msg


def test_identity_crops_and_no_hands_fallback(comps):
    kp = np.zeros((133, 3), np.float32)
    # face points around (0.5, 0.3), no hands and no arms
    kp[23:91, 0] = np.linspace(0.4, 0.6, 68)
    kp[23:91, 1] = np.linspace(0.2, 0.4, 68)
    kp[23:91, 2] = 0.9
    ref = torch.rand(1, 3, 64, 64)
    face = reference_crops(ref, kp, "face", 32)
    hands = reference_crops(ref, kp, "hands", 32)
    assert face.present.tolist() == [True] and hands.present.tolist() == [False, False]
    # the face crop shows the face box: its centre pixel is the image's pixel at the box centre
    assert torch.allclose(face.pixels[0, :, 16, 16], ref[0, :, 19:20, 31:33].mean(dim=(1, 2)), atol=0.2)
    desc = encode_identity(comps.image_encoder, ref, kp, ("face", "hands"), comps.image_mean, comps.image_std,
                           comps.image_size, "cpu", torch.float32)
    assert desc["face"][0].shape == (1, 1, 32) and desc["face"][0].abs().sum() > 0
    assert desc["hands"][1].tolist() == [[False, False]] and desc["hands"][0].abs().sum() == 0
    cb = tiny_codebook(comps.unet, trained=True)
    tok = cb.identity["hands"](*desc["hands"])
    assert torch.equal(tok, cb.identity["hands"].get_parameter("absent").reshape(1, 4, 32))
    with torch.no_grad(), attach_region_codebook(comps.unet, cb) as handle:
        handle.identity = desc
        out = comps.unet(**_inputs())[0]
    assert torch.isfinite(out).all()
