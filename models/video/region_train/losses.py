"""Training objective of the region codebook: SVD/MimicMotion's EDM v-prediction diffusion loss, reweighted by
region masks (CyberHost) and confident hands (MimicMotion), plus the hand-heatmap and mask-supervision losses.

* Noise level: ln(sigma) ~ N(p_mean, p_std) (EDM, Karras et al. 2022; SVD trains with p_mean 0.7, p_std 1.6 at
  low resolution and 1.0 / 1.6 at high resolution, Blattmann et al. 2023 appendix D).
* The sampler's maths (models.video.sampler) fixes the parametrisation: the UNet sees x / sqrt(sigma^2 + 1) and the
  timestep 0.25 ln(sigma); its output v gives x0 = x / (sigma^2 + 1) - sigma / sqrt(sigma^2 + 1) * v. The EDM loss
  lambda(sigma) |x0_pred - x0|^2 with lambda = (sigma^2 + 1) / sigma^2 (sigma_data = 1) equals |v - v_target|^2 with
  v_target = (x / (sigma^2 + 1) - x0) * sqrt(sigma^2 + 1) / sigma; we compute that per latent element.
* Weight per latent pixel: 1 + alpha * M_region + (beta - 1) * M_hand_confident. alpha = 1 is CyberHost's
  (1 + alpha M) L_diff with M the union of face and hand boxes; beta is MimicMotion's hand amplification (10 in its
  paper: weight 10 inside confident hand boxes), added on top so a confident hand counts 1 + alpha + beta - 1.
* CyberHost trains its hand heatmap head "when t < 500, with probability 0.5", t on a 1000-step DDPM scale. SVD has
  no discrete timesteps, so t is read off the scaled-linear DDPM schedule Stable Diffusion (and CyberHost's SD-based
  UNet) uses: betas linear in sqrt from 0.00085 to 0.012 over 1000 steps, sigma_t = sqrt((1 - abar_t) / abar_t).
  t = 500 is sigma = 1.618 (``HEATMAP_SIGMA``); sigmas above the table's end (14.6) count as t = 999. So the
  heatmap L2 applies to the samples of a batch with sigma < 1.618, each with probability 0.5.
* Mask supervision: binary cross-entropy of each predicted region mask against the keypoint boxes, resized to the
  predictor's resolution (the boxes are painted at latent resolution and area-pooled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class LossConfig:
    """alpha: CyberHost's region weight; hand_amplification: MimicMotion's weight on confident hands (1 = off);
    heatmap_weight / mask_weight / orthogonality_weight: multipliers of the auxiliary losses (0 = off);
    heatmap_probability: chance a low-noise sample trains the heatmap head; p_mean / p_std: EDM noise levels."""

    alpha: float = 1.0
    hand_amplification: float = 10.0
    heatmap_weight: float = 1.0
    heatmap_probability: float = 0.5
    mask_weight: float = 1.0
    orthogonality_weight: float = 0.01
    p_mean: float = 0.7
    p_std: float = 1.6


def _ddpm_sigmas(steps: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012) -> torch.Tensor:
    betas = torch.linspace(beta_start**0.5, beta_end**0.5, steps, dtype=torch.float64) ** 2
    abar = torch.cumprod(1.0 - betas, 0)
    return ((1.0 - abar) / abar).sqrt()


_DDPM_SIGMAS = _ddpm_sigmas()


def sigma_to_ddpm_t(sigma: torch.Tensor) -> torch.Tensor:
    """The 1000-step DDPM timestep with the nearest noise level (log-sigma interpolation), float in 0..999."""
    log_table = _DDPM_SIGMAS.log()
    s = sigma.detach().double().cpu().clamp(min=1e-12).log()
    idx = torch.searchsorted(log_table, s).clamp(1, len(log_table) - 1)
    lo, hi = log_table[idx - 1], log_table[idx]
    t = (idx - 1).double() + ((s - lo) / (hi - lo)).clamp(0.0, 1.0)
    return t.float().to(sigma.device)


HEATMAP_T = 500
HEATMAP_SIGMA = float(_DDPM_SIGMAS[HEATMAP_T - 1])  # 1.618: sigma at t = 500 (0-based index 499)


def sample_sigmas(n: int, cfg: LossConfig, generator: torch.Generator) -> torch.Tensor:
    """float32 [n] EDM training noise levels, ln sigma ~ N(p_mean, p_std)."""
    return (torch.randn(n, generator=generator) * cfg.p_std + cfg.p_mean).exp()


def noisy_input(x0: torch.Tensor, noise: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(UNet input x / sqrt(sigma^2+1), the v target) for clean latents x0 [B, F, C, h, w] and sigma [B]."""
    s = sigma.view(-1, *([1] * (x0.ndim - 1))).to(x0)
    x = x0 + s * noise
    scale = (s**2 + 1).sqrt()
    v_target = (x / (s**2 + 1) - x0) * scale / s
    return x / scale, v_target


