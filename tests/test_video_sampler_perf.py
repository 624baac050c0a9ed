"""Issue 10 sampler options: cond/uncond batching chosen by free memory, the guidance interval, 'auto' precision.

Each option is exact when off (or gives the same output either way) and is checked by counting UNet calls with a
forward pre-hook on the public UNet module.
"""

from __future__ import annotations

import logging
import math

import pytest
import torch

from models.video.components import choose_cfg_batching, unet_memory_bytes
from models.video.fusion import FusionSchedule
from models.video.loader import auto_weight_dtype
from models.video.sampler import SamplerSettings, sample_video
from models.video.sigmas import get_sigmas

FUSION = FusionSchedule(4, 2)  # 7 frames -> 3 windows of 4
WINDOWS = 3


def run(comps, frames, **kw) -> tuple[torch.Tensor, list[int]]:
    """Latents and the batch size of every UNet call."""
    batches: list[int] = []
    handle = comps.unet.register_forward_pre_hook(lambda _m, args: batches.append(int(args[0].shape[0])))
    try:
        out = sample_video(comps, *frames, fusion=FUSION, settings=SamplerSettings(**{"steps": 3, "seed": 5, **kw}))
    finally:
        handle.remove()
    return out, batches


def test_batched_and_two_calls_give_the_same_latents(comps, frames) -> None:
    batched, calls_b = run(comps, frames, batch_cfg=True)
    split, calls_s = run(comps, frames, batch_cfg=False)
    assert calls_b == [2] * 3 * WINDOWS and calls_s == [1] * 2 * 3 * WINDOWS
    torch.testing.assert_close(batched, split, rtol=1e-5, atol=1e-5)


def test_free_memory_decides_batching() -> None:
    one = unet_memory_bytes(16, 72, 128, torch.float16)
    # On an accelerator: batched only when twice one call's activations are free.
    assert choose_cfg_batching(2 * one, 16, 72, 128, torch.float16, "cuda").batched
    small = choose_cfg_batching(2 * one - 1, 16, 72, 128, torch.float16, "cuda")
    assert not small.batched and "two UNet calls" in small.reason and "free" in small.reason
    assert not choose_cfg_batching(0, 16, 72, 128, torch.float16, "cuda").batched
    # On a CPU always two calls, with the reason.
    cpu = choose_cfg_batching(1 << 50, 16, 72, 128, torch.float16, "cpu")
    assert not cpu.batched and "CPU" in cpu.reason
    # The estimate scales with the UNet's first block width (the tiny test UNet is 10x narrower than SVD's).
    assert unet_memory_bytes(16, 72, 128, torch.float16, base_channels=32) == pytest.approx(one / 10, rel=1e-6)


def test_sampler_batches_only_when_free_memory_allows(comps, frames, caplog, monkeypatch) -> None:
    import models.video.sampler as sampler

    seen: list[tuple[int, str]] = []
    real = sampler.choose_cfg_batching

    def as_if_on_gpu(free, frames_, lh, lw, dtype, device_type, channels=None):
        seen.append((free, device_type))
        return real(free, frames_, lh, lw, dtype, "cuda", channels)

    monkeypatch.setattr(sampler, "choose_cfg_batching", as_if_on_gpu)
    need = 2 * unet_memory_bytes(4, 8, 8, torch.float32, base_channels=32)
    with caplog.at_level(logging.INFO, logger="models.video.sampler"):
        plenty, calls_p = run(comps, frames, free_memory=need)
        small, calls_s = run(comps, frames, free_memory=need - 1)
    assert seen == [(need, "cpu"), (need - 1, "cpu")]
    assert calls_p == [2] * 3 * WINDOWS  # one batched call per window and step
    assert calls_s == [1] * 2 * 3 * WINDOWS  # small free memory: two calls
    torch.testing.assert_close(plenty, small, rtol=1e-5, atol=1e-5)
    chosen = [r.getMessage() for r in caplog.records if r.getMessage().startswith("cfg:")]
    assert len(chosen) == 2 and "batched" in chosen[0] and "two UNet calls" in chosen[1]  # logged once per run


