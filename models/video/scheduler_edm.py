"""EDM Euler for v-prediction: the solver Embody Sampler's loop calls (diffusers' scheduler / sampler split).

Official maths (diffusers EulerDiscreteScheduler with SVD's config: v-prediction, Karras sigmas, continuous
timesteps). The model sees x / sqrt(sigma^2 + 1) and t = 0.25 ln(sigma); its output v gives
x0 = x / (sigma^2 + 1) - v * sigma / sqrt(sigma^2 + 1) (EDM c_skip, c_out), and one Euler step moves
x' = x + (x - x0) / sigma * (sigma' - sigma). The sigma range and prediction type come from the SVD scheduler
config the loader read (scheduler/scheduler_config.json), so that file drives the solver. Another solver is another
class with the same ``set_timesteps`` / ``init_noise_sigma`` / ``scale_model_input`` / ``timestep`` / ``step``; the
sampler loop does not change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .sigmas import SVD_SIGMA_MAX, SVD_SIGMA_MIN, get_sigmas, sigma_to_timestep


class EDMEulerScheduler:
    """Euler steps over EDM sigmas for a v-prediction model; ``set_timesteps`` before use."""

    def __init__(self, sigma_min: float = SVD_SIGMA_MIN, sigma_max: float = SVD_SIGMA_MAX,
                 schedule: str = "karras") -> None:
        self.sigma_min, self.sigma_max, self.schedule = float(sigma_min), float(sigma_max), schedule
        self.sigmas = torch.zeros(0)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], schedule: str = "karras") -> EDMEulerScheduler:
        """From an SVD ``scheduler_config.json`` (as loaded into ``VideoComponents.scheduler_config``)."""
        prediction = config.get("prediction_type", "v_prediction")
        timestep_type = config.get("timestep_type", "continuous")
        if prediction != "v_prediction" or timestep_type != "continuous":
            raise ValueError(
                f"The SVD scheduler config says prediction_type={prediction!r}, timestep_type={timestep_type!r}; "
                "MimicMotion needs SVD img2vid's 'v_prediction' with 'continuous' timesteps. Use the "
                "scheduler/ folder of stable-video-diffusion-img2vid-xt-1-1 (or delete it to use SVD's defaults).")
        return cls(float(config.get("sigma_min", SVD_SIGMA_MIN)), float(config.get("sigma_max", SVD_SIGMA_MAX)),
                   schedule)

    def set_timesteps(self, steps: int) -> torch.Tensor:
        """float32 sigmas [steps + 1], descending, ending in 0 (``steps`` model evaluations)."""
        self.sigmas = get_sigmas(self.schedule, steps, self.sigma_min, self.sigma_max)
        return self.sigmas

    @property
    def num_steps(self) -> int:
        return len(self.sigmas) - 1

    @property
    def init_noise_sigma(self) -> torch.Tensor:
        """Std of the starting latent, sqrt(sigma_0^2 + 1) (unit noise is multiplied by it)."""
        return (self.sigmas.max() ** 2 + 1) ** 0.5

    def scale_model_input(self, sample: torch.Tensor, step: int) -> torch.Tensor:
        """x / sqrt(sigma^2 + 1): what the UNet sees at ``step``."""
        sigma = self.sigmas[step]
        return sample / ((sigma**2 + 1) ** 0.5).to(sample.device)

    def timestep(self, step: int) -> torch.Tensor:
        """The UNet's continuous timestep condition at ``step``."""
        return sigma_to_timestep(self.sigmas[step])

    def step(self, model_output: torch.Tensor, step: int, sample: torch.Tensor) -> torch.Tensor:
        """One Euler step, in place: ``sample`` becomes the next sample and ``model_output`` (v) is overwritten with
        the denoised x0, which is returned. In place so a step allocates one latent-sized temporary, not five; copy
        x0 if you keep it past the next use of ``model_output``."""
        s = self.sigmas[step].to(sample.device)
        s_next = self.sigmas[step + 1].to(sample.device)
        x0 = model_output.mul_(-s / (s**2 + 1) ** 0.5).add_(sample / (s**2 + 1))
        sample.add_((sample - x0).div_(s).mul_(s_next - s))
        return x0
