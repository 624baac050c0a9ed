"""One short GPU check (< 8 minutes on a CUDA card): full-size random MimicMotion models, one window at 576x1024.

Builds the real architectures with random weights (meta device, then seeded init on the GPU; nothing is read from
disk or downloaded): SVD-xt UNet (models.video.config_infer.SVD_UNET_CONFIG, 1.52 B parameters) + PoseNet, the
temporal-decoder VAE (SVD's config, 98 M) and CLIP ViT-H/14 (632 M). Then, in fp16 at cfg 2 (cond + uncond):
- a 16-frame window at 576x1024: s per UNet pass (PoseNet included), peak VRAM;
- a 72-frame window if it fits (skipped cleanly on out-of-memory);
- feature reuse: a whole UNet call against the outer level alone on kept features (16 frames, cond + uncond);
- VAE decode of the 16 frames through models.video.decode.decode_latents (chunked): time and peak VRAM;
and prints them next to the roofline estimate of benchmarks/RESULTS.md. Then DWPose with real compute (YOLOX-L 640 +
DWPose-l 384x288 with the published layer shapes, benchmarks/pose.bench_dwpose_real): unbatched vs batched vs tracking
frames/s on the CUDA execution provider where the installed onnxruntime offers it (the report names the provider that
really ran). Without CUDA it says so and exits with status 2.

Usage: python -m benchmarks.gpu_check [--steps 2] [--frames 16] [--long-frames 72] [--height 576] [--width 1024]
       [--dwpose-frames 32]  (0 skips the DWPose part)
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Sequence
from typing import Any

logger = logging.getLogger("gpu_check")

# benchmarks/RESULTS.md, "What a 72-frame window step at 576x1024 should cost": s per UNet pass, eager fp16.
ROOFLINE_S_PER_PASS = {"RTX 4090": (1.5, 3.0), "H100 SXM": (0.5, 0.7)}
ROOFLINE_FRAMES = 72

VAE_CONFIG: dict[str, Any] = dict(  # stabilityai/stable-video-diffusion-img2vid-xt vae/config.json
    in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4, sample_size=768,
    scaling_factor=0.18215, force_upcast=True,
)
CLIP_CONFIG: dict[str, Any] = dict(  # ViT-H/14 image encoder of SVD
    hidden_size=1280, projection_dim=1024, num_hidden_layers=32, num_attention_heads=16, image_size=224,
    patch_size=14, intermediate_size=5120, hidden_act="gelu", layer_norm_eps=1e-5,
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2, help="UNet passes timed per window (2-4)")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--long-frames", type=int, default=72, help="second window length; 0 skips it")
    p.add_argument("--height", type=int, default=576)
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--cfg", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dwpose-frames", type=int, default=32, help="frames for the DWPose throughput part; 0 skips it")
    args = p.parse_args(argv)
    if not 1 <= args.steps <= 8:
        p.error(f"--steps must be in 1..8, got {args.steps}")
    if args.height % 64 or args.width % 64:
        p.error(f"--height and --width must be multiples of 64, got {args.height}x{args.width}")
    if args.frames < 1 or args.long_frames < 0 or args.dwpose_frames < 0:
        p.error("--frames must be >= 1, --long-frames and --dwpose-frames >= 0")
    return args


def seeded_init(module: Any, seed: int) -> None:
    """Fan-in scaled normal weights, near-one norm scales, small biases (as tests/helpers/tiny_mimicmotion.py)."""
    import torch

    dev = next(module.parameters()).device
    gen = torch.Generator(device=dev).manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=gen, device=dev, dtype=torch.float32)
            if p.dim() >= 2:
                p.copy_(noise / math.sqrt(p[0].numel()))
            elif name.endswith("weight"):
                p.copy_(1.0 + 0.02 * noise)
            else:
                p.copy_(0.02 * noise)


def build_models(
    device: str, dtype: Any, seed: int = 0, unet_config: dict[str, Any] | None = None,
    vae_config: dict[str, Any] | None = None, clip_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """UNet, PoseNet, VAE and CLIP in the official layouts, built on the meta device and initialised on ``device``.
    The configs default to the full size; tests pass tiny ones."""
    import torch
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from models.video.config_infer import SVD_UNET_CONFIG
    from models.video.posenet import PoseNet

    ucfg = dict(unet_config or SVD_UNET_CONFIG)
    with torch.device("meta"):
        mods = {
            "unet": UNetSpatioTemporalConditionModel(**ucfg),
            "pose_net": PoseNet(noise_latent_channels=ucfg["block_out_channels"][0]),
            "vae": AutoencoderKLTemporalDecoder(**(vae_config or VAE_CONFIG)),
            "clip": CLIPVisionModelWithProjection(CLIPVisionConfig(**(clip_config or CLIP_CONFIG))),
        }
    out = {}
    for i, (name, m) in enumerate(mods.items()):
        m = m.to_empty(device=device)
        for buf in list(m.buffers()):  # buffers (e.g. position ids) are not restored by to_empty
            if buf.is_floating_point():
                buf.zero_()
            else:
                buf.copy_(torch.arange(buf.shape[-1], device=device).expand_as(buf))
        seeded_init(m, seed + i)
        out[name] = m.to(dtype).eval()
    return out


def count_parameters(models: dict[str, Any]) -> dict[str, int]:
    return {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}


def unet_window(models: dict[str, Any], frames: int, height: int, width: int, steps: int, cfg: float,
                device: str, dtype: Any) -> tuple[float, float]:
    """(s per UNet pass, peak VRAM GiB) for ``steps`` passes of one window; cfg > 1 runs cond + uncond batched."""
    import torch

    from models.video.unet_hook import pose_residual

    batch = 2 if cfg > 1 else 1
    h, w = height // 8, width // 8
    unet, pose_net = models["unet"], models["pose_net"]
    x = torch.randn(batch, frames, 8, h, w, device=device, dtype=dtype)
    emb = torch.randn(batch, 1, unet.config.cross_attention_dim, device=device, dtype=dtype)
    ids = torch.tensor([[6.0, 127.0, 0.02]] * batch, device=device, dtype=dtype)
    pose = torch.randn(frames, 3, height, width, device=device, dtype=dtype)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    with torch.no_grad():
        for _ in range(steps):
            start = time.perf_counter()
            pose_latents = pose_net(pose).repeat(batch, 1, 1, 1)
            with pose_residual(unet, pose_latents):
                unet(x, torch.tensor([1.0], device=device), emb, added_time_ids=ids)
            torch.cuda.synchronize()
            times.append((time.perf_counter() - start) / batch)
    return min(times), torch.cuda.max_memory_allocated() / 2**30


def reuse_call_inputs(unet: Any, frames: int, height: int, width: int, device: str, dtype: Any) -> tuple[Any, ...]:
    """Random UNet inputs for one window of cond + uncond batched: (sample [2, F, 8, H/8, W/8], timestep [1],
    CLIP embeddings [2, 1, D], added time ids [2, 3])."""
    import torch

    x = torch.randn(2, frames, 8, height // 8, width // 8, device=device, dtype=dtype)
    emb = torch.randn(2, 1, unet.config.cross_attention_dim, device=device, dtype=dtype)
    ids = torch.tensor([[6.0, 127.0, 0.02]] * 2, device=device, dtype=dtype)
    return x, torch.tensor([1.0], device=device), emb, ids


def reuse_pass_times(models: dict[str, Any], frames: int, height: int, width: int, device: str, dtype: Any,
                     repeats: int = 2) -> tuple[float, float]:
    """(s per whole UNet call, s per outer-level call on kept features) for one window of cond + uncond batched:
    what a feature-reuse step (models/video/feature_reuse.py) costs against a full step, same inputs."""
    import torch

    from models.video.feature_reuse import FeatureCache, shallow_forward

    unet = models["unet"]
    x, t, emb, ids = reuse_call_inputs(unet, frames, height, width, device, dtype)
    cache = FeatureCache(2)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    full, shallow = [], []
    with torch.no_grad():
        for _ in range(repeats):
            start = time.perf_counter()
            with cache.capture(unet, "w"):
                unet(x, t, emb, added_time_ids=ids)
            sync()
            full.append(time.perf_counter() - start)
            start = time.perf_counter()
            shallow_forward(unet, cache.entries["w"], x, t, emb, ids)
            sync()
            shallow.append(time.perf_counter() - start)
    return min(full), min(shallow)


def decode_window(models: dict[str, Any], frames: int, height: int, width: int, device: str,
                  dtype: Any) -> tuple[float, float]:
    import torch

    from models.video.decode import decode_latents

    z = torch.randn(frames, 4, height // 8, width // 8, device=device, dtype=dtype)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    decode_latents(models["vae"], z, keep_reference_frame=True)
    torch.cuda.synchronize()
    return time.perf_counter() - start, torch.cuda.max_memory_allocated() / 2**30


def format_report(results: dict[str, Any]) -> str:
    """Human-readable lines; ``results`` holds device, params, windows {frames: (s/pass, GiB) or error}, decode."""
    lines = [f"device: {results['device']}"]
    params = results.get("params", {})
    if params:
        lines.append("parameters: " + ", ".join(f"{k} {v / 1e6:.1f} M" for k, v in params.items()))
    for frames, value in results.get("windows", {}).items():
        if isinstance(value, str):
            lines.append(f"window {frames} frames: not run ({value})")
            continue
        s_pass, gib = value
        per_frame = s_pass / frames * ROOFLINE_FRAMES
        lines.append(f"window {frames} frames: {s_pass:.3f} s per UNet pass ({per_frame:.2f} s scaled to "
                     f"{ROOFLINE_FRAMES} frames), peak VRAM {gib:.2f} GiB")
    if "reuse" in results:
        full, outer = results["reuse"]
        lines.append(f"feature reuse: outer level alone {outer:.3f} s vs the whole UNet {full:.3f} s per batched "
                     f"call ({outer / full:.2f}x)")
    if "decode" in results:
        s, gib = results["decode"]
        lines.append(f"decode: {s:.2f} s, peak VRAM {gib:.2f} GiB")
    lines.append("roofline (RESULTS.md, s per 72-frame pass): " + ", ".join(
        f"{card} {lo:g}-{hi:g} s" for card, (lo, hi) in ROOFLINE_S_PER_PASS.items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print("gpu_check needs a CUDA GPU and none is available here; nothing was run. Run it on a machine with "
              "an NVIDIA GPU (python -m benchmarks.gpu_check).", file=sys.stderr)
        return 2
    device, dtype = "cuda", torch.float16
    start = time.perf_counter()
    models = build_models(device, dtype, args.seed)
    results: dict[str, Any] = {"device": torch.cuda.get_device_name(), "params": count_parameters(models),
                               "windows": {}}
    logger.info("built in %.1f s", time.perf_counter() - start)
    for frames in (args.frames, args.long_frames):
        if frames <= 0:
            continue
        try:
            results["windows"][frames] = unet_window(
                models, frames, args.height, args.width, args.steps, args.cfg, device, dtype)
        except torch.cuda.OutOfMemoryError:
            results["windows"][frames] = "out of GPU memory"
        torch.cuda.empty_cache()
    results["reuse"] = reuse_pass_times(models, args.frames, args.height, args.width, device, dtype)
    torch.cuda.empty_cache()
    results["decode"] = decode_window(models, args.frames, args.height, args.width, device, dtype)
    print(format_report(results), flush=True)
    del models
    torch.cuda.empty_cache()
    dwpose_section(args.dwpose_frames)
    return 0


def dwpose_section(frames: int, runner: Any = None) -> None:
    """DWPose throughput with real compute after the video part (the ONNX files are built once into
    ~/.cache/embody-bench); a failure here is reported, not raised, so the video numbers above still stand."""
    if frames <= 0:
        return
    if runner is None:
        from benchmarks.pose import bench_dwpose_real as runner
    try:
        runner(frames_n=frames, rounds=1)
    except Exception as exc:  # report whatever broke (an onnxruntime without CUDA libraries, an export problem)
        print(f"dwpose: not run ({type(exc).__name__}: {exc})")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    sys.exit(main())