def test_on_a_cpu_two_calls_are_chosen_and_said(comps, frames, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="models.video.sampler"):
        _, calls = run(comps, frames, free_memory=1 << 50)
    assert calls == [1] * 2 * 3 * WINDOWS
    assert any("two UNet calls on the CPU" in r.getMessage() for r in caplog.records)


def test_guidance_interval_default_is_exact_and_narrower_does_less(comps, frames) -> None:
    base, calls_base = run(comps, frames)  # today's sampler: cfg on every step, batched
    same, _ = run(comps, frames, guidance_sigma_min=0.0, guidance_sigma_max=math.inf)
    assert torch.equal(same, base)
    sigmas = get_sigmas("karras", 3)  # 700, ~2.6, 0.002 (then 0)
    # cfg on the middle step only: the first and last steps run the conditional pass alone.
    mid, calls_mid = run(comps, frames, guidance_sigma_min=float(sigmas[2]) * 2, guidance_sigma_max=100.0)
    assert calls_base == [2] * 3 * WINDOWS
    assert calls_mid == [1] * WINDOWS + [2] * WINDOWS + [1] * WINDOWS
    assert not torch.allclose(mid, base, atol=1e-4)
    # Same in the two-call layout: 3 + 6 + 3 UNet calls instead of 18.
    _, calls_split = run(comps, frames, batch_cfg=False, guidance_sigma_min=float(sigmas[2]) * 2,
                         guidance_sigma_max=100.0)
    assert len(calls_split) == 4 * WINDOWS
    # An interval that holds no step is the conditional pass alone, i.e. cfg 1.
    none, calls_none = run(comps, frames, guidance_sigma_min=1000.0, guidance_sigma_max=1000.0)
    cfg1, _ = run(comps, frames, cfg_min=1.0, cfg_max=1.0)
    assert calls_none == [1] * 3 * WINDOWS
    assert torch.equal(none, cfg1)


def test_guidance_interval_bad_values() -> None:
    with pytest.raises(ValueError, match="guidance_sigma_min"):
        SamplerSettings(guidance_sigma_min=5.0, guidance_sigma_max=1.0).validate()
    with pytest.raises(ValueError, match="guidance_sigma_min"):
        SamplerSettings(guidance_sigma_min=-1.0).validate()


def test_auto_precision_is_fp32_on_a_cpu_and_says_why() -> None:
    for fast in (True, False):
        dtype, why = auto_weight_dtype("cpu", fast)
        assert dtype == torch.float32 and "fp32" in why and "cpu" in why
    dtype, why = auto_weight_dtype(torch.device("cuda", 0), True)
    assert dtype == torch.float16 and "fp16" in why and "cuda:0" in why
    dtype, why = auto_weight_dtype("cuda", False)
    assert dtype == torch.float32 and "fp32" in why and "cuda" in why


def test_loading_frees_each_file_tensor_as_it_is_cast() -> None:
    """consume=True empties the file's state dict while casting (no fp16 file + fp32 model double copy); the loaded
    weights are the same as without it, and the default leaves the caller's dict alone."""
    import weakref

    from models.video.loader import load_strict

    src = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2)).half()
    sd = dict(src.state_dict())
    first = weakref.ref(sd["0.weight"])
    kept = load_strict(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2)).to("meta"), sd,
                       torch.float32, "test")
    assert len(sd) == 4
    consumed = load_strict(torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 2)).to("meta"), sd,
                           torch.float32, "test", consume=True)
    assert sd == {} and first() is None  # the fp16 tensors are gone
    for a, b in zip(kept.state_dict().values(), consumed.state_dict().values(), strict=True):
        assert a.dtype == torch.float32 and torch.equal(a, b)


