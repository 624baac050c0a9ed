"""Training data of the region codebook: clips of VAE latents + whole-body poses + hand clarity + a reference.

From a folder of videos: each video is decoded with PyAV (models.audio.dataset.decode_video, no sound needed),
resized and centre-cropped to the training size, its poses found with a PoseBackend (DWPose), the hand clarity of
every frame scored (models.hands.clarity), and its frames encoded by the VAE, chunk by chunk; all of it is cached as
.npz keyed by file content + settings + VAE, so a second run reads the cache. From arrays: frames (IMAGE) + a pose.

The reference of a clip is its first usable frame (pixels and pose). Frames whose hand clarity is below
``min_hand_clarity`` are dropped (not trained on); the clip's median clarity is the clarity condition.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...pose.layout import CONFIDENCE_GATE
from ..components import VideoComponents
from ..conditioning import resize_center_crop
from .regions import confident_hand_mask, hand_heatmaps, movement_box_map, region_masks

logger = logging.getLogger(__name__)

MIN_FRAMES = 2


@dataclass
class RegionClip:
    """latents float16 [F, 4, h, w] (diffusion space: VAE sample x scaling factor); keypoints float32 [F, 133, 3]
    normalised; clarity float32 [F] (sharper visible hand; NaN = no hand); valid bool [F]; reference uint8
    [H, W, 3] and reference_keypoints [133, 3]."""

    name: str
    latents: torch.Tensor
    keypoints: np.ndarray
    clarity: np.ndarray
    valid: np.ndarray
    reference: np.ndarray
    reference_keypoints: np.ndarray

    @property
    def clarity_condition(self) -> float:
        c = self.clarity[self.valid & np.isfinite(self.clarity)]
        return float(np.median(c)) if len(c) else float("nan")


@dataclass
class RegionBatch:
    """One training batch: B clips of n frames. latents [B, n, 4, h, w]; poses [B * n, 3, H, W] 0..1 (MimicMotion
    pose images); masks [B, n, 2, h, w]; hand_mask [B, n, h, w]; heatmaps [B, n, 42, h, w] + heat_weight [B, n, 42];
    valid [B, n]; movement [B, 1, H, W]; clarity [B] (NaN = unknown); clips: index of each clip."""

    latents: torch.Tensor
    poses: torch.Tensor
    masks: torch.Tensor
    hand_mask: torch.Tensor
    heatmaps: torch.Tensor
    heat_weight: torch.Tensor
    valid: torch.Tensor
    movement: torch.Tensor
    clarity: torch.Tensor
    clips: list[int]


POSE_CACHE_BYTES = 1 << 30  # rendered pose images kept in memory up to this size (else drawn per batch)


class RegionDataset:
    """Clips of one size + random fixed-length windows of usable frames.

    MimicMotion pose images (the PoseNet input) are drawn from the keypoints once per frame and kept while they
    fit ``POSE_CACHE_BYTES``; beyond that they are drawn per batch."""

    def __init__(self, clips: list[RegionClip], size: tuple[int, int], hand_threshold: float = 0.6) -> None:
        clips = [c for c in clips if int(c.valid.sum()) >= MIN_FRAMES]
        if not clips:
            raise ValueError("the region training set is empty: no clip has at least 2 usable frames (a visible "
                             "person with sharp enough hands); lower min_hand_clarity or add videos")
        self.clips, self.size, self.hand_threshold = clips, size, hand_threshold
        self.latent_size = tuple(clips[0].latents.shape[-2:])
        total = sum(len(c.keypoints) for c in clips) * size[0] * size[1] * 3
        self._poses: dict[int, np.ndarray] | None = {} if total <= POSE_CACHE_BYTES else None

    def pose_images(self, index: int, frames: np.ndarray) -> np.ndarray:
        """uint8 [n, H, W, 3] MimicMotion pose images of frames ``frames`` of clip ``index``."""
        from ...pose.render import render_pose
        from ...pose.types import PoseSequence

        clip = self.clips[index]
        height, width = self.size
        if self._poses is None:
            return render_pose(PoseSequence(clip.keypoints[frames][:, None], (width, height)), "mimicmotion",
                               (width, height))
        if index not in self._poses:
            self._poses[index] = render_pose(PoseSequence(clip.keypoints[:, None], (width, height)), "mimicmotion",
                                             (width, height))
        return self._poses[index][frames]

    @property
    def num_frames(self) -> int:
        return int(sum(c.valid.sum() for c in self.clips))

    def window(self, clip: RegionClip, length: int, rng: np.random.Generator) -> np.ndarray:
        """Frame indices: ``length`` consecutive usable frames (repeating the last when the clip is shorter)."""
        idx = np.flatnonzero(clip.valid)
        start = int(rng.integers(0, max(1, len(idx) - length + 1)))
        sel = idx[start : start + length]
        return np.concatenate([sel, np.full(length - len(sel), sel[-1])]) if len(sel) < length else sel

    def batch(self, size: int, length: int, rng: np.random.Generator, picks: list[int] | None = None) -> RegionBatch:
        weights = np.array([c.valid.sum() for c in self.clips], np.float64)
        p = weights / weights.sum()
        chosen = picks if picks is not None else rng.choice(len(self.clips), size=size, p=p).tolist()
        h, w = self.latent_size
        height, width = self.size
        lat, poses, masks, hands, heat, heat_w, valid, move, clar = [], [], [], [], [], [], [], [], []
        for i in chosen:
            clip = self.clips[i]
            sel = self.window(clip, length, rng)
            kp = clip.keypoints[sel]
            lat.append(clip.latents[sel].float())
            poses.append(self.pose_images(i, sel))
            masks.append(region_masks(kp, (width, height), (h, w)))
            hands.append(confident_hand_mask(kp, (width, height), (h, w), self.hand_threshold))
            hm, hw = hand_heatmaps(kp, (h, w))
            heat.append(hm)
            heat_w.append(hw)
            valid.append(np.ones(length, np.float32))
            move.append(movement_box_map(clip.keypoints[clip.valid], (width, height), (height, width)))
            clar.append(clip.clarity_condition)
        pose_px = torch.from_numpy(np.concatenate(poses)).permute(0, 3, 1, 2).float() / 255.0
        return RegionBatch(
            torch.stack(lat), pose_px, torch.from_numpy(np.stack(masks)), torch.from_numpy(np.stack(hands)),
            torch.from_numpy(np.stack(heat)), torch.from_numpy(np.stack(heat_w)), torch.from_numpy(np.stack(valid)),
            torch.from_numpy(np.stack(move))[:, None], torch.tensor(clar, dtype=torch.float32), list(chosen),
        )


@torch.no_grad()
def encode_frames(components: VideoComponents, frames: torch.Tensor, device: torch.device | str,
                  chunk: int = 8) -> torch.Tensor:
    """Frames float [F, 3, H, W] 0..1 -> diffusion-space latents float16 [F, 4, H/8, W/8] on the CPU
    (posterior mean x scaling factor: a deterministic cache)."""
    vae: Any = components.vae
    out = []
    for i in range(0, len(frames), chunk):
        x = (frames[i : i + chunk] * 2.0 - 1.0).to(device=device, dtype=components.dtype)
        out.append((vae.encode(x).latent_dist.mode() * components.vae_scaling_factor).float().cpu())
    return torch.cat(out).to(torch.float16)


def usable(keypoints: np.ndarray, clarity: np.ndarray, min_body_confidence: float,
           min_hand_clarity: float) -> np.ndarray:
    """bool [F]: a confident body and (when asked) no visible hand blurrier than ``min_hand_clarity``."""
    ok = keypoints[:, :17, 2].mean(axis=1) >= min_body_confidence
    if min_hand_clarity > 0:
        ok &= ~np.where(np.isfinite(clarity), clarity < min_hand_clarity, False)
    return ok


def clip_from_arrays(components: VideoComponents, frames: torch.Tensor, keypoints: np.ndarray, clarity: np.ndarray,
                     device: torch.device | str, name: str = "clip", min_body_confidence: float = CONFIDENCE_GATE,
                     min_hand_clarity: float = 0.0, latents: torch.Tensor | None = None) -> RegionClip:
    """frames float [F, 3, H, W] 0..1 at the training size; keypoints [F, 133, 3] normalised to those frames;
    clarity [F] (NaN = unknown)."""
    if len(frames) != len(keypoints):
        raise ValueError(f"{name}: {len(frames)} frames but {len(keypoints)} poses; they must be the same clip")
    valid = usable(keypoints, clarity, min_body_confidence, min_hand_clarity)
    if not valid.any():
        valid = np.zeros(len(frames), bool)
        ref = 0
    else:
        ref = int(np.argmax(valid))
    lat = latents if latents is not None else encode_frames(components, frames, device)
    pixels = (frames[ref].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return RegionClip(name, lat, keypoints.astype(np.float32), clarity.astype(np.float32), valid, pixels,
                      keypoints[ref].astype(np.float32))


def _vae_fingerprint(components: VideoComponents) -> str:
    digest = hashlib.sha1()
    for _, p in list(components.vae.state_dict().items())[:4]:
        digest.update(p.detach().float().cpu().numpy().tobytes()[:4096])
    return digest.hexdigest()[:12]


def extract_video_clip(path: str, components: VideoComponents, backend: Any, size: tuple[int, int], fps: float,
                       cache_dir: str | None, device: torch.device | str,
                       progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray] | None:
    """Poses, hand clarity, latents and the first frame of one video at ``size`` = (H, W), from the cache when the
    file, the settings and the VAE match. Returns arrays (keypoints [F,133,3], clarity [F], latents [F,4,h,w]
    float16, first uint8 [H,W,3]) or None for a video without frames."""
    from ...audio.learned.dataset import decode_video, file_hash
    from ...hands.clarity import frame_scores, hand_clarity
    from ...pose.extract import extract_poses

    settings = {"size": list(size), "fps": fps, "backend": getattr(backend, "name", type(backend).__name__),
                "vae": _vae_fingerprint(components), "v": 1}
    key = f"{file_hash(path)[:20]}_{hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]}"
    cache = os.path.join(cache_dir, f"region_{key}.npz") if cache_dir else None
    if cache and os.path.isfile(cache):
        try:
            with np.load(cache, allow_pickle=False) as data:
                logger.info("%s: using cached extraction %s", path, cache)
                return {k: data[k] for k in ("keypoints", "clarity", "latents", "first")}
        except (OSError, KeyError, ValueError) as exc:
            logger.warning("%s: cache %s unreadable (%s); extracting again", path, cache, exc)
    chunks, _info = decode_video(path, fps, max_side=max(size) * 2)
    kps, clar, lats, first = [], [], [], None
    for chunk in chunks:
        px = resize_center_crop(torch.from_numpy(chunk).permute(0, 3, 1, 2).float() / 255.0, size)
        u8 = (px.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()
        pose = extract_poses(u8, backend, fps=fps, person="largest", max_people=1)
        kp = pose.keypoints[:, 0] if pose.num_people else np.zeros((len(u8), 133, 3), np.float32)
        kps.append(kp)
        clar.append(frame_scores(hand_clarity(u8, pose)[:, :1], "max") if pose.num_people else
                    np.full(len(u8), np.nan, np.float32))
        lats.append(encode_frames(components, px, device).numpy())
        first = u8[0] if first is None else first
        if progress:
            progress(len(u8))
    if first is None:
        logger.warning("%s has no video frames; skipped", path)
        return None
    out = {"keypoints": np.concatenate(kps).astype(np.float32), "clarity": np.concatenate(clar).astype(np.float32),
           "latents": np.concatenate(lats), "first": first}
    if cache and cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        np.savez_compressed(cache, **out)
    return out


def build_region_dataset(folder: str, components: VideoComponents, backend: Any, size: tuple[int, int],
                         fps: float = 25.0, cache_dir: str | None = None, device: torch.device | str = "cpu",
                         min_body_confidence: float = CONFIDENCE_GATE, min_hand_clarity: float = 0.0,
                         progress: Callable[[int], None] | None = None) -> RegionDataset:
    """Every video in ``folder`` (sorted, non-recursive) -> RegionDataset at ``size`` = (H, W)."""
    from ...audio.learned.dataset import VIDEO_EXTENSIONS

    if not os.path.isdir(folder):
        raise FileNotFoundError(f"training video folder not found: {folder}")
    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(VIDEO_EXTENSIONS))
    if not paths:
        raise ValueError(f"no videos ({', '.join(VIDEO_EXTENSIONS)}) in {folder}; put videos of one person there")
    clips = []
    for path in paths:
        arrays = extract_video_clip(path, components, backend, size, fps, cache_dir, device, progress)
        if arrays is None:
            continue
        kp, clarity = arrays["keypoints"], arrays["clarity"]
        valid = usable(kp, clarity, min_body_confidence, min_hand_clarity)
        if not valid.any():
            logger.warning("%s: no usable frame (confident body, sharp hands); skipped", path)
            continue
        ref = int(np.argmax(valid))
        first_px = arrays["first"] if ref == 0 else _frame_at(path, fps, size, ref)
        clips.append(RegionClip(os.path.basename(path), torch.from_numpy(arrays["latents"]), kp, clarity, valid,
                                first_px, kp[ref]))
    logger.info("region training set: %d of %d videos usable", len(clips), len(paths))
    return RegionDataset(clips, size)


def _frame_at(path: str, fps: float, size: tuple[int, int], index: int) -> np.ndarray:
    from ...audio.learned.dataset import decode_video

    chunks, _ = decode_video(path, fps, max_side=max(size) * 2)
    seen = 0
    for chunk in chunks:
        if index < seen + len(chunk):
            px = resize_center_crop(torch.from_numpy(chunk[index - seen : index - seen + 1]).permute(0, 3, 1, 2)
                                    .float() / 255.0, size)
            return (px[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        seen += len(chunk)
    raise ValueError(f"{path}: frame {index} not found")
