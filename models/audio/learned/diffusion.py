"""Diffusion for the motion model: cosine schedule, x0 loss + per-part temporal loss, DDIM sampler with
classifier-free guidance, and temporal outpainting for audio of any length.

Schedule: the cosine schedule of Nichol & Dhariwal (2021), alpha_bar(t) = cos^2(((t/T) + s)/(1 + s) * pi/2) with
s = 0.008, T = config.train_steps, betas clipped at 0.999.
Sampler: deterministic DDIM (Song et al. 2021, eta = 0) in the x0 parameterisation VLOGGER trains: at each step the
network predicts x0, eps is recovered as (x_t - sqrt(ab_t) x0) / sqrt(1 - ab_t), and
x_{t'} = sqrt(ab_t') x0 + sqrt(1 - ab_t') eps. Same seed, same noise, same motion.
Guidance: x0 = x0_uncond + cfg * (x0_cond - x0_uncond), the audio replaced by a learned null token for "uncond".
Outpainting (VLOGGER "temporal outpainting"): a window of ``window`` frames is generated, then each next window
re-uses the last ``overlap`` frames of the previous one as known frames: they are fed clean (with a "known" flag,
as in training) and written back into x0 at every denoising step, so the new frames continue the old ones.
Memory is that of one window whatever the audio length.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch

from .motion_model import MotionModelConfig, MotionTransformer, part_coordinate_index
from .solver import check_solver, solver_step

PARTS = ("face", "body", "hands")
# Normalised residuals have unit data std; a prediction beyond this is noise, not motion.
X0_CLIP = 8.0


def cosine_alpha_bar(steps: int, s: float = 0.008) -> torch.Tensor:
    """alpha_bar_t for t = 0..steps-1 (float64 [steps]), from the cosine schedule (Nichol & Dhariwal 2021, eq. 17)."""
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    betas = (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, dim=0)


@functools.lru_cache(maxsize=4)
def _alpha_bar_f32(steps: int) -> torch.Tensor:
    """cosine_alpha_bar as float32 on the CPU, computed once per schedule length (every window used to redo the
    float64 cumprod). Cached: treat it as read-only."""
    return cosine_alpha_bar(steps).to(torch.float32)


def _part_masks(motion_dim: int, device: torch.device) -> dict[str, torch.Tensor]:
    masks = {}
    for part in PARTS:
        m = torch.zeros(motion_dim, device=device)
        m[torch.from_numpy(part_coordinate_index(part)).to(device)] = 1.0
        masks[part] = m
    return masks


def diffusion_loss(
    model: MotionTransformer,
    x0: torch.Tensor,
    audio: torch.Tensor,
    weight: torch.Tensor,
    generator: torch.Generator | None = None,
    config: MotionModelConfig | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """One training loss (VLOGGER stage 1): L = sum_part w_x0 * L_x0(part) + w_temp * L_temp(part).

    x0: [B, F, 266] normalised residuals; audio: [B, F, D]; weight: [B, F, 266] in 0..1 (0 = frame or keypoint
    missing or padded). ``config`` is needed when ``model`` is wrapped (DDP). Returns (total loss, per-term floats).
    """
    cfg = config or model.config
    batch, frames, dim = x0.shape
    dev = x0.device
    alpha_bar = cosine_alpha_bar(cfg.train_steps).to(dev, torch.float32)
    t = torch.randint(0, cfg.train_steps, (batch,), generator=generator, device="cpu").to(dev)
    noise = torch.randn(x0.shape, generator=generator, device="cpu").to(dev, x0.dtype)
    ab = alpha_bar[t][:, None, None]
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
    # Train the outpainting case: a clean prefix of 1..overlap frames marked as known.
    known = torch.zeros(batch, frames, dtype=torch.bool, device=dev)
    if cfg.overlap > 0 and cfg.known_prob > 0:
        use = torch.rand(batch, generator=generator) < cfg.known_prob
        length = torch.randint(1, cfg.overlap + 1, (batch,), generator=generator)
        span = torch.arange(frames)[None] < (length * use)[:, None]
        known = span.to(dev)
    x_t = torch.where(known[..., None], x0, x_t)
    keep = (torch.rand(batch, generator=generator) >= cfg.cond_drop).to(dev)
    pred = model(x_t, t, audio, keep, known)

    w = weight * (~known)[..., None].to(weight.dtype)
    masks = _part_masks(dim, dev)
    total = x0.new_zeros(())
    log: dict[str, float] = {}
    vel_pred = pred[:, 1:] - pred[:, :-1]
    vel_true = x0[:, 1:] - x0[:, :-1]
    # A velocity pair counts where both frames count; the known->first-new step counts too (that is the seam).
    w_pair = torch.minimum(weight[:, 1:], weight[:, :-1]) * (~known[:, 1:])[..., None].to(weight.dtype)
    for part in PARTS:
        wp = w * masks[part]
        l_x0 = (wp * (pred - x0) ** 2).sum() / wp.sum().clamp(min=1.0)
        wv = w_pair * masks[part]
        diff = vel_pred - vel_true if cfg.temporal_loss == "velocity" else vel_pred
        l_temp = (wv * diff**2).sum() / wv.sum().clamp(min=1.0)
        total = total + cfg.x0_weight[part] * l_x0 + cfg.temporal_weight[part] * l_temp
        log[f"x0_{part}"] = float(l_x0.detach())
        log[f"temp_{part}"] = float(l_temp.detach())
    log["loss"] = float(total.detach())
    return total, log


def _guided_x0(
    model: MotionTransformer, x_t: torch.Tensor, t: int, audio_emb: torch.Tensor, known: torch.Tensor,
    cfg_scale: float, heads: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """x0 with classifier-free guidance. audio_emb: [B, F, d] from model.embed_audio, computed once per window:
    it does not change across steps, and the unconditional half replaces it by the null token anyway.
    heads: model.fused_heads(), built once per window."""
    batch = x_t.shape[0]
    steps = torch.full((batch,), t, dtype=torch.long, device=x_t.device)
    if cfg_scale == 1.0:
        keep = torch.ones(batch, dtype=torch.bool, device=x_t.device)
        return model(x_t, steps, None, keep, known, audio_embedding=audio_emb, heads=heads)
    # Conditional and unconditional passes in one batch.
    keep = torch.cat([torch.ones(batch, dtype=torch.bool), torch.zeros(batch, dtype=torch.bool)]).to(x_t.device)
    out = model(
        torch.cat([x_t, x_t]), torch.cat([steps, steps]), None, keep, torch.cat([known, known]),
        audio_embedding=torch.cat([audio_emb, audio_emb]), heads=heads,
    )
    cond, uncond = out[:batch], out[batch:]
    return uncond + cfg_scale * (cond - uncond)


@torch.inference_mode()  # as no_grad, minus autograd's version/view bookkeeping: same numbers, ~10% less time
def sample_window(
    model: MotionTransformer,
    audio: torch.Tensor,
    steps: int = 10,
    cfg_scale: float = 2.0,
    generator: torch.Generator | None = None,
    known_values: torch.Tensor | None = None,
    solver: str = "ddim",
) -> torch.Tensor:
    """DDIM (eta=0) or DPM-Solver++(2M) sampling of one window (see solver.py).

    audio: [B, F, D]; known_values: [B, K, 266] clean normalised residuals of the first K frames (outpainting) or
    None. Returns x0 [B, F, 266] (normalised residuals).
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    check_solver(solver)
    cfg = model.config
    batch, frames, _ = audio.shape
    dev, dtype = audio.device, audio.dtype
    alpha_bar = _alpha_bar_f32(cfg.train_steps).to(dev)
    x = torch.randn((batch, frames, cfg.motion_dim), generator=generator, device="cpu").to(dev, dtype)
    known = torch.zeros(batch, frames, dtype=torch.bool, device=dev)
    clean = torch.zeros_like(x)
    if known_values is not None and known_values.shape[1] > 0:
        k = min(known_values.shape[1], frames)
        known[:, :k] = True
        clean[:, :k] = known_values[:, :k].to(dev, dtype)
    timesteps = torch.linspace(cfg.train_steps - 1, 0, steps).round().long().tolist()
    # Step-independent parts, once per window instead of once per step and pass (same numbers).
    audio_emb, heads = model.embed_audio(audio), model.fused_heads()
    x0 = x
    prev: tuple[torch.Tensor, torch.Tensor] | None = None
    for i, t in enumerate(timesteps):
        x_in = torch.where(known[..., None], clean, x)
        x0 = _guided_x0(model, x_in, t, audio_emb, known, cfg_scale, heads).clamp(-X0_CLIP, X0_CLIP)
        x0 = torch.where(known[..., None], clean, x0)
        if i == len(timesteps) - 1:
            break
        ab_t, ab_next = alpha_bar[t], alpha_bar[timesteps[i + 1]]
        x = solver_step(solver, x, x0, ab_t, ab_next, prev)
        prev = (x0, ab_t)
    return x0


