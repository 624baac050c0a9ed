"""Embody vs kijai's ComfyUI-MimicMotionWrapper in ONE real ComfyUI process, on identical tiny weights (issue 10).

Not part of the pack or its tests (pytest does not collect benchmarks/). The wrapper is never imported here: it must
already sit in ``<ComfyUI>/custom_nodes/ComfyUI-MimicMotionWrapper`` of the ComfyUI folder you pass (``--comfy`` or
env COMFYUI_DIR; its python: ``--python`` or env COMFY_PY).

Weights (seeded random, written once into ``--cache``, outside the repository, never committed):
- ``models/mimicmotion/MimicMotionMergedUnet_1-0-fp16.safetensors``: a UNet-only fp16 file, the layout of kijai's
  merged UNet. The wrapper only offers its two file names; "1-0" makes both packs use the 16-frame model's defaults.
- ``models/mimicmotion/mimic_motion_pose_net.safetensors``: the PoseNet (no prefix, fp16), kijai's layout.
- ``models/diffusers/stable-video-diffusion-img2vid-xt-1-1/``: vae/ and image_encoder/ as ``*.fp16.safetensors``
  (the wrapper asks diffusers/transformers for variant "fp16"), feature_extractor/, scheduler/.
Sizes: ``--unet wide`` (default) is SVD's UNet layout shrunk to block_out_channels (64, 128, 256, 256), one layer per
block (39.6 M parameters), so that at 256x256 the UNet dominates the run; ``--unet tiny`` is the test helpers' (32, 64).
The VAE is the helpers' tiny one (4 blocks of 32). The CLIP encoder is tiny but takes 224 px input, because the
wrapper always resizes the reference to 224 (comfy.clip_vision.clip_preprocess) whatever the encoder's config says.

The wrapper reads its UNet config from its own ``configs/unet_config.json`` (SVD's full size) and its PoseNet from its
own ``models/mimic_motion_pose_net.safetensors``: for the run both are replaced by the tiny ones (the UNet config is
the one Embody's loader infers from the file, so both build the same network), and restored afterwards (originals
kept as ``*.orig`` while it runs). Both packs find the files through symlinks in ``<ComfyUI>/models/`` (the wrapper
reads ``folder_paths.models_dir`` directly), removed afterwards; Embody through extra_model_paths.yaml.

Per prompt (load -> sample -> decode -> PreviewImage; ComfyUI's cache and models are freed before each prompt with
POST /free, so every prompt loads its models): wall time from the /history execution timestamps, and the peak RSS of
the server process (VmHWM, reset with /proc/PID/clear_refs just before posting; Linux), also shown as the rise over
the RSS just before the prompt; ``peak_at`` (in the JSON) is when the sampled RSS (every 20 ms) peaked, as a fraction
of the prompt's time. Both packs get the same reference image and the same already-rendered pose frames
(one IMAGE batch whose frame 0 is the reference's pose; the wrapper's own pose node needs DWPose and is not used).
The server runs with MALLOC_MMAP_THRESHOLD_ fixed so freed tensors go back to the OS and one prompt's leftovers do
not hide the next one's peak.

Run (from the repository root, with a python that has torch/diffusers, e.g. the dev venv):
    COMFYUI_DIR=/path/ComfyUI COMFY_PY=/path/ComfyUI/venv/bin/python \
    python -m benchmarks.wrapper_compare --cache /tmp/wrapper_cache --port 8241 [--sides 256 128 --cfgs 2 1
    --frames 16 --steps 4 --repeats 3 --precisions fp32]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]

logger = logging.getLogger("wrapper_compare")

WRAPPER = "ComfyUI-MimicMotionWrapper"
UNET_FILE = "MimicMotionMergedUnet_1-0-fp16.safetensors"
POSE_FILE = "mimic_motion_pose_net.safetensors"
SVD_NAME = "stable-video-diffusion-img2vid-xt-1-1"
CLIP_SIDE = 224  # the wrapper's fixed CLIP input side


# ---------------------------------------------------------------------------------------------------- weights ----

def _wide_unet_config() -> dict[str, Any]:
    from models.video.config_infer import SVD_UNET_CONFIG

    cfg = dict(SVD_UNET_CONFIG)
    cfg.update(block_out_channels=(64, 128, 256, 256), layers_per_block=1, cross_attention_dim=32,
               num_attention_heads=(1, 2, 4, 4), addition_time_embed_dim=32, projection_class_embeddings_input_dim=96)
    return cfg


def write_weights(cache: Path, unet_size: str, seed: int = 0) -> dict[str, Path]:
    """Write (once) the tiny files both packs load; returns their paths. See the module docstring."""
    from diffusers import UNetSpatioTemporalConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from models.video.config_infer import infer_unet_config
    from models.video.posenet import PoseNet
    from tests.helpers.tiny_mimicmotion import _seeded_init, tiny_components, write_svd_folder

    out = cache / f"models_{unet_size}"
    paths = {"models": out, "unet": out / "mimicmotion" / UNET_FILE, "pose_net": out / "mimicmotion" / POSE_FILE,
             "svd": out / "diffusers" / SVD_NAME, "unet_config": out / "wrapper_unet_config.json"}
    if all(p.exists() for p in paths.values()):
        return paths
    comps = tiny_components(seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    unet: Any = comps.unet  # diffusers' stubs type .config / .eval loosely
    with torch.no_grad():
        if unet_size == "wide":
            unet = UNetSpatioTemporalConditionModel(**_wide_unet_config())
            unet.eval()
            comps.unet = unet
            comps.pose_net = PoseNet(noise_latent_channels=int(unet.config.block_out_channels[0])).eval()
            for module in (comps.unet, comps.pose_net):
                _seeded_init(module, gen)  # PoseNet's zero-initialised projection randomised too
            comps.pose_net.scale.fill_(2.0)
        clip = CLIPVisionModelWithProjection(CLIPVisionConfig(
            hidden_size=32, projection_dim=int(unet.config.cross_attention_dim), num_hidden_layers=2,
            num_attention_heads=4, image_size=CLIP_SIDE, patch_size=32, intermediate_size=37, hidden_act="gelu",
            layer_norm_eps=1e-5)).eval()
        _seeded_init(clip, gen)
    comps.image_encoder, comps.image_size = clip, CLIP_SIDE
    paths["unet"].parent.mkdir(parents=True, exist_ok=True)
    unet_sd = {k: v.detach().to(torch.float16).contiguous() for k, v in comps.unet.state_dict().items()}
    save_file(unet_sd, str(paths["unet"]))
    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in comps.pose_net.state_dict().items()},
              str(paths["pose_net"]))
    comps.vae, comps.image_encoder = comps.vae.half(), comps.image_encoder.half()
    write_svd_folder(comps, str(paths["svd"]))
    # The wrapper asks for variant "fp16"; Embody's loader reads either name.
    for sub, stem in (("vae", "diffusion_pytorch_model"), ("image_encoder", "model")):
        src = paths["svd"] / sub / f"{stem}.safetensors"
        src.rename(src.with_name(f"{stem}.fp16.safetensors"))
    # The wrapper builds its UNet from a config file: give it exactly what Embody infers from the weights.
    cfg = infer_unet_config(unet_sd)
    cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}
    paths["unet_config"].write_text(json.dumps({"_class_name": "UNetSpatioTemporalConditionModel", **cfg}, indent=2))
    n = sum(p.numel() for p in comps.unet.parameters())
    logger.info("wrote %s weights (UNet %.1f M parameters) to %s", unet_size, n / 1e6, out)
    return paths


def write_inputs(folder: Path, side: int, frames: int, seed: int = 0) -> tuple[str, str]:
    """A reference PNG and an animated PNG of ``frames`` pose-like frames (stick figures, frame 0 = still pose)."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ref = (rng.random((side // 8, side // 8, 3)) * 255).astype(np.uint8)
    ref_img = Image.fromarray(ref).resize((side, side), Image.Resampling.BILINEAR)
    ref_name, pose_name = f"ref_{side}.png", f"poses_{side}_{frames}.png"
    ref_img.save(folder / ref_name)
    imgs = []
    for f in range(frames):
        img = Image.new("RGB", (side, side))
        d = ImageDraw.Draw(img)
        c, s = side / 2, side / 8
        swing = s * np.sin(2 * np.pi * f / max(frames, 1)) if f else 0.0
        w = max(1, side // 64)
        d.line([(c, 1.5 * s), (c, 4 * s)], fill=(255, 0, 0), width=w)
        d.line([(c, 2 * s), (c - 1.5 * s, 3 * s + swing)], fill=(0, 255, 0), width=w)
        d.line([(c, 2 * s), (c + 1.5 * s, 3 * s - swing)], fill=(0, 0, 255), width=w)
        d.line([(c, 4 * s), (c - s, 6.5 * s)], fill=(255, 255, 0), width=w)
        d.line([(c, 4 * s), (c + s + swing / 2, 6.5 * s)], fill=(0, 255, 255), width=w)
        d.ellipse([c - s / 2, 0.5 * s, c + s / 2, 1.5 * s], outline=(255, 0, 255), width=w)
        # A marker that moves one step per frame: PIL's APNG writer merges identical consecutive frames.
        x, y = (2 * f) % (side - 2), side - 3 - 2 * ((2 * f) // (side - 2))
        d.rectangle([x, y, x + 1, y + 1], fill=(255, 255, 255))
        imgs.append(img)
    imgs[0].save(folder / pose_name, save_all=True, append_images=imgs[1:], duration=66, loop=0)
    with Image.open(folder / pose_name) as check:
        if getattr(check, "n_frames", 1) != frames:
            raise RuntimeError(f"{pose_name} holds {getattr(check, 'n_frames', 1)} frames, not {frames}")
    return ref_name, pose_name


# --------------------------------------------------------------------------------------------------- workflows ----

def embody_prompt(ref: str, poses: str, steps: int, cfg: float, precision: str, seed: int) -> dict:
    return {
        "1": {"class_type": "EmbodyVideoModelLoader", "inputs": {
            "mimicmotion": UNET_FILE, "svd_base": "[diffusers] " + SVD_NAME, "precision": precision,
            "version": "1.0", "pose_net": POSE_FILE}},
        "2": {"class_type": "LoadImage", "inputs": {"image": ref}},
        "3": {"class_type": "LoadImage", "inputs": {"image": poses}},
        "4": {"class_type": "EmbodySampler", "inputs": {
            "video_model": ["1", 0], "reference": ["2", 0], "poses": ["3", 0], "steps": steps, "seed": seed,
            "cfg_min": cfg, "cfg_max": cfg, "fps_condition": 6, "motion_bucket": 127, "noise_aug": 0.0,
            "pose_strength": 1.0, "pose_start": 0.0, "pose_end": 1.0, "image_embed_strength": 1.0,
            "sigma_schedule": "karras"}},
        "5": {"class_type": "EmbodyDecode", "inputs": {
            "video_model": ["1", 0], "latent": ["4", 0], "chunk_size": 4, "decode_on_cpu": False,
            "keep_reference_frame": False}},
        "6": {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}},
    }


def wrapper_prompt(ref: str, poses: str, steps: int, cfg: float, precision: str, seed: int, frames: int) -> dict:
    return {
        "1": {"class_type": "DownloadAndLoadMimicMotionModel", "inputs": {"model": UNET_FILE, "precision": precision}},
        "2": {"class_type": "LoadImage", "inputs": {"image": ref}},
        "3": {"class_type": "LoadImage", "inputs": {"image": poses}},
        # fps 7 -> the UNet is conditioned on fps - 1 = 6, as Embody's fps_condition 6; window 16, overlap 4 as
        # Embody's MimicMotion 1.0 default (one window at 16 frames either way).
        "4": {"class_type": "MimicMotionSampler", "inputs": {
            "mimic_pipeline": ["1", 0], "ref_image": ["2", 0], "pose_images": ["3", 0], "steps": steps,
            "cfg_min": cfg, "cfg_max": cfg, "seed": seed, "fps": 7, "noise_aug_strength": 0.0,
            "context_size": min(16, frames), "context_overlap": 4, "keep_model_loaded": True}},
        "5": {"class_type": "MimicMotionDecode", "inputs": {"mimic_pipeline": ["1", 0], "samples": ["4", 0],
                                                            "decode_chunk_size": 4}},
        "6": {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}},
    }


