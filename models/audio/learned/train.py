"""Train a motion model on your own talking videos (the node and the CLI ``scripts/train_motion.py`` share this code).

The loop uses accelerate.Accelerator, so ``accelerate launch -m scripts.train_motion ...`` trains on several GPUs
with DDP. Beside the output file it writes ``<stem>.state.safetensors``
(weights + AdamW state, for resuming), ``<stem>.loss.json`` (the loss log) and ``<stem>.loss.png`` (loss curve).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ...io.safe_paths import resolve_inside
from ...io.train_state import (
    check_side_files_inside,
    load_state,
    read_loss_log,
    save_state,
    side_paths,
    write_loss_log,
)
from ...io.train_state import plot_losses as plot_loss_curve
from .dataset import MotionDataset
from .diffusion import diffusion_loss
from .model_file import save_motion_model
from .motion_model import MotionModelConfig, MotionTransformer

logger = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """steps: optimiser steps in total (a resumed run continues up to this); lr: AdamW peak learning rate after
    ``warmup`` steps; checkpoint_every: steps between resumable checkpoints (and at the end / on interruption)."""

    steps: int = 2000
    batch_size: int = 16
    lr: float = 2e-4
    weight_decay: float = 0.01
    warmup: int = 100
    grad_clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 500
    log_every: int = 10
    cpu: bool = False


@dataclass
class TrainResult:
    model: MotionTransformer
    path: str
    losses: list[dict]
    report_png: str | None


def checked_paths(out_path: str, root: str | None, input_name: str = "output_name") -> tuple[str, dict[str, str]]:
    """The model path and its side files; with ``root``, each (and its .tmp) must resolve inside ``root``.

    out_path is then taken relative to root (an absolute out_path must already lie in it). A side file that is a
    symbolic link out of the folder is refused too, so a resumed run cannot be made to read or write elsewhere.
    """
    if root is None:
        return out_path, side_paths(out_path)
    rel = os.path.relpath(out_path, root) if os.path.isabs(out_path) else out_path
    model = str(resolve_inside(root, rel, input_name=input_name))
    return model, check_side_files_inside(root, model, input_name)


def _save_state(path: str, model: MotionTransformer, optimizer: torch.optim.Optimizer, step: int) -> None:
    save_state(path, model.state_dict(), optimizer, step, model.config.to_json())


def _load_state(path: str, model: MotionTransformer, optimizer: torch.optim.Optimizer) -> int:
    def same_config(config_json: str) -> None:
        if MotionModelConfig.from_json(config_json) != model.config:
            raise ValueError(f"training state {path} is for a different model config; delete it or use another --out")

    weights, _, step = load_state(path, optimizer, check_config=same_config)
    model.load_state_dict(weights)
    return step


def plot_losses(losses: list[dict], path: str) -> str | None:
    """Loss curve PNG (total and per part, log scale); None if matplotlib is missing."""
    return plot_loss_curve(losses, path, ("loss", "x0_face", "x0_body", "x0_hands"), "Embody motion model training")


def train_motion_model(
    dataset: MotionDataset,
    out_path: str,
    model_config: MotionModelConfig | None = None,
    train_config: TrainConfig | None = None,
    resume: bool = True,
    progress: Callable[[int, int, dict], None] | None = None,
    check_interrupt: Callable[[], None] | None = None,
    root: str | None = None,
) -> TrainResult:
    """Train (or resume) and save the model to ``out_path``.

    root: when set (the node passes models/embody/motion), out_path and every side file must resolve inside it
    (see models.io.safe_paths); a ValueError naming output_name is raised before any work otherwise.

    model_config: its feature_dim / feature_names / fps are taken from the dataset. progress(step, total, log) is
    called every log_every steps; check_interrupt() is called every step and may raise to stop (a checkpoint is
    written first, so the run resumes from there).
    Autograd is switched on here whatever the caller's mode: ComfyUI runs every node under torch.inference_mode().
    """
    with torch.inference_mode(False), torch.enable_grad():
        out_path, paths = checked_paths(out_path, root)
        return _train(dataset, out_path, paths, model_config, train_config, resume, progress, check_interrupt)


def _train(
    dataset: MotionDataset,
    out_path: str,
    paths: dict[str, str],
    model_config: MotionModelConfig | None,
    train_config: TrainConfig | None,
    resume: bool,
    progress: Callable[[int, int, dict], None] | None,
    check_interrupt: Callable[[], None] | None,
) -> TrainResult:
    from accelerate import Accelerator

    tc = train_config or TrainConfig()
    base = model_config or MotionModelConfig()
    config = MotionModelConfig(
        **{**asdict(base), "feature_dim": dataset.feature_dim, "feature_names": list(dataset.feature_names),
           "fps": dataset.fps}
    )
    accelerator = Accelerator(cpu=tc.cpu)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)  # "people/anna" -> its sub-folder
    torch.manual_seed(tc.seed)
    model = MotionTransformer(config)
    model.motion_std.copy_(torch.from_numpy(dataset.motion_std()))
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
    step, losses = 0, []
    if resume and os.path.isfile(paths["state"]):
        step = _load_state(paths["state"], model, optimizer)
        losses = read_loss_log(paths["log"], step)
        logger.info("resuming %s from step %d", paths["state"], step)
    start = step
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (start + s + 1) / max(tc.warmup, 1))
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    rank = accelerator.process_index
    rng = np.random.default_rng([tc.seed, rank, step])
    gen = torch.Generator().manual_seed(tc.seed * 1000003 + rank * 7919 + step)
    std = torch.from_numpy(dataset.motion_std()).to(accelerator.device)

    def checkpoint() -> None:
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            inner = accelerator.unwrap_model(model)
            _save_state(paths["state"], inner, optimizer, step)
            write_loss_log(paths["log"], losses, asdict(tc))

    started = time.perf_counter()
    model.train()
    try:
        while step < tc.steps:
            if check_interrupt is not None:
                check_interrupt()
            res, feats, weight = dataset.batch(tc.batch_size, config.window, rng)
            x0 = res.to(accelerator.device) / std
            loss, log = diffusion_loss(
                model, x0, feats.to(accelerator.device), weight.to(accelerator.device), gen, config
            )
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            if tc.grad_clip > 0:
                accelerator.clip_grad_norm_(model.parameters(), tc.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            if step % tc.log_every == 0 or step == tc.steps:
                losses.append({"step": step, **log})
                if progress is not None:
                    progress(step, tc.steps, log)
            if tc.checkpoint_every and step % tc.checkpoint_every == 0 and step < tc.steps:
                checkpoint()
    finally:
        checkpoint()
    inner = accelerator.unwrap_model(model).eval()
    png = None
    if accelerator.is_main_process:
        training = {
            "steps": step, "frames": dataset.num_frames, "clips": len(dataset.examples),
            "final_loss": losses[-1]["loss"] if losses else None, "seconds": round(time.perf_counter() - started, 1),
        }
        save_motion_model(inner, out_path, training)
        png = plot_losses(losses, paths["png"]) if losses else None
    return TrainResult(inner, out_path, losses, png)
