"""The motion sampler's solvers: DDIM is the default and unchanged, DPM-Solver++(2M) matches diffusers'
DPMSolverMultistepScheduler (the official implementation) on fixed inputs, and bad solver names are refused.

Replacing the second-order correction in models/audio/learned/solver.py by the first-order step turns
test_dpmpp_2m_matches_diffusers red. The sampler's per-window shortcuts (audio tokens and fused output heads built
once per window, issue 10) must not change a single number: dropping the bias from MotionTransformer.fused_heads
turns test_sampler_shortcuts_change_no_number red."""

from __future__ import annotations

import pytest
import torch

from models.audio.learned.diffusion import X0_CLIP, cosine_alpha_bar, sample_long, window_plan
from models.audio.learned.motion_model import MotionModelConfig, MotionTransformer
from models.audio.learned.solver import solver_step
from tests.helpers.tiny_motion import tiny_config


def _fake_x0(x: torch.Tensor, t: int) -> torch.Tensor:
    """A fixed, non-trivial x0 'network': depends on x and t, so the solvers' histories differ."""
    return torch.tanh(0.7 * x + 0.001 * t) + 0.1 * torch.sin(3 * x)


def test_dpmpp_2m_matches_diffusers() -> None:
    from diffusers import DPMSolverMultistepScheduler

    timesteps = torch.linspace(999, 0, 6).round().long().tolist()
    sched = DPMSolverMultistepScheduler(
        num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", prediction_type="sample",
        algorithm_type="dpmsolver++", solver_order=2, solver_type="midpoint", lower_order_final=False,
        thresholding=False,
    )
    sched.set_timesteps(timesteps=timesteps)
    alpha_bar = cosine_alpha_bar(1000).float()
    assert torch.allclose(alpha_bar, sched.alphas_cumprod, rtol=1e-5, atol=1e-7)  # same schedule

    x_ref = torch.randn(2, 7, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64).float()
    x_ours = x_ref.clone()
    prev = None
    for i, t in enumerate(timesteps[:-1]):  # all but the last step (ours returns x0 at t = 0)
        x_ref = sched.step(_fake_x0(x_ref, t), t, x_ref).prev_sample
        x0 = _fake_x0(x_ours, t)
        x_ours = solver_step("dpmpp_2m", x_ours, x0, alpha_bar[t], alpha_bar[timesteps[i + 1]], prev)
        prev = (x0, alpha_bar[t])
        torch.testing.assert_close(x_ours, x_ref, rtol=1e-4, atol=1e-5)
    # The second-order steps are not DDIM (otherwise this test would not test the 2M correction).
    x_ddim = torch.randn(2, 7, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64).float()
    for i, t in enumerate(timesteps[:-1]):
        x_ddim = solver_step("ddim", x_ddim, _fake_x0(x_ddim, t), alpha_bar[t], alpha_bar[timesteps[i + 1]], None)
    assert (x_ddim - x_ours).abs().max() > 1e-3


def test_first_step_and_ddim_agree_and_default_is_ddim() -> None:
    torch.manual_seed(0)
    model = MotionTransformer(tiny_config()).eval()
    feats = torch.randn(40, model.config.feature_dim)
    default = sample_long(model, feats, steps=3, cfg_scale=2.0, seed=3)
    assert torch.equal(default, sample_long(model, feats, steps=3, cfg_scale=2.0, seed=3, solver="ddim"))
    # One or two steps: DPM-Solver++(2M) has no history before its second update, so it is DDIM exactly.
    for steps in (1, 2):
        a = sample_long(model, feats, steps=steps, seed=3, solver="ddim")
        assert torch.equal(a, sample_long(model, feats, steps=steps, seed=3, solver="dpmpp_2m"))
    assert not torch.equal(default, sample_long(model, feats, steps=3, cfg_scale=2.0, seed=3, solver="dpmpp_2m"))


def test_unknown_solver_is_refused() -> None:
    model = MotionTransformer(tiny_config()).eval()
    with pytest.raises(ValueError, match="solver must be one of ddim, dpmpp_2m"):
        sample_long(model, torch.zeros(10, model.config.feature_dim), steps=2, solver="euler")


@torch.no_grad()
def _plain_ddim(model: MotionTransformer, audio: torch.Tensor, steps: int, cfg: float, seed: int) -> torch.Tensor:
    """The sampler as it was before the shortcuts: every pass recomputes the audio tokens (also for the
    unconditional half) and scatters the three part heads. DDIM, temporal outpainting with the model's windows."""
    c = model.config
    alpha_bar = cosine_alpha_bar(c.train_steps).float()
    gen = torch.Generator().manual_seed(seed)
    out = audio.new_zeros(len(audio), c.motion_dim)
    for start, end, k in window_plan(len(audio), c.window, c.overlap):
        a = audio[None, start:end]
        frames = end - start
        x = torch.randn((1, frames, c.motion_dim), generator=gen)
        known = torch.zeros(1, frames, dtype=torch.bool)
        known[:, :k] = True
        clean = torch.zeros_like(x)
        clean[:, :k] = out[start : start + k]
        ts = torch.linspace(c.train_steps - 1, 0, steps).round().long().tolist()
        for i, t in enumerate(ts):
            x_in = torch.where(known[..., None], clean, x)
            both = model(torch.cat([x_in, x_in]), torch.full((2,), t), torch.cat([a, a]),
                         torch.tensor([True, False]), torch.cat([known, known]))
            x0 = (both[1:] + cfg * (both[:1] - both[1:])).clamp(-X0_CLIP, X0_CLIP)
            x0 = torch.where(known[..., None], clean, x0)
            if i == len(ts) - 1:
                break
            ab_t, ab_n = alpha_bar[t], alpha_bar[ts[i + 1]]
            eps = (x - ab_t.sqrt() * x0) / (1 - ab_t).clamp(min=1e-8).sqrt()
            x = ab_n.sqrt() * x0 + (1 - ab_n).clamp(min=1e-8).sqrt() * eps
        out[start:end] = x0[0]
    return out


def test_sampler_shortcuts_change_no_number() -> None:
    """Default settings stay bit-for-bit what they were: the shipped model size, 3 windows of outpainting."""
    torch.manual_seed(0)
    model = MotionTransformer(MotionModelConfig(dropout=0.0)).eval()
    with torch.no_grad():  # a non-zero bias in every head, so a dropped or misplaced bias shows
        for head in model.heads.values():
            head.bias.normal_()
    audio = torch.randn(110, model.config.feature_dim, generator=torch.Generator().manual_seed(1))
    ours = sample_long(model, audio, steps=4, cfg_scale=2.0, seed=7)
    assert torch.equal(ours, _plain_ddim(model, audio, steps=4, cfg=2.0, seed=7))
