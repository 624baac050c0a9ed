"""The EDM Euler solver the sampler calls: matches diffusers' EulerDiscreteScheduler with SVD's config, and the
loaded scheduler config drives it."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from models.video.fusion import FusionSchedule
from models.video.loader import SVD_SCHEDULER_CONFIG
from models.video.sampler import SamplerSettings, sample_video
from models.video.scheduler_edm import EDMEulerScheduler


def _diffusers_svd_scheduler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler.from_config(SVD_SCHEDULER_CONFIG)


@pytest.mark.parametrize("steps", [3, 25])
def test_steps_match_diffusers_euler_for_svd(steps: int) -> None:
    ref = _diffusers_svd_scheduler()
    ref.set_timesteps(steps)
    ours = EDMEulerScheduler.from_config(SVD_SCHEDULER_CONFIG)
    assert torch.equal(ours.set_timesteps(steps), ref.sigmas.float())
    assert float(ours.init_noise_sigma) == pytest.approx(float(ref.init_noise_sigma), rel=1e-6)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 8, 8, generator=g) * float(ref.init_noise_sigma)
    mine = x.clone()
    for i, t in enumerate(ref.timesteps):
        assert torch.allclose(ours.timestep(i), t.float())
        scaled = ref.scale_model_input(x, t)
        assert torch.allclose(ours.scale_model_input(mine, i), scaled, rtol=1e-6, atol=1e-6)
        v = torch.randn(x.shape, generator=g)
        out = ref.step(v, t, x)
        x0 = ours.step(v.clone(), i, mine)
        torch.testing.assert_close(x0, out.pred_original_sample, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(mine, out.prev_sample, rtol=1e-5, atol=1e-4)
        x = out.prev_sample


def test_the_loaded_config_drives_the_solver(comps) -> None:
    narrow = EDMEulerScheduler.from_config({**SVD_SCHEDULER_CONFIG, "sigma_max": 80.0, "sigma_min": 0.01})
    sig = narrow.set_timesteps(4)
    assert float(sig[0]) == pytest.approx(80.0) and float(sig[-2]) == pytest.approx(0.01, rel=1e-5)
    with pytest.raises(ValueError, match="v_prediction"):
        EDMEulerScheduler.from_config({**SVD_SCHEDULER_CONFIG, "prediction_type": "epsilon"})
    # Through the sampler: a video model whose scheduler/ folder says another sigma range samples differently.
    g = torch.Generator().manual_seed(0)
    ref, poses = torch.rand(1, 3, 64, 64, generator=g), torch.rand(3, 3, 64, 64, generator=g)
    settings = SamplerSettings(steps=2, seed=1)
    base = sample_video(comps, ref, poses, FusionSchedule(4, 2), settings)
    other = dataclasses.replace(comps, scheduler_config={**comps.scheduler_config, "sigma_max": 80.0})
    assert not torch.allclose(sample_video(other, ref, poses, FusionSchedule(4, 2), settings), base, atol=1e-4)
