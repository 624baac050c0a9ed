"""Region codebook trainer loop on the tiny UNet: interruption keeps a checkpoint and a resumed run continues, the
video model stays frozen and unchanged, the conditions and region modules receive gradients, bf16 + gradient
checkpointing + accumulation run, and a LoRA (peft) trains and is removed from the shared UNet afterwards."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import torch

from models.io.train_state import side_paths
from models.video.region import load_region_codebook
from models.video.region_train.trainer import RegionTrainConfig, train_region_codebook
from tests.helpers.region_synth import synthetic_dataset
from tests.helpers.tiny_mimicmotion import tiny_components

CODEBOOK = dict(dim=32, heads=4, spatial_tokens=8, temporal_tokens=4, identity_tokens=2, mask_hidden=8)


@pytest.fixture(scope="module")
def setup():
    comps = tiny_components(0)
    return comps, synthetic_dataset(comps, 1, 3, 64, 0)


def _config(**kw) -> RegionTrainConfig:
    base = dict(steps=3, batch_size=1, frames=2, lr=1e-3, warmup=1, checkpoint_every=0, log_every=1, cpu=True)
    base.update(kw)
    return RegionTrainConfig(**base)


class Stop(Exception):
    pass


def test_interrupt_checkpoints_and_resume_continues(setup, tmp_path) -> None:
    comps, data = setup
    out = str(tmp_path / "cb.safetensors")
    calls = {"n": 0}

    def interrupt() -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # before the third step
            raise Stop

    with pytest.raises(Stop):
        train_region_codebook(comps, data, out, CODEBOOK, _config(steps=4), check_interrupt=interrupt)
    paths = side_paths(out)
    assert os.path.isfile(paths["state"]) and not os.path.isfile(out)
    with open(paths["log"]) as f:
        assert [e["step"] for e in json.load(f)["losses"]] == [1, 2]
    from safetensors import safe_open

    with safe_open(paths["state"], framework="pt") as f:
        assert f.metadata()["step"] == "2"
        saved = f.get_tensor("model.codebook.regions.face.up_1.proj_out.weight")
    assert saved.abs().sum() > 0  # two steps moved the zero-initialised output

    result = train_region_codebook(comps, data, out, CODEBOOK, _config(steps=4))
    assert [e["step"] for e in result.losses] == [1, 2, 3, 4]
    assert os.path.isfile(out) and result.report_png and os.path.isfile(result.report_png)
    loaded = load_region_codebook(out)
    for k, v in result.codebook.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v.cpu())
    # A different codebook config cannot resume from this state.
    with pytest.raises(ValueError, match="another codebook config"):
        train_region_codebook(comps, data, out, {**CODEBOOK, "spatial_tokens": 4}, _config(steps=5))


def test_video_model_frozen_conditions_trained(setup, tmp_path) -> None:
    comps, data = setup
    before = {n: {k: v.clone() for k, v in comps.module(n).state_dict().items()}
              for n in ("unet", "pose_net", "vae", "image_encoder")}
    flags = {n: [p.requires_grad for p in comps.module(n).parameters()] for n in before}
    result = train_region_codebook(comps, data, str(tmp_path / "cb.safetensors"), CODEBOOK, _config(steps=3))
    for n, sd in before.items():
        for k, v in comps.module(n).state_dict().items():
            assert torch.equal(v, sd[k]), f"{n}.{k} changed"
        assert [p.requires_grad for p in comps.module(n).parameters()] == flags[n]
    cb = result.codebook
    assert cb.clarity is not None and cb.movement is not None
    assert cb.clarity.fc2.weight.abs().sum() > 0, "the clarity projection got no gradient"
    assert cb.movement.final_proj.weight.abs().sum() > 0, "the movement-map encoder got no gradient"
    for region in ("face", "hands"):
        assert cb.module_for(region, "up.1").proj_out.weight.abs().sum() > 0
    assert np.isfinite([e["loss"] for e in result.losses]).all()
    assert {"diffusion", "mask", "orthogonality", "diff_in", "diff_out"} <= set(result.losses[-1])


def test_bf16_checkpointing_accumulation(setup, tmp_path) -> None:
    comps, data = setup
    result = train_region_codebook(comps, data, str(tmp_path / "cb.safetensors"), CODEBOOK,
                                   _config(steps=1, bf16=True, gradient_checkpointing=True, grad_accum=2))
    assert np.isfinite(result.losses[-1]["loss"])
    assert not comps.unet.is_gradient_checkpointing  # switched back off for sampling


def test_lora_through_peft(setup, tmp_path, monkeypatch) -> None:
    pytest.importorskip("peft")
    comps, data = setup
    keys = set(comps.unet.state_dict())
    out = str(tmp_path / "cb.safetensors")
    train_region_codebook(comps, data, out, CODEBOOK, _config(steps=2, lora_rank=2))
    assert set(comps.unet.state_dict()) == keys, "the LoRA layers were left in the shared UNet"
    from safetensors.torch import load_file

    lora = load_file(str(tmp_path / "cb.lora.safetensors"))
    assert lora and all("lora_" in k for k in lora)
    assert any(k.endswith("lora_B.embody_region.weight") and v.abs().sum() > 0 for k, v in lora.items())
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(ImportError, match="pip install peft"):
        train_region_codebook(comps, data, str(tmp_path / "b.safetensors"), CODEBOOK, _config(steps=1, lora_rank=2))


def test_trainer_records_the_high_clarity_the_sampler_uses(setup, tmp_path) -> None:
    """The saved config carries the 90th percentile of the training frames' hand clarity (frames without a scored
    hand ignored), and the sampler's hand_clarity = -1 resolves to it."""
    import dataclasses

    from models.video.region import read_region_codebook_config, resolve_clarity
    from models.video.region_train.data import RegionDataset

    comps, data = setup
    rng = np.random.default_rng(3)
    clips = []
    for c in data.clips:
        clarity = rng.uniform(5.0, 80.0, len(c.clarity)).astype(np.float32)
        clarity[0] = np.nan  # no visible hand in that frame
        clips.append(dataclasses.replace(c, clarity=clarity))
    scored = np.concatenate([c.clarity[np.isfinite(c.clarity)] for c in clips])
    expected = float(np.percentile(scored, 90))
    out = str(tmp_path / "cb.safetensors")
    train_region_codebook(comps, RegionDataset(clips, data.size), out, CODEBOOK, _config(steps=1))
    assert read_region_codebook_config(out).clarity_high == pytest.approx(expected)
    cb = load_region_codebook(out)
    assert resolve_clarity(cb, -1.0) == pytest.approx(expected) and expected > float(np.median(scored))
