"""Train a region codebook (and optionally a LoRA on the UNet's attention) with the MimicMotion UNet frozen.

The node (nodes/region_train.py) and the CLI (``python -m scripts.train_region_codebook``) share this code. Beside the
output ``X.safetensors`` (the codebook, models.video.region's format) it writes ``X.state.safetensors`` (trainable
weights + AdamW state, for resuming), ``X.loss.json`` / ``X.loss.png`` (models.io.train_state) and, with a LoRA,
``X.lora.safetensors`` (peft's state-dict keys).

Several GPUs: ``accelerate launch -m scripts.train_region_codebook ...``. The codebook is not called through a DDP
wrapper (it runs inside the UNet through hooks), so the loop averages gradients itself with ``accelerator.reduce``
after each optimiser step's accumulation; every process draws different clips and noise.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ...io.train_state import load_state, plot_losses, read_loss_log, save_state, side_paths, write_loss_log
from ..components import VideoComponents
from ..region import RegionCodebook, RegionCodebookConfig, save_region_codebook
from ..region.lora import LORA_TARGETS, lora_adapter, lora_path_for, lora_state
from .data import RegionDataset
from .losses import LossConfig
from .objective import ClipCondition, encode_clip_conditions, run_step

logger = logging.getLogger(__name__)



@dataclass
class RegionTrainConfig:
    """steps: optimiser steps in total (a resumed run continues up to this); batch_size clips of ``frames`` frames
    per micro-batch, ``grad_accum`` micro-batches per step; lr: AdamW peak rate after ``warmup`` steps;
    bf16: autocast the UNet in bfloat16; gradient_checkpointing: recompute UNet activations in the backward pass;
    lora_rank: > 0 also trains a LoRA (peft) on the UNet's attention projections; use_identity: feed the reference
    crops' descriptors (False = ablation); noise_aug: SVD's reference noise augmentation; mask_init_bias: initial
    bias of each mask predictor's last conv for a new codebook (-3: masks start nearly closed, sigmoid = 0.05, so
    the modules learn inside the regions from the first step instead of correcting the whole frame);
    clarity_high_percentile: the percentile of the training frames' hand clarity recorded in the saved config as its
    "high clarity" (``RegionCodebookConfig.clarity_high``, what the sampler's hand_clarity = -1 asks for; CyberHost
    sets a high value at inference to ask for sharp hands)."""

    steps: int = 2000
    batch_size: int = 1
    frames: int = 16
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup: int = 100
    grad_clip: float = 1.0
    seed: int = 0
    checkpoint_every: int = 250
    log_every: int = 10
    bf16: bool = False
    gradient_checkpointing: bool = False
    lora_rank: int = 0
    use_identity: bool = True
    noise_aug: float = 0.02
    mask_init_bias: float = -3.0
    clarity_high_percentile: float = 90.0
    cpu: bool = False
    loss: LossConfig = field(default_factory=LossConfig)


@dataclass
class RegionTrainResult:
    codebook: RegionCodebook
    path: str
    losses: list[dict]
    report_png: str | None
    conditions: list[ClipCondition]


@contextmanager
def frozen(modules: list[nn.Module]) -> Iterator[None]:
    """requires_grad False on every parameter of ``modules`` inside the block; restored after."""
    saved = [(p, p.requires_grad) for m in modules for p in m.parameters()]
    for p, _ in saved:
        p.requires_grad_(False)
    for m in modules:  # loaded inside a ComfyUI node (inference mode): autograd cannot save inference tensors
        for sub in m.modules():
            for name, param in list(sub._parameters.items()):
                if param is not None and param.is_inference():
                    sub._parameters[name] = nn.Parameter(param.clone(), requires_grad=False)
            for name, b in list(sub._buffers.items()):
                if b is not None and b.is_inference():
                    sub._buffers[name] = b.clone()
    try:
        yield
    finally:
        for p, flag in saved:
            if not p.is_inference():  # inference tensors were replaced above and never required grad
                p.requires_grad_(flag)


@contextmanager
def unet_lora(unet: nn.Module, rank: int) -> Iterator[list[nn.Parameter]]:
    """Inject a peft LoRA (rank, alpha = rank) into the UNet's attention projections for the block; yields its
    parameters; the adapter is removed afterwards so the shared UNet is left as it was (save it before)."""
    if rank <= 0:
        yield []
        return
    with lora_adapter(unet, rank, LORA_TARGETS) as params:
        for p in params:
            p.requires_grad_(True)
        yield params


def train_region_codebook(
    components: VideoComponents,
    dataset: RegionDataset,
    out_path: str,
    codebook_config: dict | None = None,
    train_config: RegionTrainConfig | None = None,
    resume: bool = True,
    progress: Callable[[int, int, dict], None] | None = None,
    check_interrupt: Callable[[], None] | None = None,
) -> RegionTrainResult:
    """Train (or resume) a region codebook for ``components``' UNet and save it to ``out_path``.

    codebook_config: overrides of RegionCodebookConfig.for_unet (dim, spatial_tokens, stages, regions, ...).
    progress(step, total, log) every log_every steps; check_interrupt() every micro-batch may raise to stop (a
    checkpoint is written first, so the run resumes from there). The video model's modules are left frozen-state
    and adapter-free as they were. Autograd is switched on whatever the caller's mode (ComfyUI runs nodes under
    torch.inference_mode()).
    """
    with torch.inference_mode(False), torch.enable_grad():
        return _train(components, dataset, out_path, codebook_config or {}, train_config or RegionTrainConfig(),
                      resume, progress, check_interrupt)


def _train(components: VideoComponents, dataset: RegionDataset, out_path: str, overrides: dict,
           tc: RegionTrainConfig, resume: bool, progress: Callable[[int, int, dict], None] | None,
           check_interrupt: Callable[[], None] | None) -> RegionTrainResult:
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=tc.cpu)
    device = accelerator.device
    paths = side_paths(out_path)
    unet = components.unet
    for name in ("unet", "pose_net", "vae", "image_encoder"):
        components.module(name).to(device)
    torch.manual_seed(tc.seed)
    identity_dim = int(getattr(components.image_encoder.config, "projection_dim", 1024))
    config = RegionCodebookConfig.for_unet(unet, identity_dim=identity_dim, **overrides)
    config.clarity_high = training_clarity_high(dataset, tc.clarity_high_percentile)
    logger.info("region codebook: high hand clarity %.2f (%gth percentile of the training frames)",
                config.clarity_high, tc.clarity_high_percentile)
    codebook = RegionCodebook(config).to(device)
    with torch.no_grad():
        for _, _, module in codebook.attention_modules():
            last = module.mask_head[-1]
            assert isinstance(last, nn.Conv2d) and last.bias is not None
            last.bias.fill_(tc.mask_init_bias)
    for clip in dataset.clips:
        if clip.latents.is_inference():
            clip.latents = clip.latents.clone()
    conds = encode_clip_conditions(components, dataset, config.regions, device, tc.noise_aug)
    frozen_modules = [components.module(n) for n in ("unet", "pose_net", "vae", "image_encoder")]
    was_ckpt = bool(getattr(unet, "is_gradient_checkpointing", False))
    with frozen(frozen_modules), unet_lora(unet, tc.lora_rank) as lora_params:
        if tc.gradient_checkpointing:
            unet.enable_gradient_checkpointing()  # type: ignore[operator]
        try:
            return _loop(components, dataset, codebook, conds, lora_params, tc, accelerator, paths, out_path,
                         resume, progress, check_interrupt)
        finally:
            if tc.gradient_checkpointing and not was_ckpt:
                unet.disable_gradient_checkpointing()  # type: ignore[operator]


def training_clarity_high(dataset: RegionDataset, percentile: float = 90.0) -> float:
    """The ``percentile`` of the hand clarity (Embody Hand Clarity units) over every usable training frame with a
    scored hand; 0.0 (= none recorded: the sampler's -1 then leaves the clarity condition off) when no frame has one."""
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"clarity_high_percentile must be in 0..100; got {percentile}")
    scores = [c.clarity[c.valid & np.isfinite(c.clarity)] for c in dataset.clips]
    values = np.concatenate(scores) if scores else np.zeros(0, np.float32)
    return float(np.percentile(values, percentile)) if len(values) else 0.0


