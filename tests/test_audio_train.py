"""Motion-model training: datasets from arrays and videos (PyAV + any pose backend), checkpoints, resume, CLI."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from models.audio.learned.dataset import (
    FrameFilter,
    MotionDataset,
    build_video_dataset,
    decode_video,
    example_from_arrays,
)
from models.audio.learned.model_file import load_motion_model
from models.audio.learned.train import TrainConfig, side_paths, train_motion_model
from models.pose.types import PoseSequence
from scripts import train_motion as train_mod
from tests.helpers.tiny_motion import FEATURE_NAMES, reference_pose, synthetic_talk, tiny_config

torch.set_num_threads(1)


def _dataset(clips: int = 2, seconds: float = 4.0) -> MotionDataset:
    examples = []
    for seed in range(clips):
        pose, feats = synthetic_talk(seconds, seed)
        examples.append(example_from_arrays(pose, feats, f"clip{seed}"))
    return MotionDataset(examples, 25.0, FEATURE_NAMES)


def test_example_filters_frames() -> None:
    pose, feats = synthetic_talk(4.0, 0)
    kp = pose.keypoints.copy()
    kp[10:20] = 0.0  # nobody there
    kp[30:35, :, :17, 2] = 0.1  # low body confidence
    clarity = np.full((pose.num_frames, 1, 2), 50.0, np.float32)
    clarity[40:45, 0, 1] = 1.0  # blurry right hand
    clarity[60:70, 0, 0] = np.nan  # no left hand: not a reason to drop the frame
    pose = PoseSequence(kp, pose.canvas, pose.fps, clarity)
    ex = example_from_arrays(pose, feats, rules=FrameFilter(0.3, 10.0))
    assert ex is not None
    dropped = np.flatnonzero(~ex.valid)
    assert dropped.tolist() == list(range(10, 20)) + list(range(30, 35)) + list(range(40, 45))
    assert ex.weight[~ex.valid].max() == 0.0 and ex.weight[ex.valid].min() == 1.0
    ds = MotionDataset([ex], 25.0, FEATURE_NAMES)
    res, feat, weight = ds.batch(4, 32, np.random.default_rng(0))
    assert res.shape == (4, 32, 266) and feat.shape == (4, 32, 82) and weight.shape == (4, 32, 266)
    with pytest.raises(ValueError, match="frames but the audio features"):
        example_from_arrays(pose.select_frames(slice(0, 50)), feats)
    assert example_from_arrays(PoseSequence.empty(100, (64, 64)), feats) is None
    with pytest.raises(ValueError, match="training set is empty"):
        MotionDataset([], 25.0, FEATURE_NAMES)


def test_train_checkpoint_resume_and_report(tmp_path) -> None:
    ds = _dataset()
    out = str(tmp_path / "m.safetensors")
    tc = TrainConfig(steps=4, batch_size=2, lr=1e-3, warmup=1, checkpoint_every=2, log_every=1, cpu=True)
    calls: list[int] = []
    first = train_motion_model(ds, out, tiny_config(), tc, progress=lambda s, total, log: calls.append(s))
    assert calls == [1, 2, 3, 4] and os.path.isfile(out) and os.path.isfile(first.report_png)
    assert len(first.losses) == 4 and all(np.isfinite(e["loss"]) for e in first.losses)
    paths = side_paths(out)
    assert json.load(open(paths["log"]))["losses"][-1]["step"] == 4
    loaded = load_motion_model(out)
    assert torch.equal(loaded.motion_std, torch.from_numpy(ds.motion_std()))
    # Resume to 6 steps: continues from step 4 (two more progress calls), weights start from the saved ones.
    calls.clear()
    tc6 = TrainConfig(steps=6, batch_size=2, lr=1e-3, warmup=1, checkpoint_every=2, log_every=1, cpu=True)
    second = train_motion_model(ds, out, tiny_config(), tc6, progress=lambda s, total, log: calls.append(s))
    assert calls == [5, 6] and [e["step"] for e in second.losses] == [1, 2, 3, 4, 5, 6]
    # Interruption: a checkpoint is written at the step reached, and the run resumes from it.
    tc9 = TrainConfig(steps=9, batch_size=2, lr=1e-3, warmup=1, checkpoint_every=100, log_every=1, cpu=True)
    seen: list[int] = []

    def stop_at_8() -> None:
        if len(seen) == 2:
            raise InterruptedError("stop")
        seen.append(1)

    with pytest.raises(InterruptedError):
        train_motion_model(ds, out, tiny_config(), tc9, check_interrupt=stop_at_8)
    calls.clear()
    train_motion_model(ds, out, tiny_config(), tc9, progress=lambda s, total, log: calls.append(s))
    assert calls == [9]
    # A different model config cannot resume from this state.
    with pytest.raises(ValueError, match="different model config"):
        train_motion_model(ds, out, tiny_config(d_model=32), tc9)


def _write_talking_video(path: str, seconds: float = 2.0, fps: int = 25, size: int = 128) -> None:
    from models.io.media import write_video

    sr = 16000
    t = np.arange(int(seconds * sr)) / sr
    wave = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    frames = np.full((int(seconds * fps), size, size, 3), 160, np.uint8)
    frames[10:15] = 0  # frames 10..14 are black: the fake backend finds nobody there
    write_video(path, frames, fps, audio=wave[None], sample_rate=sr)


class FakeBackend:
    """A PoseBackend that finds the synthetic reference person in any frame that is not black."""

    name = "fake"

    def __init__(self) -> None:
        self.frames = 0
        self.ref = reference_pose().keypoints[0, 0]

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        self.frames += len(frames)
        out = []
        for frame in frames:
            if frame.mean() < 20:
                out.append(np.zeros((0, 133, 3), np.float32))
            else:
                kp = self.ref.copy()
                kp[:, 0] *= frame.shape[1]
                kp[:, 1] *= frame.shape[0]
                out.append(kp[None])
        return out

    def close(self) -> None:
        pass


def test_video_dataset_decode_filter_cache_and_cli(tmp_path, monkeypatch) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    _write_talking_video(str(videos / "a.mp4"))
    chunks, info = decode_video(str(videos / "a.mp4"), 25.0, chunk=16)
    frames = np.concatenate(list(chunks))
    assert frames.shape == (50, 128, 128, 3) and info["audio"]["sample_rate"] == 16000
    backend = FakeBackend()
    cache = str(tmp_path / "cache")
    ds = build_video_dataset(str(videos), backend, 25.0, cache)
    ex = ds.examples[0]
    assert backend.frames == 50 and ex.features.shape == (50, 82)
    assert np.flatnonzero(~ex.valid).tolist() == list(range(10, 15))
    assert len(os.listdir(cache)) == 1
    again = build_video_dataset(str(videos), backend, 25.0, cache)
    assert backend.frames == 50, "the second build must come from the cache"
    assert np.array_equal(again.examples[0].residuals, ex.residuals)
    with pytest.raises(ValueError, match="no videos"):
        build_video_dataset(str(tmp_path), backend, 25.0)
    # The CLI runs the same code (backend swapped for the fake one).
    monkeypatch.setattr(train_mod, "make_pose_backend", lambda *a: FakeBackend())
    out = str(tmp_path / "cli.safetensors")
    rc = train_mod.main(["--videos", str(videos), "--out", out, "--steps", "2", "--batch-size", "2", "--window", "16",
                         "--overlap", "4", "--d-model", "32", "--layers", "1", "--cpu", "--cache", cache])
    assert rc == 0 and load_motion_model(out).config.window == 16


def test_training_works_under_inference_mode(tmp_path) -> None:
    """ComfyUI executes nodes inside torch.inference_mode(); the trainer must still get gradients."""
    dataset = _dataset(clips=1, seconds=2.0)
    with torch.inference_mode():
        result = train_motion_model(dataset, str(tmp_path / "m.safetensors"), tiny_config(),
                                    TrainConfig(steps=3, batch_size=2, log_every=1, cpu=True), resume=False)
    assert len(result.losses) >= 1 and np.isfinite(result.losses[-1]["loss"])
    assert os.path.exists(tmp_path / "m.safetensors")


