"""Embody's progressive latent fusion for core video models: the maths behind EmbodyContextWindows (pure torch).

ComfyUI core denoises long latents in windows through its context-window handler (comfy/context_windows.py): per
step it asks a schedule for index lists, runs the model on each window, and averages the outputs per frame with the
weights a fuse method returns. This module supplies those three pieces from Embody's own fusion maths
(models/video/fusion.py), so core samplers fuse exactly as Embody's MimicMotion sampler does:

- :func:`latent_schedule`: an EMBODY_FUSION (window / overlap in video frames) as a schedule in latent frames,
  for a model whose VAE packs ``ratio`` video frames into one latent frame (Wan, Hunyuan: 4; SVD: 1).
- :func:`windows_for` / :func:`weights_for`: the windows and per-position weights for a latent of N frames.
- :func:`shape_noise`: the EMBODY_FUSION noise mode applied to the noise a core sampler drew.
- :func:`fuse_outputs`: the reference fusion (acc += w * out; cnt += w; out = acc / cnt), for checks.
"""

from __future__ import annotations

import math

import torch

from .fusion import FusionSchedule, freenoise_fill, window_indices, window_weights


def latent_schedule(options: FusionSchedule, ratio: int = 1) -> FusionSchedule:
    """The fusion schedule in latent frames for a VAE with temporal compression ``ratio``.

    Window and overlap of an EMBODY_FUSION count video frames (0 / -1 = MimicMotion 1.1's 72 / 6). With ratio r,
    a window of T video frames covers (T - 1) // r + 1 latent frames (the causal video VAEs' rule, as core's Wan
    context node) and the overlap rounds up, ceil(O / r), so consecutive windows still share latents; the result
    is clamped to a valid schedule (anchored: overlap >= 1 for the shared reference latent).
    """
    if ratio < 1:
        raise ValueError(f"Temporal compression ratio must be >= 1, got {ratio}.")
    video = options.resolved("1.1")
    if ratio == 1:
        return video
    window = max((video.window - 1) // ratio + 1, 2)
    overlap = math.ceil(video.overlap / ratio)
    low = 1 if video.anchor_reference else 0
    overlap = min(max(overlap, low), window - 2)
    if overlap < low:  # a 2-latent anchored window cannot overlap past the reference: widen it
        window = 3
        overlap = low
    return FusionSchedule(window, overlap, video.weighting, video.noise, video.anchor_reference, video.tail)


def windows_for(num_frames: int, schedule: FusionSchedule) -> list[list[int]]:
    """Window index lists for ``num_frames`` latent frames (one window when the video is shorter than a window)."""
    return window_indices(num_frames, schedule)


def weights_for(index_list: list[int], num_frames: int, schedule: FusionSchedule) -> torch.Tensor:
    """Per-position fusion weights (float32 [len(index_list)]) of the window ``index_list`` of a ``num_frames`` video.

    The weights of "overlap-linear" depend on the neighbouring windows, so the window is looked up in the full
    list of :func:`windows_for`; an index list that is not one of those windows is an error.
    """
    windows = windows_for(num_frames, schedule)
    try:
        j = windows.index(list(index_list))
    except ValueError:
        raise ValueError(f"Window {list(index_list)[:4]}... is not one of the fusion schedule's windows for "
                         f"{num_frames} frames; the context schedule and fuse method must come from the same "
                         "EMBODY_FUSION.") from None
    return window_weights(windows, schedule.fitted(num_frames))[j]


def shape_noise(noise: torch.Tensor, dim: int, schedule: FusionSchedule, generator: torch.Generator | None
                ) -> torch.Tensor:
    """Apply the schedule's noise mode along ``dim`` of a sampler's noise (in place where possible; returned).

    "repeated" (MimicMotion's official): frame k takes the noise of frame k mod T, T the window length.
    "freenoise": the first T frames are kept and each later block of T - O frames is a shuffled copy of the block
    one window earlier (:func:`models.video.fusion.freenoise_fill`, shared with Embody's sampler).
    "independent": unchanged.
    """
    n = noise.shape[dim]
    sch = schedule.fitted(n) if n >= 2 else schedule
    if sch.noise == "independent" or n <= sch.window:
        return noise
    moved = noise.movedim(dim, 0)
    if sch.noise == "repeated":
        src = torch.arange(n, device=noise.device) % sch.window
        return moved[src].movedim(0, dim).contiguous()
    out = moved.clone()
    freenoise_fill(out, sch.window, sch.stride, generator)
    return out.movedim(0, dim).contiguous()


def fuse_outputs(outputs: list[torch.Tensor], windows: list[list[int]], weights: list[torch.Tensor],
                 num_frames: int, dim: int) -> torch.Tensor:
    """Weighted per-frame average of per-window outputs along ``dim`` (Embody's fusion: acc / cnt)."""
    first = outputs[0]
    shape = list(first.shape)
    shape[dim] = num_frames
    acc = torch.zeros(shape, dtype=torch.float32, device=first.device)
    cnt = torch.zeros(num_frames, dtype=torch.float32, device=first.device)
    view = [1] * first.ndim
    view[dim] = -1
    for out, idx, w in zip(outputs, windows, weights, strict=True):
        index = torch.tensor(idx, device=first.device)
        acc.index_add_(dim, index, out.float() * w.to(first.device).view(view))
        cnt.index_add_(0, index, w.to(first.device).float())
    return acc / cnt.view(view)
