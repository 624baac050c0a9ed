"""DPM-Solver++(2M) for the video sampler: the same update as diffusers' EDM DPM-Solver, second order on an ODE whose
solution is known in closed form, and wired through the sampler (exact default, bad names refused)."""

from __future__ import annotations

import math

import pytest
import torch

from models.video.fusion import FusionSchedule
from models.video.loader import SVD_SCHEDULER_CONFIG
from models.video.sampler import SamplerSettings, sample_video
from models.video.scheduler_edm import EDMDPMSolver2MScheduler, EDMEulerScheduler, make_scheduler


@pytest.mark.parametrize("steps", [4, 12])
def test_steps_match_diffusers_edm_dpmsolver(steps: int) -> None:
    """diffusers' EDMDPMSolverMultistepScheduler with sigma_data 1 preconditions exactly like SVD (c_in, c_skip,
    c_out, c_noise = 0.25 ln sigma), so on the same v outputs both must walk the same path."""
    from diffusers import EDMDPMSolverMultistepScheduler

    ref = EDMDPMSolverMultistepScheduler(sigma_min=0.002, sigma_max=700.0, sigma_data=1.0, sigma_schedule="karras",
                                         prediction_type="v_prediction", solver_order=2, algorithm_type="dpmsolver++",
                                         solver_type="midpoint", lower_order_final=False, final_sigmas_type="zero")
    ref.set_timesteps(steps)
    ours = make_scheduler("dpmpp_2m", SVD_SCHEDULER_CONFIG)
    assert isinstance(ours, EDMDPMSolver2MScheduler)
    torch.testing.assert_close(ours.set_timesteps(steps), ref.sigmas.float(), rtol=1e-5, atol=1e-6)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 8, 8, generator=g, dtype=torch.float64) * float(ref.init_noise_sigma)
    mine = x.float().clone()
    for i, t in enumerate(ref.timesteps):
        assert torch.allclose(ours.timestep(i), t.float(), atol=1e-6)
        torch.testing.assert_close(ours.scale_model_input(mine, i), ref.scale_model_input(x, t).float(),
                                   rtol=1e-5, atol=1e-5)
        v = torch.randn(x.shape, generator=g, dtype=torch.float64)
        x = ref.step(v, t, x).prev_sample
        ours.step(v.float(), i, mine)
        torch.testing.assert_close(mine, x.float(), rtol=1e-4, atol=1e-4)


def _gaussian_ode(scheduler: EDMEulerScheduler, steps: int, s: float = 0.5) -> float:
    """Sample data ~ N(0, s^2) with its exact v-prediction model; return the error against the exact ODE end.

    For Gaussian data the ideal denoiser is D(x, sigma) = x s^2 / (s^2 + sigma^2), and the probability-flow ODE
    dx/dsigma = (x - D) / sigma = x sigma / (s^2 + sigma^2) gives x(0) = x(sigma_max) s / sqrt(s^2 + sigma_max^2)."""
    sigmas = scheduler.set_timesteps(steps).double()
    scheduler.sigmas = sigmas
    x_start = torch.linspace(-3, 3, 101, dtype=torch.float64) * float(scheduler.init_noise_sigma)
    x = x_start.clone()
    for i in range(steps):
        sig = sigmas[i]
        x0 = x * s**2 / (s**2 + sig**2)
        # The v the model would output for this x0: x0 = x / (sig^2 + 1) - v sig / sqrt(sig^2 + 1).
        v = (x / (sig**2 + 1) - x0) * (sig**2 + 1) ** 0.5 / sig
        scheduler.step(v, i, x)
    exact = x_start * s / math.sqrt(s**2 + float(sigmas[0]) ** 2)
    return float((x - exact).abs().max() / exact.abs().max())


def test_second_order_beats_euler_on_an_ode_with_a_known_solution() -> None:
    ns = (20, 25, 40, 80)
    for data_std in (0.5, 1.0):
        euler = {n: _gaussian_ode(EDMEulerScheduler(), n, data_std) for n in ns}
        dpm = {n: _gaussian_ode(EDMDPMSolver2MScheduler(), n, data_std) for n in ns}
        for n in ns:
            assert dpm[n] < euler[n] / 1.8, (data_std, n, dpm[n], euler[n])
        # Order: doubling the steps halves Euler's error (first order) and quarters 2M's (second order).
        assert 1.7 < euler[40] / euler[80] < 2.3
        assert dpm[40] / dpm[80] > 3.5
        # Fewer steps for the same error: 2M at 16 steps is closer than Euler at 25 (MimicMotion's default).
        assert _gaussian_ode(EDMDPMSolver2MScheduler(), 16, data_std) < euler[25]


def test_sampler_solver_choice(comps, frames) -> None:
    fusion = FusionSchedule(4, 2)
    base = sample_video(comps, *frames, fusion=fusion, settings=SamplerSettings(steps=3, seed=2))
    euler = sample_video(comps, *frames, fusion=fusion, settings=SamplerSettings(steps=3, seed=2, solver="euler"))
    assert torch.equal(base, euler)
    dpm = sample_video(comps, *frames, fusion=fusion, settings=SamplerSettings(steps=3, seed=2, solver="dpmpp_2m"))
    assert torch.isfinite(dpm).all() and not torch.allclose(dpm, base, atol=1e-4)
    # One step: both land on x0 at sigma 0 (Euler through x + (x - x0) / 700 * -700, so up to its rounding).
    one = [sample_video(comps, *frames, fusion=fusion, settings=SamplerSettings(steps=1, seed=2, solver=s))
           for s in ("euler", "dpmpp_2m")]
    torch.testing.assert_close(one[0], one[1], rtol=0, atol=5e-4)
    with pytest.raises(ValueError, match="Unknown solver 'heun'"):
        SamplerSettings(solver="heun").validate()
