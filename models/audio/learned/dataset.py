"""Training data for the motion model: (pose, audio features) pairs from arrays or from a folder of talking videos.

Each clip becomes a :class:`MotionExample`: residuals of one person relative to the clip's rest pose (the per-
keypoint median over its usable frames, or the first usable frame), a per-value loss weight (0 for filtered
frames: no person, low body confidence, blurry hands by CyberHost's hand clarity score; and for missing keypoints),
and the frame-aligned audio features. Videos are decoded with PyAV in chunks, poses come from any PoseBackend
through extract_poses, and what was extracted is cached as .npz keyed by file content hash + extraction settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ...pose.boxes import person_scale
from ...pose.layout import CONFIDENCE_GATE
from ...pose.types import PoseSequence
from .residuals import to_residuals

if TYPE_CHECKING:
    from ..features import AudioFeatures

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
MIN_RUN = 8  # shortest stretch of usable frames worth training on (0.3 s at 25 fps)


@dataclass
class FrameFilter:
    """Which frames train. min_body_confidence: mean confidence of the 17 body points; min_hand_clarity: a frame
    where a visible hand's clarity (std of the Laplacian, models.hands.clarity) is below this is dropped (0 = off)."""

    min_body_confidence: float = CONFIDENCE_GATE
    min_hand_clarity: float = 0.0


@dataclass
class MotionExample:
    """One training clip. residuals/weight float32 [F, 266]; features float32 [F, D]; valid bool [F]."""

    name: str
    residuals: np.ndarray
    weight: np.ndarray
    features: np.ndarray
    valid: np.ndarray


def usable_frames(pose: PoseSequence, person: int, rules: FrameFilter) -> np.ndarray:
    """bool [F]: frames whose person slot is present, confident enough and (if scored) has sharp hands."""
    if pose.num_people <= person:
        return np.zeros(pose.num_frames, bool)
    kp = pose.keypoints[:, person]
    ok = pose.person_present()[:, person] & (kp[:, :17, 2].mean(axis=1) >= rules.min_body_confidence)
    if pose.hand_clarity is not None and rules.min_hand_clarity > 0:
        clarity = pose.hand_clarity[:, person]
        blurry = np.where(np.isnan(clarity), False, clarity < rules.min_hand_clarity).any(axis=1)
        ok &= ~blurry
    return ok


def example_from_arrays(
    pose: PoseSequence,
    features: AudioFeatures,
    name: str = "clip",
    person: int = 0,
    reference: str = "median",
    rules: FrameFilter | None = None,
) -> MotionExample | None:
    """Pair a pose sequence with its audio features (frame counts may differ by the rounding of one frame; longer
    mismatches are an error). Returns None when no frame is usable (logged)."""
    rules = rules or FrameFilter()
    feats = np.asarray(features.features, np.float32)
    if abs(float(features.fps) - pose.fps) > 1e-3:
        raise ValueError(f"{name}: the pose is at {pose.fps} fps but the audio features at {features.fps} fps")
    if abs(len(feats) - pose.num_frames) > 2:
        raise ValueError(
            f"{name}: the pose has {pose.num_frames} frames but the audio features {len(feats)}; "
            "they must come from the same clip at the same fps"
        )
    frames = min(len(feats), pose.num_frames)
    ok = usable_frames(pose, person, rules)[:frames]
    if ok.sum() < MIN_RUN:
        logger.warning("%s: only %d usable frames (need %d); skipped", name, int(ok.sum()), MIN_RUN)
        return None
    kp = pose.keypoints[:frames, min(person, pose.num_people - 1)]
    if reference == "median":
        ref = np.median(kp[ok], axis=0)
    else:
        ref = kp[np.argmax(ok)]
    if person_scale(ref, pose.canvas) < 1.0:
        logger.warning("%s: the rest pose has fewer than two confident keypoints; skipped", name)
        return None
    residuals, weight = to_residuals(kp, ref, pose.canvas)
    weight *= ok[:, None]
    return MotionExample(name, residuals, weight, feats[:frames], ok)