# ------------------------------------------------------------------------------------------------------ server ----

def _status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process so far (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Setup:
    """Puts the tiny files where both packs look and swaps the wrapper's config / PoseNet; ``undo`` restores all."""

    def __init__(self, comfy: Path, paths: dict[str, Path]) -> None:
        self.comfy, self.paths = comfy, paths
        self.links: list[Path] = []
        self.swapped: list[Path] = []

    def _link(self, link: Path, target: Path) -> None:
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            raise RuntimeError(f"{link} exists and is not a symlink: move it away first (it is not touched).")
        link.symlink_to(target)
        self.links.append(link)

    def _swap(self, dest: Path, src: Path) -> None:
        orig = dest.with_name(dest.name + ".orig")
        if not orig.exists():
            shutil.copy2(dest, orig)
        shutil.copyfile(src, dest)
        self.swapped.append(dest)

    def do(self) -> None:
        wrapper = self.comfy / "custom_nodes" / WRAPPER
        if not (wrapper / "nodes.py").is_file():
            raise SystemExit(f"kijai's wrapper is not installed: no {wrapper}/nodes.py")
        models = self.comfy / "models"
        self._link(models / "mimicmotion" / UNET_FILE, self.paths["unet"])
        self._link(models / "mimicmotion" / POSE_FILE, self.paths["pose_net"])
        self._link(models / "diffusers" / SVD_NAME, self.paths["svd"])
        self._swap(wrapper / "configs" / "unet_config.json", self.paths["unet_config"])
        self._swap(wrapper / "models" / POSE_FILE, self.paths["pose_net"])

    def undo(self) -> None:
        for link in self.links:
            if link.is_symlink():
                link.unlink()
        for dest in self.swapped:
            orig = dest.with_name(dest.name + ".orig")
            if orig.exists():
                shutil.move(str(orig), str(dest))


def run_one(server: Any, pid: int, prompt: dict) -> dict[str, Any]:
    server.post("/free", {"unload_models": True, "free_memory": True})
    time.sleep(3.0)  # the prompt worker resets its caches when it wakes up
    rss0 = _status_kib(pid, "VmRSS")
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample_rss() -> None:  # when in the prompt the RSS peaks (stages run load -> encode -> sample -> decode)
        while not done.is_set():
            samples.append((time.time(), _status_kib(pid, "VmRSS")))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample_rss, daemon=True)
    t0, cpu0 = time.time(), _cpu_s(pid)
    sampler.start()
    try:
        hist = server.run_prompt(prompt, timeout=1200)
    finally:
        done.set()
        sampler.join()
    wall, cpu = time.time() - t0, _cpu_s(pid) - cpu0
    t_peak = max(samples, key=lambda s: s[1])[0] if samples else t0
    status = hist.get("status", {})
    if status.get("status_str") != "success":
        raise RuntimeError(f"prompt failed: {json.dumps(status)[:3000]}\n{server.log()[-3000:]}")
    stamps = {m[0]: m[1].get("timestamp") for m in status.get("messages", []) if isinstance(m[1], dict)}
    start, end = stamps.get("execution_start"), stamps.get("execution_success")
    if start is not None and end is not None:
        wall = (end - start) / 1000.0
    peak = _status_kib(pid, "VmHWM")
    images = [str(Path(i.get("subfolder", "")) / i["filename"]) for i in hist.get("outputs", {}).get("6", {})
              .get("images", [])]
    return {"wall_s": wall, "cpu_s": cpu, "peak_mib": peak / 1024, "rise_mib": (peak - rss0) / 1024,
            "rss0_mib": rss0 / 1024, "peak_at": (t_peak - t0) / max(time.time() - t0, 1e-9), "images": images}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--comfy", default=os.environ.get("COMFYUI_DIR", ""), help="ComfyUI folder with the wrapper")
    ap.add_argument("--python", default=os.environ.get("COMFY_PY", ""), help="python that runs that ComfyUI")
    ap.add_argument("--cache", required=True, help="folder for the tiny weights and the server's files")
    ap.add_argument("--port", type=int, default=8241)
    ap.add_argument("--unet", choices=["wide", "tiny"], default="wide")
    ap.add_argument("--sides", type=int, nargs="+", default=[256, 128])
    ap.add_argument("--cfgs", type=float, nargs="+", default=[2.0, 1.0])
    ap.add_argument("--precisions", nargs="+", default=["fp32"])
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="unmeasured prompts per pack first (smallest side)")
    ap.add_argument("--threads", default="1", help="OMP_NUM_THREADS of the server")
    ap.add_argument("--json", default="", help="also write every measurement to this file")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not args.comfy or not args.python:
        raise SystemExit("Give the ComfyUI folder (--comfy or COMFYUI_DIR) and its python (--python or COMFY_PY).")
    os.environ["COMFYUI_DIR"], os.environ["COMFY_PY"] = args.comfy, args.python
    os.environ.pop("COMFY_HOST_SH", None)  # start by hand: we need the server's own PID
    os.environ["OMP_NUM_THREADS"] = args.threads
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "131072"  # fixed: big tensors are mmapped and returned when freed
    from tests.integration.comfy_server import ComfyServer

    cache = Path(args.cache).resolve()
    paths = write_weights(cache, args.unet)
    root = cache / f"server_{args.port}"
    if root.exists():
        shutil.rmtree(root)
    server = ComfyServer(root, port=args.port)
    inputs = {side: write_inputs(server.input, side, args.frames) for side in args.sides}
    setup = Setup(Path(args.comfy), paths)
    results: list[dict[str, Any]] = []
    diffs: dict[str, str] = {}
    try:
        setup.do()
        # Embody finds the files through extra_model_paths (before this benchmark its SVD folder scan did not follow
        # a symlinked folder); the wrapper reads models_dir directly, hence the symlinks.
        extra = root / "extra_model_paths.yaml"
        extra.write_text(f"wrapper_compare:\n    base_path: {paths['models']}\n    mimicmotion: mimicmotion\n"
                         "    diffusers: diffusers\n")
        server.start(extra)
        pid = server._proc.pid
        ref0, poses0 = inputs[min(args.sides)]
        for _ in range(args.warmup):  # first-prompt costs (lazy imports, first allocations) are not measured
            for prec in args.precisions:
                run_one(server, pid, embody_prompt(ref0, poses0, 1, 2.0, prec, 0))
                run_one(server, pid, wrapper_prompt(ref0, poses0, 1, 2.0, prec, 0, args.frames))
        for prec in args.precisions:
            for side in args.sides:
                for cfg in args.cfgs:
                    ref, poses = inputs[side]
                    prompts = {
                        "embody": embody_prompt(ref, poses, args.steps, cfg, prec, 0),
                        "wrapper": wrapper_prompt(ref, poses, args.steps, cfg, prec, 0, args.frames),
                    }
                    for rep in range(args.repeats):
                        order = ("embody", "wrapper") if rep % 2 == 0 else ("wrapper", "embody")
                        for pack in order:
                            r = run_one(server, pid, prompts[pack])
                            r.update(pack=pack, side=side, cfg=cfg, precision=prec, rep=rep)
                            logger.info("%s", r)
                            results.append(r)
        diffs = compare_outputs(Path(args.comfy) / "temp", results)  # before stop: ComfyUI empties temp/ on exit
    finally:
        server.stop()
        setup.undo()
    for key, text in diffs.items():
        print(key, text)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print_table(results, args)


