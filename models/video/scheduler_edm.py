"""EDM Euler for v-prediction: the solver Embody Sampler's loop calls (diffusers' scheduler / sampler split).

Official maths (diffusers EulerDiscreteScheduler with SVD's config: v-prediction, Karras sigmas, continuous
timesteps). The model sees x / sqrt(sigma^2 + 1) and t = 0.25 ln(sigma); its output v gives
x0 = x / (sigma^2 + 1) - v * sigma / sqrt(sigma^2 + 1) (EDM c_skip, c_out), and one Euler step moves
x' = x + (x - x0) / sigma * (sigma' - sigma). The sigma range and prediction type come from the SVD scheduler
config the loader read (scheduler/scheduler_config.json), so that file drives the solver. Another solver is another
class with the same ``set_timesteps`` / ``init_noise_sigma`` / ``scale_model_input`` / ``timestep`` / ``step``; the
sampler loop does not change: ``EDMDPMSolver2MScheduler`` below is one (``make_scheduler`` picks by name).
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


class EDMDPMSolver2MScheduler(EDMEulerScheduler):
    """DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", multistep second order in log-sigma) on the same sigmas.

    With lambda = -ln(sigma) and h = lambda' - lambda, the data prediction of the previous step extrapolates this
    step's x0 (r = h_prev / h): D = (1 + 1/(2r)) x0 - 1/(2r) x0_prev, and x' = (sigma'/sigma) x - expm1(-h) D. The
    first step (no previous x0) and the last (sigma' = 0, where x' = x0) are first order. The same update as
    diffusers' EDMDPMSolverMultistepScheduler (sigma_data 1, midpoint, lower_order_final off) and ComfyUI's
    ``dpmpp_2m``. One model evaluation per step, like Euler, but second order: fewer steps for the same error.
    State (the previous x0) lives between ``step`` calls; ``set_timesteps`` clears it.
    """

    def __init__(self, sigma_min: float = SVD_SIGMA_MIN, sigma_max: float = SVD_SIGMA_MAX,
                 schedule: str = "karras") -> None:
        super().__init__(sigma_min, sigma_max, schedule)
        self._prev_x0: torch.Tensor | None = None
        self._prev_step = -1

    def set_timesteps(self, steps: int) -> torch.Tensor:
        self._prev_x0, self._prev_step = None, -1
        return super().set_timesteps(steps)

    def step(self, model_output: torch.Tensor, step: int, sample: torch.Tensor) -> torch.Tensor:
        """One DPM-Solver++(2M) step, in place like ``EDMEulerScheduler.step`` (``model_output`` becomes x0)."""
        s = self.sigmas[step].to(sample.device)
        s_next = self.sigmas[step + 1].to(sample.device)
        x0 = model_output.mul_(-s / (s**2 + 1) ** 0.5).add_(sample / (s**2 + 1))
        if float(s_next) == 0.0:
            sample.copy_(x0)
        else:
            h = torch.log(s) - torch.log(s_next)
            # Only a previous x0 from the step just before counts (steps skipped by init_strength leave none).
            if self._prev_x0 is None or self._prev_step != step - 1:
                data = x0
            else:
                h_prev = torch.log(self.sigmas[step - 1].to(sample.device)) - torch.log(s)
                half_over_r = 0.5 * h / h_prev
                data = x0 * (1 + half_over_r) - self._prev_x0 * half_over_r
            sample.mul_(s_next / s).sub_(torch.expm1(-h) * data)
        self._prev_x0, self._prev_step = x0.clone(), step
        return x0


SOLVERS = {"euler": EDMEulerScheduler, "dpmpp_2m": EDMDPMSolver2MScheduler}


def check_solver(solver: str) -> None:
    """Raise ValueError naming the choices unless ``solver`` is one of ``SOLVERS``."""
    if solver not in SOLVERS:
        raise ValueError(f"Unknown solver {solver!r}; choose one of {', '.join(SOLVERS)} ('euler' is MimicMotion's).")


def make_scheduler(solver: str, config: Mapping[str, Any], schedule: str = "karras") -> EDMEulerScheduler:
    """The solver named ``solver`` ("euler": official; "dpmpp_2m") from an SVD scheduler config."""
    check_solver(solver)
    return SOLVERS[solver].from_config(config, schedule)