def window_plan(num_frames: int, window: int, overlap: int) -> list[tuple[int, int, int]]:
    """Windows (start, end, known) covering 0..num_frames: each later window starts ``overlap`` frames before the
    previous end and treats those frames as known. A clip shorter than one window is one short window."""
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(f"window must be >= 1 and overlap in 0..window-1, got window={window}, overlap={overlap}")
    plan = [(0, min(window, num_frames), 0)]
    while plan[-1][1] < num_frames:
        start = plan[-1][1] - overlap
        plan.append((start, min(start + window, num_frames), overlap))
    return plan


@torch.inference_mode()
def sample_long(
    model: MotionTransformer,
    audio: torch.Tensor,
    steps: int = 10,
    cfg_scale: float = 2.0,
    seed: int = 0,
    window: int | None = None,
    overlap: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    solver: str = "ddim",
) -> torch.Tensor:
    """Temporal outpainting over audio of any length (solver: "ddim" or "dpmpp_2m", see solver.py).

    audio: [F, D] features at the model's fps. window/overlap default to the model config; window=0 means one
    window over the whole sequence (attention memory grows as F^2). Returns normalised residuals [F, 266].
    progress(done_windows, total_windows) is called after each window (and may raise to stop).
    """
    cfg = model.config
    frames = audio.shape[0]
    window = cfg.window if window is None else window
    overlap = cfg.overlap if overlap is None else overlap
    if window == 0:
        window, overlap = max(frames, 1), 0
    if window < 1 or not 0 <= overlap < window:
        # Refused, not clipped: overlap >= window would silently become one new frame per window (very slow).
        raise ValueError(
            f"overlap ({overlap}) must be in 0..window-1 (window {window}): each window has to add at least one new "
            f"frame. Lower overlap or raise window (the model was trained with window {cfg.window}, overlap "
            f"{cfg.overlap}; -1 / 0 use those)."
        )
    check_solver(solver)
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    out = audio.new_zeros(frames, cfg.motion_dim)
    plan = window_plan(frames, window, overlap)
    for i, (start, end, k) in enumerate(plan):
        known = out[start : start + k][None] if k else None
        out[start:end] = sample_window(
            model, audio[None, start:end], steps, cfg_scale, generator, known, solver
        )[0]
        if progress is not None:
            progress(i + 1, len(plan))
    return out