def _frames(temp: Path, names: list[str]) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.open(temp / n).convert("RGB"), np.float32) / 255 for n in names])


def compare_outputs(temp: Path, results: list[dict[str, Any]]) -> dict[str, str]:
    """Per setting: mean |Embody - wrapper| of the decoded frames (0-1 scale, 8-bit previews of the first repeat of
    each), and Embody's and the wrapper's own repeat-to-repeat difference (same seed: should be 0)."""
    out: dict[str, str] = {}
    for prec, side, cfg in sorted({(r["precision"], r["side"], r["cfg"]) for r in results}):
        runs = {p: [r for r in results if (r["precision"], r["side"], r["cfg"], r["pack"]) == (prec, side, cfg, p)]
                for p in ("embody", "wrapper")}
        try:
            e, w = (_frames(temp, runs[p][0]["images"]) for p in ("embody", "wrapper"))
            text = (f"mean |Embody - wrapper| {np.abs(e - w).mean():.4f}, max {np.abs(e - w).max():.4f} (frames "
                    f"{e.shape} / {w.shape}; Embody's frames: std {e.std():.4f}, mean |frame - previous frame| "
                    f"{np.abs(np.diff(e, axis=0)).mean():.4f})")
            for p, first in (("Embody", e), ("wrapper", w)):
                if len(runs[p.lower()]) > 1:
                    again = _frames(temp, runs[p.lower()][1]["images"])
                    text += f"; {p} repeat-to-repeat {np.abs(first - again).mean():.4f}"
        except (OSError, ValueError, IndexError) as exc:  # shapes differ or a preview is missing: say so
            text = f"not compared ({exc})"
        out[f"output {prec} {side}x{side} cfg {cfg:g}:"] = text
    return out


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{args.frames} frames, {args.steps} steps, UNet '{args.unet}', OMP_NUM_THREADS={args.threads}; medians "
          f"of {args.repeats} (alternating order); peak = server VmHWM during the prompt, rise = peak - RSS before")
    print("| precision | size | cfg | Embody s (CPU s) | wrapper s (CPU s) | time ratio (CPU) "
          "| Embody peak MiB (rise) "
          "| wrapper peak MiB (rise) | peak ratio | rise ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    keys = sorted({(r["precision"], r["side"], r["cfg"]) for r in results}, key=lambda k: (k[0], -k[1], -k[2]))
    for prec, side, cfg in keys:
        med: dict[str, dict[str, float]] = {}
        for pack in ("embody", "wrapper"):
            rows = [r for r in results if (r["precision"], r["side"], r["cfg"], r["pack"]) == (prec, side, cfg, pack)]
            med[pack] = {k: statistics.median(r[k] for r in rows) for k in ("wall_s", "cpu_s", "peak_mib", "rise_mib")}
        e, w = med["embody"], med["wrapper"]
        print(f"| {prec} | {side}x{side} | {cfg:g} | {e['wall_s']:.1f} ({e['cpu_s']:.1f}) | {w['wall_s']:.1f} "
              f"({w['cpu_s']:.1f}) | {e['wall_s'] / w['wall_s']:.2f}x ({e['cpu_s'] / w['cpu_s']:.2f}x) | "
              f"{e['peak_mib']:,.0f} ({e['rise_mib']:,.0f}) | {w['peak_mib']:,.0f} ({w['rise_mib']:,.0f}) | "
              f"{e['peak_mib'] / w['peak_mib']:.2f}x | {e['rise_mib'] / max(w['rise_mib'], 1e-9):.2f}x |")


if __name__ == "__main__":
    main()