class MotionDataset:
    """Examples + random fixed-length windows for training.

    window(): clips of ``length`` frames drawn from runs of usable frames (shorter runs padded at the end with
    weight 0; the causal mask keeps padding from reaching real frames).
    """

    def __init__(self, examples: list[MotionExample], fps: float, feature_names: tuple[str, ...]) -> None:
        if not examples:
            raise ValueError(
                "the training set is empty: no clip had enough usable frames (a visible, confident person)"
            )
        dims = {e.features.shape[1] for e in examples}
        if len(dims) != 1:
            raise ValueError(f"training clips have different audio feature sizes {sorted(dims)}")
        self.examples = examples
        self.fps = float(fps)
        self.feature_names = tuple(feature_names)
        self.feature_dim = dims.pop()
        self.runs: list[tuple[int, int, int]] = []
        for i, ex in enumerate(examples):
            for start, end in _runs(ex.valid):
                if end - start >= MIN_RUN:
                    self.runs.append((i, start, end))
        if not self.runs:
            raise ValueError(f"no stretch of at least {MIN_RUN} usable frames in the training clips")

    @property
    def num_frames(self) -> int:
        return int(sum(e.valid.sum() for e in self.examples))

    def motion_std(self, floor: float = 1e-3) -> np.ndarray:
        """float32 [266]: weighted std of each residual coordinate over usable frames (floored: still points)."""
        res = np.concatenate([e.residuals for e in self.examples])
        w = np.concatenate([e.weight for e in self.examples])
        total = np.maximum(w.sum(axis=0), 1.0)
        mean = (w * res).sum(axis=0) / total
        var = (w * (res - mean) ** 2).sum(axis=0) / total
        return np.maximum(np.sqrt(var), floor).astype(np.float32)

    def batch(self, size: int, length: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """(residuals [B, L, 266], features [B, L, D], weight [B, L, 266]) as float32 tensors."""
        lengths = np.array([end - start for _, start, end in self.runs], np.float64)
        picks = rng.choice(len(self.runs), size=size, p=lengths / lengths.sum())
        res = np.zeros((size, length, self.examples[0].residuals.shape[1]), np.float32)
        feats = np.zeros((size, length, self.feature_dim), np.float32)
        weight = np.zeros_like(res)
        for b, r in enumerate(picks):
            i, start, end = self.runs[r]
            ex = self.examples[i]
            n = min(length, end - start)
            s = start + int(rng.integers(0, end - start - n + 1))
            res[b, :n], weight[b, :n] = ex.residuals[s : s + n], ex.weight[s : s + n]
            feats[b, :n] = ex.features[s : s + n]
            feats[b, n:] = ex.features[s + n - 1]
        return torch.from_numpy(res), torch.from_numpy(feats), torch.from_numpy(weight)


def _runs(mask: np.ndarray) -> Iterator[tuple[int, int]]:
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    yield from zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)


def decode_video(path: str, fps: float, max_side: int = 640, chunk: int = 64) -> tuple[Iterator[np.ndarray], dict]:
    """Open a video with PyAV: (iterator of uint8 RGB chunks [n, H, W, 3] resampled to ``fps`` by nearest frame,
    info dict with "audio" = {"waveform" float32 [C, T], "sample_rate"} or None, "width", "height")."""
    import av

    try:
        with av.open(path) as container:
            if not container.streams.audio:
                audio = None
            else:
                resampler = av.AudioResampler(format="fltp", layout="mono", rate=16000)
                parts = []
                for frame in container.decode(audio=0):
                    for out in resampler.resample(frame):
                        parts.append(out.to_ndarray())
                for out in resampler.resample(None):
                    parts.append(out.to_ndarray())
                audio = {"waveform": np.concatenate(parts, axis=1).astype(np.float32), "sample_rate": 16000}
            stream = container.streams.video[0]
            w, h = stream.codec_context.width, stream.codec_context.height
    except (av.error.FFmpegError, IndexError) as exc:
        raise ValueError(f"could not decode video {path}: {exc}") from exc
    scale = min(1.0, max_side / max(w, h))
    size = (max(2, round(w * scale / 2) * 2), max(2, round(h * scale / 2) * 2))

    def chunks() -> Iterator[np.ndarray]:
        with av.open(path) as container:
            buf: list[np.ndarray] = []
            wanted = 0
            last = None
            for frame in container.decode(video=0):
                t = float(frame.time or 0.0)
                img = None
                # Emit every output frame whose time this source frame is the latest one at or before.
                while wanted / fps <= t + 0.5 / fps:
                    img = img if img is not None else frame.to_ndarray(width=size[0], height=size[1], format="rgb24")
                    buf.append(img)
                    wanted += 1
                    if len(buf) == chunk:
                        yield np.stack(buf)
                        buf = []
                last = frame
            if buf:
                yield np.stack(buf)
            del last

    return chunks(), {"audio": audio, "width": size[0], "height": size[1]}


