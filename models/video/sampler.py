"""MimicMotion sampling: EDM Euler with v-prediction, progressive latent fusion, per-video CFG ramp, pose schedule.

Maths of the official pipeline (Tencent/MimicMotion pipeline_mimicmotion.py, diffusers EulerDiscreteScheduler with
SVD's config), restructured so no work is repeated: PoseNet runs once per frame (not per window and step), the
reference is encoded once, cond and uncond share one UNet call when memory allows, and one solver step updates the
whole video after all windows are fused. The solver is scheduler_edm.EDMEulerScheduler (or, on request,
DPM-Solver++(2M) from the same file), built from the loaded SVD scheduler config. Latents are [F, 4, h, w] with
frame 0 the reference pose's frame.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .components import VideoComponents, choose_cfg_batching
from .conditioning import ReferenceConditioning, encode_reference
from .feature_reuse import FeatureCache, check_reusable, is_full_step
from .frame_cfg import frame_cfg_scale
from .fusion import FusionSchedule, frame_count_advice, initial_noise, window_indices, window_weights
from .init_latents import encode_frames, start_step
from .region.attach import RegionHandle, attach_region_codebook
from .region.sampling import RegionGuide, window_masks
from .scheduler_edm import check_solver, make_scheduler
from .unet_hook import pose_residual

if TYPE_CHECKING:
    from .posenet import PoseNet
    from .region.conditions import MovementMapEncoder

logger = logging.getLogger(__name__)


@dataclass
class SamplerSettings:
    """User controls. cfg ramps linearly from cfg_min (frame 0) to cfg_max (last frame) over the whole video;
    cfg_max <= 1 runs a single conditional pass. Pose features are added on steps i with
    pose_start <= i / steps < pose_end, scaled by pose_strength.

    free_memory: bytes free on the compute device (ComfyUI's estimate, passed in by the node) after the UNet and
    room for one UNet call are in place; with it, cond + uncond are batched only when the batched call fits
    (``components.choose_cfg_batching``); None keeps ``batch_cfg`` as set. guidance_sigma_min/max: classifier-free
    guidance only on steps whose sigma lies in [min, max] (Kynkaanniemi et al. 2024, "Applying guidance in a limited
    interval"); other steps run the conditional pass alone. The defaults (0, inf) cover every step: exactly the
    official sampler. feature_reuse_interval: DeepCache (Ma et al. 2024, models/video/feature_reuse.py): a full UNet
    pass every n-th step, only the outer level on the steps between, on the deep features of the last full step;
    1 (default) = off, exactly the official sampler."""

    steps: int = 25
    seed: int = 0
    cfg_min: float = 2.0
    cfg_max: float = 2.0
    fps_condition: float = 6.0
    motion_bucket: float = 127.0
    noise_aug: float = 0.0
    pose_strength: float = 1.0
    pose_start: float = 0.0
    pose_end: float = 1.0
    image_embed_strength: float = 1.0
    schedule: str = "karras"
    batch_cfg: bool = True  # cond + uncond in one UNet call; falls back to two calls on out-of-memory
    pose_cache_bytes: int = 2 << 30  # keep PoseNet features for all frames up to this size, else recompute per window
    init_strength: float = 0.0  # with init latents (a pose warp): skip this fraction of the steps (SDEdit)
    free_memory: int | None = None  # bytes; decides batch_cfg by the batched call's activation estimate
    guidance_sigma_min: float = 0.0  # EDM sigma units (SVD: 700 -> 0.002)
    guidance_sigma_max: float = math.inf
    feature_reuse_interval: int = 1  # 1 = off; n > 1: full UNet every n-th step, outer level only in between
    feature_cache_bytes: int = 2 << 30  # kept deep features stay on the compute device up to this, then the CPU
    solver: str = "euler"  # "euler" (official) or "dpmpp_2m" (second order: fewer steps; scheduler_edm.py)

    def validate(self) -> None:
        if self.cfg_min > self.cfg_max:
            raise ValueError(f"cfg_min ({self.cfg_min}) is larger than cfg_max ({self.cfg_max}); the guidance ramps "
                             "from cfg_min at the first frame to cfg_max at the last, so set cfg_min <= cfg_max.")
        if self.cfg_min < 0:
            raise ValueError(f"cfg_min must be >= 0, got {self.cfg_min}.")
        if not 0.0 <= self.pose_start <= self.pose_end <= 1.0:
            raise ValueError(f"Need 0 <= pose_start <= pose_end <= 1; got {self.pose_start} and {self.pose_end}.")
        if self.noise_aug < 0:
            raise ValueError(f"noise_aug must be >= 0, got {self.noise_aug}.")
        if not 0.0 <= self.init_strength <= 1.0:
            raise ValueError(f"init_strength must be in [0, 1], got {self.init_strength}.")
        if not 0.0 <= self.guidance_sigma_min <= self.guidance_sigma_max:
            raise ValueError(f"Need 0 <= guidance_sigma_min <= guidance_sigma_max; got {self.guidance_sigma_min} "
                             f"and {self.guidance_sigma_max}. SVD's sigmas run from 700 down to 0.002.")
        check_solver(self.solver)
        if self.feature_reuse_interval < 1:
            raise ValueError(f"feature_reuse_interval must be >= 1 (1 = off, 2 = a full UNet pass every second "
                             f"step), got {self.feature_reuse_interval}.")

    @property
    def do_cfg(self) -> bool:
        return self.cfg_max > 1.0

    def pose_active(self, step: int) -> bool:
        return self.pose_strength != 0.0 and self.pose_start <= step / self.steps < self.pose_end

    def guidance_active(self, sigma: float) -> bool:
        """Whether cfg applies at noise level ``sigma`` (the step's input sigma); always False when cfg is off."""
        return self.do_cfg and self.guidance_sigma_min <= sigma <= self.guidance_sigma_max


Progress = Callable[[int, int], None]  # (windows done, total windows = steps * windows)
Interrupt = Callable[[], None]  # raises to stop; called before every window
Preview = Callable[[int, torch.Tensor], None]  # (step, denoised x0 [F, 4, h, w] float32)


def _check_finite(x: torch.Tensor, step: int, sigma: float) -> None:
    if not torch.isfinite(x).all():
        raise FloatingPointError(
            f"The video latents became NaN/infinite at step {step + 1} (sigma {sigma:.4g}); continuing would give a "
            "black video. This is usually a float16 overflow: load the video model in bfloat16 or float32, or lower "
            "cfg / pose_strength."
        )


class _PoseFeatures:
    """PoseNet outputs per frame: all computed once when they fit ``budget`` bytes, else per window on demand.

    ``encode`` replaces PoseNet's call (the region codebook's movement-map encoder reuses this cache)."""

    def __init__(self, pose_net: PoseNet | MovementMapEncoder, poses: torch.Tensor, dtype: torch.dtype,
                 device: torch.device | str, budget: int, chunk: int,
                 encode: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        self.pose_net, self.poses, self.dtype, self.device = pose_net, poses, dtype, device
        self.encode = encode
        f, _, h, w = poses.shape
        nbytes = f * pose_net.out_channels * (h // 8) * (w // 8) * torch.finfo(dtype).bits // 8
        self.cache: torch.Tensor | None = None
        if nbytes <= budget:
            parts = [self._run(poses[i : i + chunk]) for i in range(0, f, chunk)]
            self.cache = torch.cat(parts)
        else:
            logger.info("PoseNet features for %d frames need %.1f GiB > cache budget: computed per window.",
                        f, nbytes / 2**30)

    def _run(self, frames: torch.Tensor) -> torch.Tensor:
        if self.encode is not None:
            return self.encode(frames.to(self.device))
        return self.pose_net((frames * 2.0 - 1.0).to(device=self.device, dtype=self.dtype))

    def __getitem__(self, idx: list[int]) -> torch.Tensor:
        return self.cache[idx] if self.cache is not None else self._run(self.poses[idx])


class _UNetCaller:
    """One window's model output (v-prediction) for the uncond and cond passes."""

    def __init__(self, comps: VideoComponents, cond: ReferenceConditioning, batch_cfg: bool,
                 region: RegionHandle | None = None, features: FeatureCache | None = None) -> None:
        self.unet, self.dtype, self.batch_cfg = comps.unet, comps.dtype, batch_cfg
        self.features = features  # feature reuse (DeepCache): None = every call is a stock UNet call
        self.full_step = True  # set per step by ``denoise``: False lets calls reuse kept deep features
        self.region = region  # an attached region codebook: gets each call's movement residual
        self.embed = cond.clip_embed
        self.image_latent = cond.image_latent  # [1, 4, h, w]; broadcast over window frames, never repeated over F
        self.time_ids = cond.time_ids.to(comps.dtype)

    def _reuse(self, key: tuple[int, str] | None, batch_frames: int) -> AbstractContextManager[None]:
        cache = self.features
        if cache is None or key is None:
            return nullcontext()
        if not self.full_step and cache.can_reuse(key, batch_frames):
            return cache.reuse(self.unet, key)
        return cache.capture(self.unet, key)  # a full call (also when this pass has nothing kept yet)

    def _call(self, x: torch.Tensor, t: torch.Tensor, embed: torch.Tensor, time_ids: torch.Tensor,
              pose: torch.Tensor | None, strength: float, movement: torch.Tensor | None = None,
              key: tuple[int, str] | None = None) -> torch.Tensor:
        if self.region is not None:
            self.region.movement = movement
        with pose_residual(self.unet, pose, strength), self._reuse(key, x.shape[0] * x.shape[1]):
            return self.unet(x, t, encoder_hidden_states=embed, added_time_ids=time_ids, return_dict=False)[0]

    def __call__(self, x: torch.Tensor, t: torch.Tensor, pose: torch.Tensor | None, strength: float,
                 do_cfg: bool, movement: torch.Tensor | None = None,
                 window: int = 0) -> tuple[torch.Tensor | None, torch.Tensor]:
        """x: scaled noisy latents [T, 4, h, w]; movement: the codebook's conv_in residual [T, C, h, w] or None
        (conditional pass only, like the pose); window: the window's index (keys the kept features of feature
        reuse); returns (v_uncond or None, v_cond), each [T, 4, h, w]."""
        n = x.shape[0]
        x = x.to(self.dtype)
        ref = self.image_latent.expand(n, -1, -1, -1)
        x_cond = torch.cat([x, ref], dim=1)[None]  # [1, T, 8, h, w]
        if not do_cfg:
            return None, self._call(x_cond, t, self.embed, self.time_ids, pose, strength, movement,
                                    (window, "cond"))[0]
        x_unc = torch.cat([x, torch.zeros_like(ref)], dim=1)[None]  # uncond: zero image latent, zero CLIP, no pose
        zero_embed = torch.zeros_like(self.embed)
        if self.batch_cfg:
            try:
                pose2 = None if pose is None else torch.cat([torch.zeros_like(pose), pose])
                move2 = None if movement is None else torch.cat([torch.zeros_like(movement), movement])
                out = self._call(torch.cat([x_unc, x_cond]), t, torch.cat([zero_embed, self.embed]),
                                 self.time_ids.repeat(2, 1), pose2, strength, move2, (window, "both"))
                return out[0], out[1]
            except torch.OutOfMemoryError:
                logger.warning("Out of memory with cond and uncond batched; running them as two calls from now on.")
                self.batch_cfg = False
                if self.features is not None:
                    self.features.clear()  # the batched passes' kept features are of no use to single calls
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
        v_unc = self._call(x_unc, t, zero_embed, self.time_ids, None, strength, None, (window, "uncond"))[0]
        v_cond = self._call(x_cond, t, self.embed, self.time_ids, pose, strength, movement, (window, "cond"))[0]
        return v_unc, v_cond


@torch.no_grad()
def denoise(
    components: VideoComponents,
    cond: ReferenceConditioning,
    poses: torch.Tensor,
    fusion: FusionSchedule,
    settings: SamplerSettings,
    generator: torch.Generator | None,
    device: torch.device | str,
    progress: Progress | None = None,
    interrupt: Interrupt | None = None,
    preview: Preview | None = None,
    regions: RegionGuide | None = None,
    init_latents: torch.Tensor | None = None,
) -> torch.Tensor:
    """Run the fused Euler sampler. poses: [F, 3, H, W] in 0..1 (frame 0 = the reference pose), H, W = 8x latent.

    regions: a region codebook and its inputs (attached for the whole run; see models/video/region/sampling.py).
    init_latents: [F, 4, H/8, W/8] scaled VAE latents to start from (a pose warp, models/video/init_latents.py):
        with ``settings.init_strength`` s > 0 the first ``start_step(s, steps)`` steps (round(s * steps), half up,
        the last step always runs) are skipped and sampling starts from init_latents + sigma_start * noise (SDEdit)
        in every window. None or s = 0: pure noise, all steps.

    Returns float32 latents [F, 4, H/8, W/8] on the CPU (unscaled: divide by the VAE scaling factor to decode).
    The generator is consumed after ``encode_reference`` (official order: noise-aug noise, then initial noise).
    """
    settings.validate()
    n, _, height, width = poses.shape
    if n < 2:
        raise ValueError(f"Need the reference pose plus at least one driving pose (2+ frames); got {n}.")
    fusion = fusion.resolved(components.version).fitted(n)
    advice = frame_count_advice(n, fusion)
    if advice.wasteful:
        logger.warning(advice.message())
    windows = window_indices(n, fusion)
    weights = [w.to(device).view(-1, 1, 1, 1) for w in window_weights(windows, fusion)]
    scheduler = make_scheduler(settings.solver, components.scheduler_config, settings.schedule)
    sigmas = scheduler.set_timesteps(settings.steps)
    h, w = height // 8, width // 8
    if tuple(cond.image_latent.shape[-2:]) != (h, w):
        raise ValueError(f"Reference latent {tuple(cond.image_latent.shape[-2:])} does not match the pose frames' "
                         f"latent size {(h, w)}; encode the reference at the pose frames' size.")

    noise = initial_noise((4, h, w), n, fusion, generator)
    start = 0 if init_latents is None else start_step(settings.init_strength, settings.steps)
    if start == 0:
        latents = (noise * scheduler.init_noise_sigma).to(device)  # float32 master copy, as diffusers upcasts
    else:
        assert init_latents is not None
        if tuple(init_latents.shape) != (n, 4, h, w):
            raise ValueError(f"init latents {tuple(init_latents.shape)} must be one [4, {h}, {w}] latent per video "
                             f"frame ({n} frames, reference frame included).")
        # SDEdit: the warp's latents noised to the sigma of the first step that runs (x_sigma = x0 + sigma * eps).
        latents = (init_latents.float() + sigmas[start] * noise).to(device)
        logger.info("Starting from the init latents at step %d of %d (sigma %.4g).", start + 1, settings.steps,
                    float(sigmas[start]))
    del noise
    guidance = frame_cfg_scale(n, settings.cfg_min, settings.cfg_max, ndim=4, dim=0, device=device)
    cfg_on = [settings.guidance_active(float(sigmas[i])) for i in range(settings.steps)]
    do_cfg = any(cfg_on[start:])  # steps before start (skipped by init_strength) never run
    if not settings.do_cfg:
        logger.info("cfg_max <= 1: one conditional pass per window (no classifier-free guidance).")
    elif not all(cfg_on[start:]):
        logger.info("Guidance interval [%g, %g]: cfg on %d of %d steps, the conditional pass alone on the rest.",
                    settings.guidance_sigma_min, settings.guidance_sigma_max, sum(cfg_on[start:]),
                    settings.steps - start)
    batch_cfg = settings.batch_cfg
    if do_cfg and batch_cfg and settings.free_memory is not None:
        unet_config = getattr(components.unet, "config", None)
        choice = choose_cfg_batching(settings.free_memory, max(map(len, windows)), h, w, components.dtype,
                                     torch.device(device).type, getattr(unet_config, "block_out_channels", None))
        logger.info(choice.reason)
        batch_cfg = choice.batched
    total = (settings.steps - start) * len(windows)
    done = 0
    pose_feats = caller = acc_c = acc_u = cnt = v = v_u = x0 = x_in = pose = v_unc = v_cond = None
    move_feats = mask_acc = features = None
    hooks = ExitStack()  # the region codebook's hooks, removed in ``finally``
    try:
        handle = None if regions is None else hooks.enter_context(attach_region_codebook(
            components.unet, regions.codebook, record=regions.collect_masks, name=regions.name))
        pose_feats = _PoseFeatures(components.pose_net, poses, components.dtype, device, settings.pose_cache_bytes,
                                   chunk=fusion.window)
        if handle is not None:
            assert regions is not None
            handle.identity, handle.strength = regions.identity, regions.strength
            handle.clarity = regions.hand_clarity
            move_feats = _movement_features(regions, n, height, width, device, settings.pose_cache_bytes,
                                            fusion.window)
            if regions.collect_masks:
                mask_acc = torch.zeros(n, 1, h, w, device=device)
        features = None
        if settings.feature_reuse_interval > 1:
            check_reusable(components.unet)
            features = FeatureCache(settings.feature_reuse_interval, settings.feature_cache_bytes)
        caller = _UNetCaller(components, cond, batch_cfg, handle, features)
        acc_c = torch.zeros_like(latents)
        acc_u = torch.zeros_like(latents) if do_cfg else None
        cnt = torch.zeros(n, 1, 1, 1, device=device)
        for step in range(start, settings.steps):
            t = scheduler.timestep(step).to(device)
            use_pose = settings.pose_active(step)
            step_cfg = cfg_on[step]  # False outside the guidance interval: no uncond pass
            acc_c.zero_()
            cnt.zero_()
            if acc_u is not None and step_cfg:
                acc_u.zero_()
            # Region masks are read on the last step from every stage, so that step runs the whole UNet.
            caller.full_step = is_full_step(step, start, settings.feature_reuse_interval) or (
                mask_acc is not None and step == settings.steps - 1)
            for wi, (idx, wt) in enumerate(zip(windows, weights, strict=True)):
                if interrupt is not None:
                    interrupt()
                x_in = scheduler.scale_model_input(latents[idx], step)
                pose = pose_feats[idx] if use_pose else None
                move = move_feats[idx] if move_feats is not None else None
                v_unc, v_cond = caller(x_in, t, pose, settings.pose_strength, step_cfg, move, wi)
                if mask_acc is not None and handle is not None and step == settings.steps - 1:
                    wmask = window_masks(handle, len(idx), (h, w))
                    if wmask is not None:
                        mask_acc[idx] += wt * wmask.to(device)
                acc_c[idx] += wt * v_cond.float()
                if acc_u is not None and step_cfg:
                    assert v_unc is not None  # step_cfg: the caller ran the uncond pass
                    acc_u[idx] += wt * v_unc.float()
                cnt[idx] += wt
                done += 1
                if progress is not None:
                    progress(done, total)
            v = acc_c.div_(cnt)
            if acc_u is not None and step_cfg:
                v_u = acc_u.div_(cnt)
                v = v_u.add_(guidance * (v - v_u))  # per-frame CFG after fusion, as official
            x0 = scheduler.step(v, step, latents)  # in place: v's buffer (the accumulator) now holds x0
            _check_finite(latents, step, float(sigmas[step]))
            if preview is not None:
                preview(step, x0.clone())  # the accumulator is zeroed by the next step
        if mask_acc is not None and regions is not None and cnt is not None:
            regions.masks = (mask_acc / cnt).cpu()
        if features is not None:
            logger.info("Feature reuse every %d steps: %d full UNet calls, %d on the outer level only.",
                        features.interval, features.full_calls, features.reuse_calls)
        return latents.cpu()
    finally:
        hooks.close()
        # Drop the large buffers even when an interruption propagates (the traceback keeps this frame alive).
        pose_feats = caller = acc_c = acc_u = cnt = v = v_u = x0 = x_in = pose = v_unc = v_cond = None
        move_feats = mask_acc = features = None
        del latents, weights, guidance


def _movement_features(regions: RegionGuide, frames: int, height: int, width: int,
                       device: torch.device | str, budget: int, chunk: int) -> _PoseFeatures | None:
    """The movement maps' conv_in residuals per frame (cached like PoseNet's), or None without maps."""
    maps = regions.movement_maps
    if maps is None:
        return None
    encoder = regions.codebook.movement
    if encoder is None:
        raise ValueError(f"{regions.name} has no movement-map encoder (built without one); leave movement_map "
                         "unconnected.")
    maps = maps[:, None] if maps.ndim == 3 else maps
    if maps.ndim != 4 or maps.shape[1] != 1 or tuple(maps.shape[-2:]) != (height, width) or maps.shape[0] != frames:
        raise ValueError(f"movement maps {tuple(maps.shape)} must be one [1, {height}, {width}] map per video frame "
                         f"({frames} frames, reference frame included).")
    return _PoseFeatures(encoder, maps.float(), next(encoder.parameters()).dtype, device, budget, chunk,
                         encode=encoder)


def sample_video(
    components: VideoComponents,
    reference: torch.Tensor,
    poses: torch.Tensor,
    fusion: FusionSchedule | None = None,
    settings: SamplerSettings | None = None,
    device: torch.device | str = "cpu",
    progress: Progress | None = None,
    interrupt: Interrupt | None = None,
    preview: Preview | None = None,
    regions: RegionGuide | None = None,
    init_frames: torch.Tensor | None = None,
) -> torch.Tensor:
    """Reference [1, 3, H, W] + poses [F, 3, H, W] (0..1, same size, multiples of 8; frame 0 = reference pose)
    -> latents float32 [F, 4, H/8, W/8]. One device for everything (scripts and tests; the node places modules).

    init_frames: optional [F, 3, H, W] 0..1 pixel frames to start from (frame 0 = the reference image, see
    ``init_latents.init_video_frames``); VAE-encoded only when ``settings.init_strength`` > 0."""
    settings = settings or SamplerSettings()
    settings.validate()
    fusion = (fusion or FusionSchedule()).resolved(components.version)
    generator = torch.Generator().manual_seed(int(settings.seed))
    cond = encode_reference(components, reference, generator, device, settings.noise_aug,
                            settings.image_embed_strength, settings.fps_condition, settings.motion_bucket)
    init = None
    if init_frames is not None and start_step(settings.init_strength, settings.steps) > 0:
        init = encode_frames(components, init_frames, device)
    return denoise(components, cond, poses, fusion, settings, generator, device, progress, interrupt, preview,
                   regions, init)

