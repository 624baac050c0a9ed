"""The update x_t -> x_{t'} of the motion sampler, given the network's x0 prediction: DDIM or DPM-Solver++(2M).

Both work in the x0 parameterisation the motion model is trained in, with alpha_t = sqrt(alpha_bar_t),
sigma_t = sqrt(1 - alpha_bar_t) and lambda_t = log(alpha_t / sigma_t):
- "ddim": deterministic DDIM (Song et al. 2021, eta = 0), x_{t'} = alpha_t' x0 + sigma_t' eps. It equals the
  first-order DPM-Solver++ step (Lu et al. 2022, "DPM-Solver++", eq. 9).
- "dpmpp_2m": DPM-Solver++(2M), the multistep second-order solver of the same paper (Algorithm 2, midpoint form as
  in diffusers' DPMSolverMultistepScheduler): D = x0_s + (h / (2 h_prev)) (x0_s - x0_prev), first order on its
  first step (no history yet). It reaches DDIM-10's quality in fewer network calls.
Caching keys/values of known frames across windows is not possible for this model: every token carries the
denoising step's embedding and a window-relative position, so nothing is shared between steps or windows.
"""

from __future__ import annotations

import torch

SOLVERS = ("ddim", "dpmpp_2m")


def check_solver(solver: str) -> str:
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    return solver


def solver_step(
    solver: str,
    x: torch.Tensor,
    x0: torch.Tensor,
    ab_t: torch.Tensor,
    ab_next: torch.Tensor,
    prev: tuple[torch.Tensor, torch.Tensor] | None,
) -> torch.Tensor:
    """x at the next (less noisy) timestep from x at the current one and its x0 prediction.

    ab_t / ab_next: alpha_bar of the current / next timestep (0-dim tensors); prev: (x0 prediction, alpha_bar) of
    the previous step for "dpmpp_2m", None on the first step (or for "ddim").
    """
    alpha_t, sigma_t = ab_t.sqrt(), (1 - ab_t).clamp(min=1e-8).sqrt()
    alpha_n, sigma_n = ab_next.sqrt(), (1 - ab_next).clamp(min=1e-8).sqrt()
    if solver == "ddim" or prev is None:
        eps = (x - alpha_t * x0) / sigma_t
        return alpha_n * x0 + sigma_n * eps
    x0_prev, ab_prev = prev
    lam_t, lam_n = torch.log(alpha_t / sigma_t), torch.log(alpha_n / sigma_n)
    lam_prev = torch.log(ab_prev.sqrt() / (1 - ab_prev).clamp(min=1e-8).sqrt())
    h, h_prev = lam_n - lam_t, lam_t - lam_prev
    d = x0 + (h / (2 * h_prev)) * (x0 - x0_prev)
    return (sigma_n / sigma_t) * x - alpha_n * torch.expm1(-h) * d
