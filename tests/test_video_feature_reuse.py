"""Feature reuse across steps (DeepCache) in the video sampler: exact when off, the outer level alone on reuse steps,
and the kept deep features are the ones of the last full step of the same window and pass."""

from __future__ import annotations

import logging

import pytest
import torch

from models.video.feature_reuse import FeatureCache, is_full_step, shallow_forward
from models.video.fusion import FusionSchedule
from models.video.sampler import SamplerSettings, sample_video
from models.video.sigmas import get_sigmas

FUSION = FusionSchedule(4, 2)  # 7 frames -> 3 windows of 4
WINDOWS = 3


class Spy:
    """Counts stock-deep calls (mid block runs) and records what the last up block is fed on every UNet call."""

    def __init__(self, unet: torch.nn.Module) -> None:
        self.calls = 0
        self.mid = 0
        self.fed: list[torch.Tensor] = []
        self.handles = [
            unet.register_forward_pre_hook(lambda *_: self._call()),
            unet.mid_block.register_forward_pre_hook(lambda *_: self._mid()),
            unet.up_blocks[-1].register_forward_pre_hook(self._fed, with_kwargs=True),
        ]

    def _call(self) -> None:
        self.calls += 1

    def _mid(self) -> None:
        self.mid += 1

    def _fed(self, _m, args, kwargs) -> None:
        self.fed.append(kwargs.get("hidden_states", args[0] if args else None).detach().clone())

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def run(comps, frames, steps: int = 4, regions=None, **kw) -> tuple[torch.Tensor, Spy]:
    spy = Spy(comps.unet)
    try:
        settings = SamplerSettings(**{"steps": steps, "seed": 3, "batch_cfg": False, **kw})
        out = sample_video(comps, *frames, fusion=FUSION, settings=settings, regions=regions)
    finally:
        spy.close()
    return out, spy


def test_shallow_forward_on_kept_features_equals_the_stock_unet(comps) -> None:
    """Same inputs, features kept from this very call: the outer level alone must give the stock output, which
    pins the shallow forward to diffusers' UNet maths (a change there turns this red)."""
    g = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 3, 8, 8, 8, generator=g)
    embed = torch.randn(2, 1, comps.unet.config.cross_attention_dim, generator=g)
    time_ids = torch.tensor([[6.0, 127.0, 0.0], [6.0, 127.0, 0.02]])
    t = torch.tensor(0.4)
    cache = FeatureCache(2)
    with torch.no_grad(), cache.capture(comps.unet, "k"):
        stock = comps.unet(sample, t, encoder_hidden_states=embed, added_time_ids=time_ids, return_dict=False)[0]
    with torch.no_grad():
        ours = shallow_forward(comps.unet, cache.entries["k"], sample, t, embed, time_ids)
    assert cache.entries["k"].shape == (6, comps.unet.config.block_out_channels[1], 8, 8)  # level 1, upsampled
    torch.testing.assert_close(ours, stock, rtol=1e-6, atol=1e-6)
    # Other deep features give another output: the kept tensor is really used.
    with torch.no_grad():
        other = shallow_forward(comps.unet, torch.zeros_like(cache.entries["k"]), sample, t, embed, time_ids)
    assert (other - stock).abs().max() > 1e-3


def test_interval_one_is_the_official_sampler(comps, frames) -> None:
    off, spy_off = run(comps, frames)
    one, spy_one = run(comps, frames, feature_reuse_interval=1)
    assert torch.equal(off, one)
    assert spy_off.mid == spy_one.mid == spy_one.calls == 4 * WINDOWS * 2


def test_reuse_steps_run_the_outer_level_on_the_last_full_steps_features(comps, frames, caplog) -> None:
    steps, interval = 5, 2
    with caplog.at_level(logging.INFO, logger="models.video.sampler"):
        out, spy = run(comps, frames, steps=steps, feature_reuse_interval=interval)
    full_steps = [i for i in range(steps) if is_full_step(i, 0, interval)]
    assert full_steps == [0, 2, 4]
    passes = WINDOWS * 2  # uncond + cond per window
    assert spy.calls == steps * passes
    assert spy.mid == len(full_steps) * passes  # the deep part runs on full steps only
    # Call order per step: window 0 uncond, window 0 cond, window 1 uncond, ... Every call of a reuse step feeds the
    # last up block exactly what the same window and pass fed it on the step before (its last full step).
    fed = [spy.fed[s * passes:(s + 1) * passes] for s in range(steps)]
    for s in range(steps):
        if s not in full_steps:
            for k in range(passes):
                assert torch.equal(fed[s][k], fed[s - 1][k])
                assert not torch.equal(fed[s][k], fed[s - 1][(k + 1) % passes])  # keyed per window and pass
    assert any("every 2 steps: 18 full UNet calls, 12 on the outer level only" in r.getMessage()
               for r in caplog.records)
    off, _ = run(comps, frames, steps=steps)
    assert torch.isfinite(out).all() and not torch.equal(out, off)


def test_full_steps_are_bit_identical_to_the_official_run(comps, frames) -> None:
    """With the interval longer than the run only step 0 is full; steps=1 makes it the whole run."""
    off, _ = run(comps, frames, steps=1)
    reuse, spy = run(comps, frames, steps=1, feature_reuse_interval=3)
    assert torch.equal(off, reuse) and spy.mid == spy.calls