def _state_config(config: RegionCodebookConfig, tc: RegionTrainConfig) -> str:
    """What a resumed run must match (clarity_high left out: it follows the data, not the weights' shapes)."""
    cfg = {k: v for k, v in config.to_dict().items() if k != "clarity_high"}
    return json.dumps({"codebook": cfg, "lora_rank": tc.lora_rank}, sort_keys=True)


def _same_state_config(saved_json: str, state_json: str) -> bool:
    saved = json.loads(saved_json)
    saved.get("codebook", {}).pop("clarity_high", None)  # states written before clarity_high was left out
    return bool(saved == json.loads(state_json))


def _loop(components: VideoComponents, dataset: RegionDataset, codebook: RegionCodebook,
          conds: list[ClipCondition], lora_params: list[nn.Parameter], tc: RegionTrainConfig, accelerator: object,
          paths: dict[str, str], out_path: str, resume: bool, progress: Callable[[int, int, dict], None] | None,
          check_interrupt: Callable[[], None] | None) -> RegionTrainResult:
    from accelerate import Accelerator

    assert isinstance(accelerator, Accelerator)
    device = accelerator.device
    unet = components.unet
    params = [p for p in codebook.parameters() if p.requires_grad] + lora_params
    optimizer = torch.optim.AdamW(params, lr=tc.lr, weight_decay=tc.weight_decay)
    state_json = _state_config(codebook.config, tc)
    step, losses = 0, []
    if resume and os.path.isfile(paths["state"]):
        weights, saved_json, step = load_state(paths["state"], optimizer)
        if not _same_state_config(saved_json, state_json):
            raise ValueError(f"training state {paths['state']} is for another codebook config or LoRA rank; "
                             "delete it, use another output name, or switch resume off")
        codebook.load_state_dict({k[9:]: v for k, v in weights.items() if k.startswith("codebook.")})
        lora = {k[5:]: v for k, v in weights.items() if k.startswith("lora.")}
        if lora:
            unet.load_state_dict(lora, strict=False)
        losses = read_loss_log(paths["log"], step)
        logger.info("resuming %s from step %d", paths["state"], step)
    start = step
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (start + s + 1) / max(tc.warmup, 1)))
    rank = accelerator.process_index
    rng = np.random.default_rng([tc.seed, rank, step])
    gen = torch.Generator().manual_seed(tc.seed * 1000003 + rank * 7919 + step)
    autocast = torch.bfloat16 if tc.bf16 else None
    settings = {k: v for k, v in asdict(tc).items()}

    def checkpoint() -> None:
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            weights = {f"codebook.{k}": v for k, v in codebook.state_dict().items()}
            weights.update({f"lora.{k}": v for k, v in lora_state(unet).items()})
            save_state(paths["state"], weights, optimizer, step, state_json)
            write_loss_log(paths["log"], losses, settings)

    started = time.perf_counter()
    codebook.train()
    try:
        while step < tc.steps:
            optimizer.zero_grad(set_to_none=True)
            logs = []
            for _ in range(max(1, tc.grad_accum)):
                if check_interrupt is not None:
                    check_interrupt()
                batch = dataset.batch(tc.batch_size, tc.frames, rng)
                out = run_step(components, codebook, conds, batch, tc.loss, gen, device, tc.use_identity, autocast,
                               backward_scale=1.0 / max(1, tc.grad_accum))
                logs.append(out.log)
            if accelerator.num_processes > 1:
                for p in params:
                    if p.grad is not None:
                        p.grad.copy_(accelerator.reduce(p.grad, reduction="mean"))
            if tc.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            if step % tc.log_every == 0 or step == tc.steps:
                log = {k: float(np.nanmean([lg.get(k, np.nan) for lg in logs])) for k in logs[0]}
                losses.append({"step": step, **log})
                if progress is not None:
                    progress(step, tc.steps, log)
            if tc.checkpoint_every and step % tc.checkpoint_every == 0 and step < tc.steps:
                checkpoint()
    finally:
        checkpoint()
    codebook.eval()
    png = None
    if accelerator.is_main_process:
        save_region_codebook(codebook, out_path)
        if lora_params:
            from safetensors.torch import save_file

            save_file({k: v.cpu().contiguous() for k, v in lora_state(unet).items()},
                      lora_path_for(out_path),
                      metadata={"lora_rank": str(tc.lora_rank), "targets": ",".join(LORA_TARGETS)})
        png = plot_losses(losses, paths["png"], ("loss", "diffusion", "diff_in", "diff_out", "mask", "heatmap"),
                          "Embody region codebook training") if losses else None
        logger.info("region codebook: %d steps, %d clips, %.1f s", step, len(dataset.clips),
                    time.perf_counter() - started)
    return RegionTrainResult(codebook, out_path, losses, png, conds)
