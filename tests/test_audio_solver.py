"""The motion sampler's solvers: DDIM is the default and unchanged, DPM-Solver++(2M) matches diffusers'
DPMSolverMultistepScheduler (the official implementation) on fixed inputs, and bad solver names are refused.

Replacing the second-order correction in models/audio/learned/solver.py by the first-order step turns
test_dpmpp_2m_matches_diffusers red."""

from __future__ import annotations

import pytest
import torch

from models.audio.learned.diffusion import cosine_alpha_bar, sample_long
from models.audio.learned.motion_model import MotionTransformer
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