def test_a_pass_with_nothing_kept_runs_whole(comps, frames) -> None:
    """Guidance only at low sigma: the uncond pass first appears on a reuse step, where it has nothing kept, so it
    runs the whole UNet (and keeps its features) instead of failing."""
    sig = get_sigmas("karras", 4)
    out, spy = run(comps, frames, steps=4, feature_reuse_interval=2, guidance_sigma_max=float(sig[1]) * 1.01)
    # steps 0..3; cfg on steps 1-3; full steps 0 and 2. Step 0: cond full. Step 1: uncond whole (nothing kept),
    # cond reused. Step 2: both full. Step 3: both reused.
    assert spy.calls == WINDOWS * (1 + 2 + 2 + 2)
    assert spy.mid == WINDOWS * (1 + 1 + 2 + 0)
    assert torch.isfinite(out).all()


def test_batched_cfg_keeps_one_entry_per_window(comps, frames) -> None:
    out, spy = run(comps, frames, steps=3, feature_reuse_interval=3, batch_cfg=True)
    assert spy.calls == 3 * WINDOWS and spy.mid == WINDOWS  # step 0 full; steps 1, 2 reuse
    split, _ = run(comps, frames, steps=3, feature_reuse_interval=3, batch_cfg=False)
    torch.testing.assert_close(out, split, rtol=1e-4, atol=1e-4)


def test_kept_features_go_to_the_cpu_beyond_the_budget() -> None:
    cache = FeatureCache(2, budget_bytes=100)
    if not torch.cuda.is_available():
        cache._store("a", torch.zeros(10))
        assert cache.entries["a"].device.type == "cpu" and cache.device_bytes == 0
        return
    cache._store("a", torch.zeros(20, device="cuda"))  # 80 bytes: kept on the device
    cache._store("b", torch.zeros(20, device="cuda"))  # over the budget: to the CPU
    assert cache.entries["a"].is_cuda and cache.entries["b"].device.type == "cpu" and cache.device_bytes == 80


def test_bad_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="feature_reuse_interval must be >= 1"):
        SamplerSettings(feature_reuse_interval=0).validate()



def test_reuse_with_a_region_codebook(comps, frames) -> None:
    """A trained codebook still acts on reuse steps (its up.3 stage and the movement residual run on the outer
    level), and with masks collected the last step runs whole, so every stage's masks are there."""
    import numpy as np

    from models.video.region import RegionGuide, reference_identity
    from tests.helpers.tiny_codebook import tiny_codebook

    cb = tiny_codebook(comps.unet, trained=True)
    kp = np.zeros((133, 3), np.float32)
    kp[91:112] = [0.3, 0.5, 0.9]
    ident = reference_identity(comps, cb, frames[0], kp, "cpu")
    maps = torch.zeros(7, 64, 64)
    maps[:, 16:48, 12:52] = 1.0
    plain, _ = run(comps, frames, steps=3, feature_reuse_interval=3)
    guide = RegionGuide(cb, ident, hand_clarity=50.0, movement_maps=maps, collect_masks=True)
    with_cb, spy = run(comps, frames, steps=3, regions=guide, feature_reuse_interval=3)
    assert spy.mid == 2 * WINDOWS * 2  # step 0 whole, step 1 reused, step 2 (the last) whole for the masks
    assert (with_cb - plain).abs().max() > 1e-3
    assert guide.masks is not None and guide.masks.shape == (7, 1, 8, 8) and guide.masks.max() > 0
    # Without masks collected, interval 3 over 3 steps reuses steps 1 and 2.
    _, spy = run(comps, frames, steps=3, regions=RegionGuide(cb, ident), feature_reuse_interval=3)
    assert spy.mid == WINDOWS * 2


def test_out_of_memory_in_a_batched_call_falls_back_and_keeps_reusing(comps, frames) -> None:
    """The batched call runs out of memory on step 1 (a reuse step): from then on two calls, whose passes have
    nothing kept, run whole once and are reused after; the batched entries are dropped."""
    state = {"calls": 0}

    def fail_second_batched(_m, args):
        if args[0].shape[0] == 2:
            state["calls"] += 1
            if state["calls"] == WINDOWS + 1:  # window 0 of step 1
                raise torch.OutOfMemoryError("simulated")

    handle = comps.unet.register_forward_pre_hook(fail_second_batched)
    try:
        out, spy = run(comps, frames, steps=4, feature_reuse_interval=2, batch_cfg=True)
    finally:
        handle.remove()
    # step 0: 3 batched whole; step 1: the failed call, then 3 windows x 2 whole calls (nothing kept for single
    # passes); step 2: 6 whole; step 3: 6 reused.
    assert spy.mid == WINDOWS + 2 * WINDOWS + 2 * WINDOWS
    assert spy.calls == WINDOWS + 3 * 2 * WINDOWS  # the failed call raised before the spy's hook counted it
    off, _ = run(comps, frames, steps=4, batch_cfg=False)
    assert torch.isfinite(out).all() and out.shape == off.shape