def file_hash(path: str) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_video(
    path: str, backend: Any, fps: float, cache_dir: str | None, settings: dict, progress: Callable[[int], None] | None
) -> tuple[PoseSequence, AudioFeatures] | None:
    """Pose (with hand clarity) + audio features of one video, from the cache when the file and settings match."""
    from ..features import AudioFeatures, compute_audio_features

    key = f"{file_hash(path)[:20]}_{hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]}"
    cache = os.path.join(cache_dir, f"{key}.npz") if cache_dir else None
    if cache and os.path.isfile(cache):
        try:
            data = np.load(cache, allow_pickle=False)
            pose = PoseSequence(data["keypoints"], tuple(data["canvas"]), float(data["fps"]), data["hand_clarity"])
            feats = AudioFeatures(data["features"], float(data["fps"]), int(data["sample_rate"]),
                                  tuple(str(n) for n in data["names"]), float(data["duration_s"]))
            logger.info("%s: using cached extraction %s", path, cache)
            return pose, feats
        except (OSError, KeyError, ValueError) as exc:
            logger.warning("%s: cache %s unreadable (%s); extracting again", path, cache, exc)
    from ...hands.clarity import hand_clarity
    from ...pose.extract import extract_poses

    chunks, info = decode_video(path, fps)
    if info["audio"] is None:
        logger.warning("%s has no audio track; skipped", path)
        return None
    keypoints, clarity = [], []
    for chunk in chunks:
        pose = extract_poses(chunk, backend, fps=fps, person="largest", max_people=1)
        if pose.num_people == 0:
            pose = PoseSequence.empty(len(chunk), pose.canvas, fps)
        keypoints.append(pose.keypoints[:, :1])
        clarity.append(hand_clarity(chunk, pose)[:, :1])
        if progress:
            progress(len(chunk))
    if not keypoints:
        logger.warning("%s has no video frames; skipped", path)
        return None
    pose = PoseSequence(np.concatenate(keypoints), (info["width"], info["height"]), fps, np.concatenate(clarity))
    feats = compute_audio_features(info["audio"]["waveform"], info["audio"]["sample_rate"], fps)
    # The streams of one file start together but rarely end together (an audio tail, a last frame dropped):
    # train on the time both cover instead of rejecting the video.
    frames = min(pose.num_frames, feats.num_frames)
    if frames != pose.num_frames or frames != feats.num_frames:
        if abs(pose.num_frames - feats.num_frames) > 2:
            logger.warning("%s: the video track has %d frames at %g fps but the audio track covers %d; using the "
                           "first %d", path, pose.num_frames, fps, feats.num_frames, frames)
        pose = pose.select_frames(slice(0, frames))
        feats = AudioFeatures(feats.features[:frames], feats.fps, feats.sample_rate, feats.names, frames / fps)
    if cache and cache_dir:
        # Built with hand clarity above (select_frames keeps it); the cache loader reads it back as an array.
        assert pose.hand_clarity is not None
        os.makedirs(cache_dir, exist_ok=True)
        np.savez_compressed(
            cache, keypoints=pose.keypoints, canvas=np.array(pose.canvas), fps=fps, hand_clarity=pose.hand_clarity,
            features=feats.features, sample_rate=feats.sample_rate, names=np.array(feats.names),
            duration_s=feats.duration_s,
        )
    return pose, feats


def build_video_dataset(
    folder: str,
    backend: Any,
    fps: float = 25.0,
    cache_dir: str | None = None,
    reference: str = "median",
    rules: FrameFilter | None = None,
    progress: Callable[[int], None] | None = None,
) -> MotionDataset:
    """Every video in ``folder`` (sorted, non-recursive) -> MotionDataset. progress(frames_done) after each chunk."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"training video folder not found: {folder}")
    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(VIDEO_EXTENSIONS))
    if not paths:
        raise ValueError(f"no videos ({', '.join(VIDEO_EXTENSIONS)}) in {folder}; put talking videos with sound there")
    settings = {"fps": fps, "backend": getattr(backend, "name", type(backend).__name__), "max_side": 640, "v": 1}
    examples: list[MotionExample] = []
    names: tuple[str, ...] = ()
    for path in paths:
        pair = extract_video(path, backend, fps, cache_dir, settings, progress)
        if pair is None:
            continue
        ex = example_from_arrays(pair[0], pair[1], os.path.basename(path), 0, reference, rules)
        if ex is not None:
            examples.append(ex)
            names = pair[1].names
    logger.info("training set: %d of %d videos usable", len(examples), len(paths))
    return MotionDataset(examples, fps, names)


__all__ = [
    "FrameFilter", "MotionExample", "MotionDataset", "build_video_dataset", "decode_video",
    "example_from_arrays", "extract_video", "usable_frames",
]
