"""Progressive latent fusion (MimicMotion §3.4 / official pipeline): windows, fusion weights, initial noise.

A video of N latent frames (frame 0 = the reference pose, kept in every window) is denoised in windows of T frames
that overlap by O. At every step each window's model output is weighted per position and averaged per frame
(acc[idx] += w * v; cnt[idx] += w; v = acc / cnt), the temporal co-denoising of MultiDiffusion / Gen-L-Video.
Because x0 and the Euler update are affine in v with one sigma for the whole video, fusing v, x0 or x_next is the same.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass

import torch

logger = logging.getLogger(__name__)

WEIGHTINGS = ("triangular", "pyramid", "overlap-linear", "flat", "gaussian")
NOISE_MODES = ("repeated", "freenoise", "independent")
TAIL_MODES = ("official", "shrink")

# Official window / overlap per model version, the one place they are defined: MimicMotion 1.1 was trained and
# tested with 72-frame windows (configs/test.yaml: 72 / 6); 1.0 with 16-frame windows (pipeline defaults 16 / 4).
DEFAULT_WINDOWS = {"1.1": (72, 6), "1.0": (16, 4)}


@dataclass(frozen=True)
class FusionSchedule:
    """How a long video is cut into windows and fused: the EMBODY_FUSION value (Embody Fusion Schedule's output).

    window: frames per window T (counting the anchored reference frame); 0 = the model version's official window.
    overlap: O, consecutive windows start T - O frames apart; -1 = the official overlap (clipped to fit a custom
    window). weighting: one of WEIGHTINGS ("triangular" = official). noise: one of NOISE_MODES ("repeated" =
    official). anchor_reference: put frame 0 (the reference pose) in every window (official). tail: "official" = a
    last full window aligned to the end; "shrink" = a shorter last window holding only the frames not yet covered
    plus the overlap, so its cost is proportional to the new frames.

    The defaults are the official ones for whichever model samples; :meth:`resolved` turns 0 / -1 into numbers.
    """

    window: int = 0
    overlap: int = -1
    weighting: str = "triangular"
    noise: str = "repeated"
    anchor_reference: bool = True
    tail: str = "official"

    def __post_init__(self) -> None:
        if self.window != 0 and self.window < 2:
            raise ValueError(f"Fusion window must be at least 2 frames (or 0 for the model's own), got {self.window}.")
        if self.overlap < -1:
            raise ValueError(f"Fusion overlap must be >= 0 (or -1 for the model's own), got {self.overlap}.")
        if self.window > 0 and self.overlap >= 0:
            if not self.overlap < self.window - 1:
                raise ValueError(
                    f"Fusion overlap must be in 0..window-2 (window {self.window}), got {self.overlap}. "
                    "Lower the overlap or raise the window."
                )
            if self.anchor_reference and self.overlap < 1:
                raise ValueError(
                    "With anchor_reference the overlap counts the shared reference frame, so it must be >= 1.")
        for name, value, allowed in (
            ("weighting", self.weighting, WEIGHTINGS),
            ("noise", self.noise, NOISE_MODES),
            ("tail", self.tail, TAIL_MODES),
        ):
            if value not in allowed:
                raise ValueError(f"Unknown fusion {name} {value!r}; choose one of {allowed}.")

    @property
    def is_resolved(self) -> bool:
        return self.window > 0 and self.overlap >= 0

    def resolved(self, version: str = "1.1") -> FusionSchedule:
        """This schedule with the official window / overlap of a MimicMotion version filled in where left at 0 / -1.

        Raises ValueError for an unknown version or an impossible combination."""
        if version not in DEFAULT_WINDOWS:
            raise ValueError(f"Unknown MimicMotion version {version!r}; expected one of {tuple(DEFAULT_WINDOWS)}.")
        if self.is_resolved:
            return self
        window, overlap = DEFAULT_WINDOWS[version]
        if self.window > 0:
            window = self.window
            if self.overlap < 0:  # keep the official overlap, but it must fit a custom window
                overlap = min(overlap, max(window - 2, 1))
        if self.overlap >= 0:
            overlap = self.overlap
        return dataclasses.replace(self, window=window, overlap=overlap)

    def _require_resolved(self) -> None:
        if not self.is_resolved:
            raise ValueError("This fusion schedule leaves window/overlap to the model; call .resolved(version) first.")

    @property
    def stride(self) -> int:
        self._require_resolved()
        return self.window - self.overlap

    def fitted(self, num_frames: int) -> FusionSchedule:
        """This schedule with the window shrunk to the video when the video is shorter than one window (logged)."""
        self._require_resolved()
        if num_frames >= self.window:
            return self
        if num_frames < 2:
            raise ValueError(f"A video needs at least 2 frames (reference pose + 1), got {num_frames}.")
        logger.info("Video has %d frames, fewer than the %d-frame window: using one %d-frame window.",
                    num_frames, self.window, num_frames)
        if num_frames == 2:
            # One window [0, 1]: the overlap is irrelevant, but an anchored 2-frame window has no valid overlap
            # (>= 1 for the shared frame 0, < window - 1). Unanchored gives the same window, weights and noise.
            return FusionSchedule(2, 0, self.weighting, self.noise, False, self.tail)
        overlap = min(self.overlap, num_frames - 2)
        overlap = max(overlap, 1 if self.anchor_reference else 0)
        return FusionSchedule(num_frames, overlap, self.weighting, self.noise, self.anchor_reference, self.tail)


def window_indices(num_frames: int, schedule: FusionSchedule) -> list[list[int]]:
    """Frame indices of every window, in order.

    Anchored (official): for i = 0, S, 2S, ... while i <= N - T: [0, i+1, ..., i+T-1]; if frames remain, a tail
    window [0, N-T+1, ..., N-1] ("official") or [0, i'+1, ..., N-1] with i' the next stride start ("shrink").
    Unanchored: plain windows [i, ..., i+T-1] with the same tail rule.
    """
    sch = schedule.fitted(num_frames)
    n, t, s = num_frames, sch.window, sch.stride
    starts = list(range(0, n - t + 1, s))
    if sch.anchor_reference:
        wins = [[0, *range(i + 1, i + t)] for i in starts]
        if wins[-1][-1] < n - 1:
            first = n - t + 1 if sch.tail == "official" else starts[-1] + s + 1
            wins.append([0, *range(first, n)])
    else:
        wins = [list(range(i, i + t)) for i in starts]
        if wins[-1][-1] < n - 1:
            first = n - t if sch.tail == "official" else starts[-1] + s
            wins.append(list(range(first, n)))
    return wins


def _position_weights(kind: str, length: int) -> torch.Tensor:
    k = torch.arange(length, dtype=torch.float32)
    if kind == "triangular":
        # Official: u = 2(k + 0.5) / T, w = min(u, 2 - u): 1/T at the edges, ~1 in the middle.
        u = (k + 0.5) * 2.0 / length
        return torch.minimum(u, 2.0 - u)
    if kind == "pyramid":
        # AnimateDiff-Evolved's default: 1, 2, ..., L/2, ..., 2, 1.
        return torch.minimum(k + 1.0, length - k)
    if kind == "flat":
        return torch.ones(length)
    if kind == "gaussian":
        centre, sd = (length - 1) / 2.0, max(length / 4.0, 1e-3)
        return torch.exp(-0.5 * ((k - centre) / sd) ** 2)
    raise ValueError(f"Unknown weighting {kind!r}")


def window_weights(windows: list[list[int]], schedule: FusionSchedule) -> list[torch.Tensor]:
    """Per-position fusion weights (float32 [len(window)], all > 0) for each window of :func:`window_indices`.

    "overlap-linear" is 1 except linear ramps over the frames a window actually shares with its neighbours
    (so the uneven official tail window ramps over its whole shared stretch); the anchored frame 0 gets 1.
    """
    if schedule.weighting != "overlap-linear":
        return [_position_weights(schedule.weighting, len(w)) for w in windows]
    skip = 1 if schedule.anchor_reference else 0
    gens = [w[skip:] for w in windows]
    out = []
    for j, gen in enumerate(gens):
        w = torch.ones(len(gen))
        shared_in = len(set(gen) & set(gens[j - 1])) if j > 0 else 0
        shared_out = len(set(gen) & set(gens[j + 1])) if j + 1 < len(gens) else 0
        for r in range(shared_in):
            w[r] = min(w[r].item(), (r + 1) / (shared_in + 1))
        for r in range(shared_out):
            w[len(gen) - 1 - r] = min(w[len(gen) - 1 - r].item(), (r + 1) / (shared_out + 1))
        out.append(torch.cat([torch.ones(skip), w]))
    return out


def initial_noise(
    shape: tuple[int, int, int], num_frames: int, schedule: FusionSchedule, generator: torch.Generator | None,
    dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Unit-variance starting noise [F, C, h, w] (scale by the first sigma's input scale yourself).

    "repeated" (official): T noises drawn as one (1, T, C, h, w) tensor, frame k gets noise[k mod T], so the same
    generator reproduces the official latents. "freenoise" (Qiu et al. 2023): the first T frames are drawn, each
    later block of T-O frames is a shuffled copy of the T-O noises one window earlier. "independent": all drawn.
    """
    sch = schedule.fitted(num_frames)
    c, h, w = shape
    t = sch.window
    if sch.noise == "independent":
        return torch.randn((1, num_frames, c, h, w), generator=generator, dtype=dtype, device=device)[0]
    base = torch.randn((1, t, c, h, w), generator=generator, dtype=dtype, device=device)[0]
    if sch.noise == "repeated":
        reps = math.ceil(num_frames / t)
        return base.repeat(reps, 1, 1, 1)[:num_frames]
    noise = torch.empty((num_frames, c, h, w), dtype=dtype, device=device)
    noise[: min(t, num_frames)] = base[: min(t, num_frames)]
    return freenoise_fill(noise, t, sch.stride, generator)


def freenoise_fill(noise: torch.Tensor, window: int, stride: int, generator: torch.Generator | None) -> torch.Tensor:
    """FreeNoise in place along dim 0: frames from ``window`` on, in blocks of ``stride``, become a shuffled copy
    of the block one window earlier (the first ``window`` frames are kept). Returns ``noise``."""
    num_frames = noise.shape[0]
    for start in range(window, num_frames, stride):
        src = torch.arange(start - window, start - window + stride)
        perm = torch.randperm(stride, generator=generator, device=generator.device if generator else "cpu")
        block = noise[src[perm.to(src.device)].to(noise.device)]
        stop = min(start + stride, num_frames)
        noise[start:stop] = block[: stop - start]
    return noise


@dataclass(frozen=True)
class FrameCountAdvice:
    """How well a frame count (reference frame included) fits the windows."""

    num_frames: int
    windows: int
    tail_new_frames: int  # frames only the tail window adds (0 = no tail window)
    fewer: int  # nearest efficient count below (or num_frames)
    more: int  # nearest efficient count at or above
    wasteful: bool

    def message(self) -> str:
        if not self.wasteful:
            return f"{self.num_frames} frames fit {self.windows} window(s) without waste."
        return (
            f"{self.num_frames} frames need {self.windows} windows, but the last one only adds "
            f"{self.tail_new_frames} new frame(s): a near-duplicate window of work. {self.fewer} frames "
            f"({self.windows - 1} windows) or {self.more} frames ({self.windows} windows, all used) cost "
            "the same per window (counts include the reference frame); or set the fusion tail to 'shrink'."
        )


def frame_count_advice(num_frames: int, schedule: FusionSchedule) -> FrameCountAdvice:
    """Efficient counts are N = T + m(T - O); a tail window adding fewer than half a stride is flagged wasteful."""
    sch = schedule.fitted(num_frames)
    t, s = sch.window, sch.stride
    wins = window_indices(num_frames, sch)
    rem = (num_frames - t) % s
    fewer = num_frames - rem
    more = fewer + (s if rem else 0)
    wasteful = 0 < rem < s / 2 and sch.tail == "official"
    return FrameCountAdvice(num_frames, len(wins), rem, fewer, more, wasteful)