def loss_weight(region_mask: torch.Tensor, hand_mask: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """[B, F, 1, h, w] per-pixel weights from region masks [B, F, R, h, w] and confident hands [B, F, h, w]."""
    union = region_mask.amax(dim=2, keepdim=True)
    return 1.0 + cfg.alpha * union + (cfg.hand_amplification - 1.0) * hand_mask.unsqueeze(2)


def weighted_diffusion_loss(v_pred: torch.Tensor, v_target: torch.Tensor, weight: torch.Tensor,
                            valid: torch.Tensor) -> torch.Tensor:
    """Mean of weight * (v - v_target)^2 over valid frames (valid [B, F] 0/1), normalised by the mean weight so the
    region weighting moves emphasis without changing the loss scale."""
    per = ((v_pred.float() - v_target.float()) ** 2).mean(dim=2, keepdim=True) * weight
    m = valid.view(*valid.shape, 1, 1, 1).to(per)
    return (per * m).sum() / (weight * m).sum().clamp(min=1e-8)


def region_split_losses(v_pred: torch.Tensor, v_target: torch.Tensor, region_mask: torch.Tensor) -> dict[str, float]:
    """Unweighted diffusion loss inside the union of regions and outside it (logging and the learning test)."""
    per = ((v_pred.detach().float() - v_target.float()) ** 2).mean(dim=2)  # [B, F, h, w]
    inside = region_mask.amax(dim=2).to(per)
    n_in, n_out = inside.sum(), (1 - inside).sum()
    return {
        "diff_in": float((per * inside).sum() / n_in) if n_in > 0 else math.nan,
        "diff_out": float((per * (1 - inside)).sum() / n_out) if n_out > 0 else math.nan,
    }


def mask_bce(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """BCE of a predicted soft mask [N, 1, h', w'] (0..1) against box masks [N, h, w] area-resized to h' x w'."""
    tgt = target[:, None].to(predicted)
    size = (int(predicted.shape[-2]), int(predicted.shape[-1]))
    if tuple(tgt.shape[-2:]) != size:
        tgt = F.adaptive_avg_pool2d(tgt, size) if tgt.shape[-1] >= size[1] else \
            F.interpolate(tgt, size=size, mode="nearest")
    with torch.autocast(device_type=predicted.device.type, enabled=False):
        return F.binary_cross_entropy(predicted.float().clamp(1e-6, 1 - 1e-6), tgt.float())


def heatmap_l2(predicted: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """L2 of predicted hand heatmaps [N, K, h', w'] against targets [N, K, h, w] (resized to h' x w' and
    renormalised to peak 1), over keypoints with weight [N, K] and samples with gate [N] (0/1); 0 when none."""
    tgt = target.to(predicted)
    if tuple(tgt.shape[-2:]) != tuple(predicted.shape[-2:]):
        tgt = F.interpolate(tgt, size=predicted.shape[-2:], mode="bilinear", align_corners=False)
        tgt = tgt / tgt.amax(dim=(-2, -1), keepdim=True).clamp(min=1e-6) * (weight[..., None, None] > 0).to(tgt)
    k = min(tgt.shape[1], predicted.shape[1])
    w = (weight[:, :k] * gate[:, None]).to(predicted)
    if float(w.sum()) == 0.0:
        return predicted.sum() * 0.0
    per = ((predicted[:, :k].float() - tgt[:, :k].float()) ** 2).mean(dim=(-2, -1))
    return (per * w).sum() / w.sum()


def heatmap_gate(sigma: torch.Tensor, cfg: LossConfig, generator: torch.Generator) -> torch.Tensor:
    """float [B] 0/1: low noise (sigma < sigma at t = 500) and a coin flip with ``heatmap_probability``."""
    coin = torch.rand(sigma.shape, generator=generator) < cfg.heatmap_probability
    return ((sigma.cpu() < HEATMAP_SIGMA) & coin).float()
