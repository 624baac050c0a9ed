"""Noise levels (sigmas) for the EDM Euler sampler of Stable Video Diffusion / MimicMotion.

Both schedules return ``steps + 1`` float32 sigmas, descending, ending in 0: ``steps`` model evaluations, the last
one stepping to a clean sample. Units are EDM sigmas (noise std relative to a unit-variance latent).
"""

from __future__ import annotations

import numpy as np
import torch

# SVD's scheduler config (stabilityai/stable-video-diffusion-img2vid-xt-1-1, scheduler/scheduler_config.json).
SVD_SIGMA_MIN = 0.002
SVD_SIGMA_MAX = 700.0

# "Align Your Steps" 10-step sigmas for SVD (Sabour et al. 2024, NVIDIA's published table; also in ComfyUI's
# AlignYourStepsScheduler and kijai's MimicMotion wrapper).
AYS_SVD_10 = (700.00, 54.5, 15.886, 7.977, 4.248, 1.789, 0.981, 0.403, 0.173, 0.034, 0.002)

SCHEDULES = ("karras", "ays")


def _check_steps(steps: int) -> None:
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}.")


def karras_sigmas(
    steps: int, sigma_min: float = SVD_SIGMA_MIN, sigma_max: float = SVD_SIGMA_MAX, rho: float = 7.0
) -> torch.Tensor:
    """Karras et al. 2022 (EDM, eq. 5) sigmas, sigma_max -> sigma_min over ``steps`` points, then 0.

    Computed in float64 and rounded to float32 once, as diffusers' EulerDiscreteScheduler(use_karras_sigmas=True,
    final_sigmas_type="zero") does, so the official pipeline's sigmas are reproduced exactly.
    Returns float32 [steps + 1].
    """
    _check_steps(steps)
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"sigma_min must be in (0, sigma_max); got sigma_min={sigma_min}, sigma_max={sigma_max}.")
    ramp = np.linspace(0.0, 1.0, steps)
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    sig = (hi + ramp * (lo - hi)) ** rho
    return torch.from_numpy(np.concatenate([sig, [0.0]]).astype(np.float32))


def loglinear_interp(values: np.ndarray | list[float] | tuple[float, ...], num: int) -> np.ndarray:
    """Resample a descending sigma list to ``num`` points, linearly in log(sigma) over an even index ramp."""
    vals = np.asarray(values, dtype=np.float64)
    if num == len(vals):
        return vals.copy()
    xs = np.linspace(0.0, 1.0, len(vals))
    ys = np.log(vals[::-1])
    new_xs = np.linspace(0.0, 1.0, num)
    return np.exp(np.interp(new_xs, xs, ys))[::-1].copy()


def ays_sigmas(steps: int) -> torch.Tensor:
    """Align-Your-Steps sigmas for SVD: the published 10-step list, log-linearly resampled for other step counts.

    As in ComfyUI, the resampled list has ``steps + 1`` points and its last point (0.002) is replaced by 0 so the
    final step lands on a clean sample. Returns float32 [steps + 1].
    """
    _check_steps(steps)
    sig = loglinear_interp(AYS_SVD_10, steps + 1)
    sig[-1] = 0.0
    return torch.from_numpy(sig.astype(np.float32))


def get_sigmas(schedule: str, steps: int, sigma_min: float = SVD_SIGMA_MIN, sigma_max: float = SVD_SIGMA_MAX,
               ) -> torch.Tensor:
    """Sigmas for a schedule name in :data:`SCHEDULES`; float32 [steps + 1]. The Karras range is sigma_min..sigma_max
    (the scheduler config's); "ays" is a published table for SVD's own range."""
    if schedule == "karras":
        return karras_sigmas(steps, sigma_min, sigma_max)
    if schedule == "ays":
        return ays_sigmas(steps)
    raise ValueError(f"Unknown sigma schedule {schedule!r}; choose one of {SCHEDULES}.")


def sigma_to_timestep(sigma: torch.Tensor | float) -> torch.Tensor:
    """SVD's continuous timestep conditioning: t = 0.25 * ln(sigma) (EDM c_noise), float32."""
    s = torch.as_tensor(sigma, dtype=torch.float32)
    return 0.25 * torch.log(s)