def test_unmapped_safetensors_read_gives_the_same_tensors(tmp_path) -> None:
    """load_state_dict(mmap=False) (used when the loader casts) reads each tensor into its own memory; same tensors,
    prefixes and a clear error for a cut-off file."""
    from safetensors.torch import save_file

    from models.io.checkpoint import load_state_dict

    tensors = {"a.w": torch.randn(3, 4).half(), "a.n": torch.arange(5), "b": torch.randn(2).bfloat16(),
               "e": torch.zeros(0), "m": torch.tensor([True, False])}
    path = tmp_path / "w.safetensors"
    save_file(tensors, str(path))
    read, mapped = load_state_dict(path, mmap=False), load_state_dict(path)
    assert read.keys() == mapped.keys() == tensors.keys()
    for k, v in tensors.items():
        assert read[k].dtype == v.dtype and torch.equal(read[k], v), k
    assert sorted(load_state_dict(path, prefixes=["a."], mmap=False)) == ["a.n", "a.w"]
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 3)
    with pytest.raises(ValueError, match="cut off"):
        load_state_dict(path, mmap=False)
    # A header length beyond the format's bound (a damaged or hostile file) is refused before anything is read.
    path.write_bytes((2**40).to_bytes(8, "little") + b'{"x": 1}' + bytes(64))
    with pytest.raises(ValueError, match="larger than safetensors allows"):
        load_state_dict(path, mmap=False)


def _in_file_mapping(tensors: dict[str, torch.Tensor], path) -> list[bool]:
    """Per tensor: does its memory lie in a memory mapping of ``path`` (/proc/self/maps, Linux)?"""
    spans = []
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith(str(path)):
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                spans.append((lo, hi))
    return [any(lo <= t.data_ptr() < hi for lo, hi in spans) for t in tensors.values()]


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/maps"), reason="needs Linux /proc/self/maps")
def test_unmapped_reads_hold_no_file_mapping(tmp_path) -> None:
    """mmap=False (the loader's choice when it casts) leaves no tensor inside a mapping of the file, which would stay
    resident until the last tensor is gone; the default still maps (safetensors and .pth)."""
    from safetensors.torch import save_file

    from models.io.checkpoint import load_state_dict

    tensors = {"a": torch.randn(300_000), "b": torch.randn(1000, 100).half()}
    st, pt = tmp_path / "w.safetensors", tmp_path / "w.pth"
    save_file(tensors, str(st))
    torch.save(tensors, pt)
    for path in (st, pt):
        mapped = load_state_dict(path)
        assert all(_in_file_mapping(mapped, path)), path
        del mapped
        assert not any(_in_file_mapping(load_state_dict(path, mmap=False), path)), path


def test_the_loader_reads_unmapped_and_consumes_when_it_casts(tmp_path, monkeypatch) -> None:
    """Loading the fp16 files in fp32 reads them unmapped and empties every file dict it casts; loading in fp16
    (used as stored) maps them. The loaded weights are the same either way."""
    import models.video.loader as loader
    from tests.helpers.tiny_mimicmotion import write_tiny_mimicmotion

    paths = write_tiny_mimicmotion(str(tmp_path))
    calls: list[tuple[str, bool]] = []
    dicts: list[dict] = []
    real = loader.load_state_dict

    def spy(path, *args, **kw):
        calls.append((str(path).rsplit("/", 1)[-1], kw.get("mmap", True)))
        sd = real(path, *args, **kw)
        dicts.append(sd)
        return sd

    monkeypatch.setattr(loader, "load_state_dict", spy)
    full = loader.load_video_components(paths["mimicmotion"], paths["svd_folder"], torch.float32)
    assert [m for _, m in calls] == [False, False, False], calls  # MimicMotion .pth, VAE, CLIP
    # The VAE and CLIP file dicts were emptied while casting (the MimicMotion dict is split into new unet/pose
    # dicts, which are consumed the same way; this spy keeps the original alive, the loader does not).
    assert len(dicts) == 3 and len(dicts[1]) == len(dicts[2]) == 0
    calls.clear()
    half = loader.load_video_components(paths["mimicmotion"], paths["svd_folder"], torch.float16)
    assert [m for _, m in calls] == [True, True, True], calls
    for a, b in zip(full.unet.state_dict().values(), half.unet.state_dict().values(), strict=True):
        assert a.dtype == torch.float32 and torch.equal(a.half(), b)
