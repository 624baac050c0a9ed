"""The optional UNet LoRA of a region codebook (issue 12): the trainer writes ``X.lora.safetensors`` with peft, the
loader reads it beside the codebook, and attaching the codebook applies it through peft for the duration only."""

from __future__ import annotations

import os
import sys

import pytest
import torch

from models.video.region import attach_region_codebook, load_region_codebook
from models.video.region.lora import lora_path_for, read_region_lora
from models.video.region_train.trainer import RegionTrainConfig, train_region_codebook
from tests.helpers.region_synth import synthetic_dataset
from tests.helpers.tiny_mimicmotion import tiny_components

pytest.importorskip("peft")

CODEBOOK = dict(dim=32, heads=4, spatial_tokens=8, temporal_tokens=4, identity_tokens=2, mask_hidden=8,
                clarity=False, movement=False)


def _inputs() -> dict:
    g = torch.Generator().manual_seed(0)
    return dict(sample=torch.randn(1, 3, 8, 8, 8, generator=g), timestep=torch.tensor(0.3),
                encoder_hidden_states=torch.randn(1, 1, 32, generator=g),
                added_time_ids=torch.tensor([[6.0, 127.0, 0.02]]), return_dict=False)


def _run(unet) -> torch.Tensor:
    with torch.no_grad():
        return unet(**_inputs())[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A codebook + LoRA written by the trainer (3 steps, rank 2, a high rate so the LoRA is clearly non-zero)."""
    comps = tiny_components(0)
    data = synthetic_dataset(comps, 1, 3, 64, 0)
    out = str(tmp_path_factory.mktemp("lora") / "cb.safetensors")
    tc = RegionTrainConfig(steps=3, batch_size=1, frames=2, lr=2e-2, warmup=1, checkpoint_every=0, log_every=1,
                           cpu=True, lora_rank=2)
    train_region_codebook(comps, data, out, CODEBOOK, tc)
    return comps, out


def test_loader_reads_and_attach_applies_the_trainers_lora(trained) -> None:
    comps, out = trained
    unet = comps.unet
    keys = set(unet.state_dict())
    base = _run(unet)
    cb = load_region_codebook(out)
    assert cb.lora is not None and cb.lora.rank == 2 and os.path.basename(cb.lora.path) == "cb.lora.safetensors"
    lora = cb.lora
    with attach_region_codebook(unet, cb):
        applied = {n: p for n, p in unet.named_parameters() if "lora_" in n}
        assert set(applied) == set(lora.state)  # every saved tensor lands in a peft layer, nothing else
        assert all(torch.equal(applied[k], v) for k, v in lora.state.items())
        with_lora = _run(unet)
    cb.lora = None  # the same codebook without its LoRA
    with attach_region_codebook(unet, cb):
        without = _run(unet)
    # the LoRA changes the output (beyond float noise) ...
    assert (with_lora - without).abs().max() > 1e-3, float((with_lora - without).abs().max())
    # ... and taking it out restores the UNet exactly: same modules, bit-identical output
    assert set(unet.state_dict()) == keys
    assert torch.equal(_run(unet), base)


def test_removing_the_lora_file_restores_the_codebook_alone(trained, tmp_path) -> None:
    comps, out = trained
    import shutil

    copy = str(tmp_path / "solo.safetensors")
    shutil.copy(out, copy)
    cb_solo = load_region_codebook(copy)  # no solo.lora.safetensors beside it
    assert cb_solo.lora is None
    cb = load_region_codebook(out)
    cb.lora = None
    with attach_region_codebook(comps.unet, cb):
        a = _run(comps.unet)
    with attach_region_codebook(comps.unet, cb_solo):
        b = _run(comps.unet)
    assert torch.equal(a, b)


def test_bad_lora_files_give_clear_errors(trained, tmp_path, monkeypatch) -> None:
    from safetensors.torch import save_file

    _comps, out = trained
    bad = str(tmp_path / "x.safetensors")
    save_file({"w": torch.zeros(2)}, lora_path_for(bad))
    with pytest.raises(ValueError, match="does not hold an Embody region LoRA"):
        read_region_lora(bad)
    save_file({"a.lora_A.embody_region.weight": torch.zeros(2, 2)}, lora_path_for(bad))
    with pytest.raises(ValueError, match="no lora_rank"):
        read_region_lora(bad)
    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(ImportError, match="pip install peft"):
        load_region_codebook(out)


def test_sampler_applies_the_lora_and_is_exact_without_it(trained) -> None:
    """Through sample_video: a codebook with zero outputs but a trained LoRA changes the latents; the same codebook
    without its LoRA leaves them bit-identical to sampling without a codebook, also after the LoRA run."""
    from models.video.fusion import FusionSchedule
    from models.video.region import RegionGuide
    from models.video.sampler import SamplerSettings, sample_video

    comps, out = trained
    g = torch.Generator().manual_seed(0)
    ref, poses = torch.rand(1, 3, 64, 64, generator=g), torch.zeros(5, 3, 64, 64)
    for f in range(5):
        poses[f, :, 20 + 2 * f : 30 + 2 * f, 10:40] = 1.0

    def sample(cb=None) -> torch.Tensor:
        return sample_video(comps, ref, poses, fusion=FusionSchedule(4, 2), settings=SamplerSettings(steps=2, seed=5),
                            regions=None if cb is None else RegionGuide(cb))

    cb = load_region_codebook(out)
    cb.zero_outputs()  # only the LoRA can change anything now
    base = sample()
    with_lora = sample(cb)
    assert (with_lora - base).abs().max() > 1e-3
    cb.lora = None
    assert torch.equal(sample(cb), base)
    assert torch.equal(sample(), base)
