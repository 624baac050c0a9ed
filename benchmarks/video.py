"""MimicMotion sampler benchmarks on a tiny random UNet (CPU, 1 thread).

Times are CPU seconds of this process (time.process_time, one thread), so other load on the machine does not
distort the ratios.

1. Scaling: peak RSS growth during sampling and wall time for 16, 64, 256, 1024 frames (each in a fresh process;
   the kernel's peak-RSS counter is reset right before sampling via /proc/self/clear_refs, Linux only).
2. Ours vs a straightforward implementation with the official loop structure (PoseNet per window and step,
   cond and uncond as separate UNet calls, image latents repeated over all frames, tail-aligned last window;
   optionally the reference re-encoded per window and step), on a frame count that wastes a tail window.

Run:  .venv/bin/python -m benchmarks.video            (about 2-3 minutes on a 2-core machine)
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time

import torch

from models.video.conditioning import encode_reference
from models.video.fusion import FusionSchedule, frame_count_advice, initial_noise, window_indices, window_weights
from models.video.sampler import SamplerSettings, denoise
from models.video.sigmas import get_sigmas, sigma_to_timestep
from models.video.unet_hook import pose_residual

SIDE = 64  # pixels; latents 8x8
WINDOW, OVERLAP = 16, 4


def _inputs(n: int, side: int = SIDE) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, side, side, generator=g), torch.rand(n, 3, side, side, generator=g)


def status_kib(field: str) -> int:
    """A /proc/self/status memory field in KiB (VmRSS: now, VmHWM: peak since the last ``reset_peak_rss``)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(field)


def reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS counter (VmHWM) to the current RSS (Linux)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


@torch.no_grad()
def straightforward(comps, ref, poses, fusion: FusionSchedule, s: SamplerSettings, reencode: bool = False):
    """The official loop structure, written plainly (reference point, not used by the pack)."""
    gen = torch.Generator().manual_seed(s.seed)
    cond = encode_reference(comps, ref, gen, "cpu", s.noise_aug, s.image_embed_strength, s.fps_condition,
                            s.motion_bucket)
    return straightforward_loop(comps, cond, poses, fusion, s, gen, ref if reencode else None)


@torch.no_grad()
def straightforward_loop(comps, cond, poses, fusion: FusionSchedule, s: SamplerSettings, gen: torch.Generator,
                         reencode_ref: torch.Tensor | None = None):
    """The sampling loop of ``straightforward`` after the reference is encoded (``gen`` continues from there)."""
    ref, reencode = reencode_ref, reencode_ref is not None
    n = poses.shape[0]
    windows = window_indices(n, fusion)
    weights = window_weights(windows, fusion)
    sigmas = get_sigmas(s.schedule, s.steps)
    latents = initial_noise((4, *cond.image_latent.shape[-2:]), n, fusion, gen) * (sigmas.max() ** 2 + 1) ** 0.5
    image_latents = torch.cat([torch.zeros_like(cond.image_latent), cond.image_latent])[:, None].repeat(1, n, 1, 1, 1)
    embeds = torch.cat([torch.zeros_like(cond.clip_embed), cond.clip_embed])
    guidance = torch.linspace(s.cfg_min, s.cfg_max, n).view(1, n, 1, 1, 1)
    for i in range(s.steps):
        sigma, t = sigmas[i], sigma_to_timestep(sigmas[i])
        lmi = torch.cat([torch.cat([latents[None]] * 2) / (sigma**2 + 1) ** 0.5, image_latents], dim=2)
        pred = torch.zeros(2, n, 4, *latents.shape[-2:])
        cnt = torch.zeros(n)
        for idx, w in zip(windows, weights, strict=True):
            if reencode:
                g2 = torch.Generator().manual_seed(s.seed)
                c2 = encode_reference(comps, ref, g2, "cpu", s.noise_aug, s.image_embed_strength, s.fps_condition,
                                      s.motion_bucket)
                embeds = torch.cat([torch.zeros_like(c2.clip_embed), c2.clip_embed])
            pose = comps.pose_net(poses[idx] * 2 - 1)
            pred[0, idx] += w.view(-1, 1, 1, 1) * comps.unet(lmi[:1, idx], t, encoder_hidden_states=embeds[:1],
                                                             added_time_ids=cond.time_ids, return_dict=False)[0][0]
            with pose_residual(comps.unet, pose):
                pred[1, idx] += w.view(-1, 1, 1, 1) * comps.unet(lmi[1:, idx], t, encoder_hidden_states=embeds[1:],
                                                                 added_time_ids=cond.time_ids, return_dict=False)[0][0]
            cnt[idx] += w
        pred /= cnt.view(1, n, 1, 1, 1)
        v = pred[0] + guidance[0] * (pred[1] - pred[0])
        x0 = v * (-sigma / (sigma**2 + 1) ** 0.5) + latents / (sigma**2 + 1)
        latents = latents + (latents - x0) / sigma * (sigmas[i + 1] - sigma)
    return latents


def child(n: int, mode: str, steps: int) -> dict:
    from tests.helpers.tiny_mimicmotion import tiny_components

    torch.set_num_threads(1)
    comps = tiny_components(0)
    ref, poses = _inputs(n)
    fusion = FusionSchedule(WINDOW, OVERLAP)
    s = SamplerSettings(steps=steps, seed=1, pose_cache_bytes=0 if mode == "ours-nocache" else 2 << 30)
    gen = torch.Generator().manual_seed(1)
    cond = encode_reference(comps, ref, gen, "cpu")
    # warm-up on a short clip so one-off allocations (kernels, thread pools) are not counted
    denoise(comps, cond, poses[:WINDOW], fusion, s, torch.Generator().manual_seed(1), "cpu")
    reset_peak_rss()
    before = status_kib("VmRSS")
    t0 = time.process_time()
    if mode.startswith("ours"):
        out = denoise(comps, cond, poses, fusion, s, gen, "cpu")
    else:
        out = straightforward(comps, ref, poses, fusion, s)
    dt = time.process_time() - t0
    peak = status_kib("VmHWM")
    wins = len(window_indices(n, fusion))
    return {"frames": n, "mode": mode, "windows": wins, "seconds": dt, "s_per_window_step": dt / (wins * steps),
            "peak_growth_mib": (peak - before) / 1024, "latents_mib": out.numel() * 4 / 2**20}


def _run_child(n: int, mode: str, steps: int) -> dict:
    res = subprocess.run([sys.executable, "-m", "benchmarks.video", "--child", str(n), "--mode", mode,
                          "--steps", str(steps)], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def compare(steps: int = 2) -> None:
    from tests.helpers.tiny_mimicmotion import tiny_components

    torch.set_num_threads(1)
    comps = tiny_components(0)
    n = WINDOW + 3 * (WINDOW - OVERLAP) + 1  # 53 frames: the official layout needs a tail window for 1 frame
    ref, poses = _inputs(n)
    s = SamplerSettings(steps=steps, seed=1)
    official = FusionSchedule(WINDOW, OVERLAP)
    shrink = FusionSchedule(WINDOW, OVERLAP, tail="shrink")
    print(frame_count_advice(n, official).message())
    logging.getLogger("models.video").setLevel(logging.ERROR)  # the same advice is logged on every run

    def timed(fn, repeats=2):
        best, out = float("inf"), None
        for _ in range(repeats):
            t0 = time.process_time()
            out = fn()
            best = min(best, time.process_time() - t0)
        return best, out

    def ours(fusion, batch=True):
        def run():
            g = torch.Generator().manual_seed(s.seed)
            st = SamplerSettings(**{**s.__dict__, "batch_cfg": batch})
            cond = encode_reference(comps, ref, g, "cpu")
            return denoise(comps, cond, poses, fusion, st, g, "cpu")
        return run

    t_base, x_base = timed(lambda: straightforward(comps, ref, poses, official, s))
    t_naive, _ = timed(lambda: straightforward(comps, ref, poses, official, s, reencode=True), repeats=1)
    t_same, x_same = timed(ours(official, batch=False))
    t_batch, _ = timed(ours(official))
    t_ours, _ = timed(ours(shrink))
    err = float((x_same - x_base).abs().max())
    print(f"\n{n} frames, window {WINDOW}/{OVERLAP}, {steps} steps, cfg 2, {SIDE}x{SIDE} px, tiny UNet, CPU 1 thread")
    print(f"  official windows: {len(window_indices(n, official))}, shrink-tail windows: "
          f"{len(window_indices(n, shrink))} (last holds {len(window_indices(n, shrink)[-1])} frames)")
    print(f"  straightforward (official loop)             {t_base:7.2f} s   1.00x")
    print(f"  straightforward + reference per window/step {t_naive:7.2f} s   {t_base / t_naive:.2f}x")
    print(f"  ours, official tail, split cond/uncond       {t_same:7.2f} s   {t_base / t_same:.2f}x  "
          f"(max |diff| vs straightforward {err:.2e})")
    print(f"  ours, official tail, batched cond/uncond     {t_batch:7.2f} s   {t_base / t_batch:.2f}x")
    print(f"  ours, shrink tail, batched                   {t_ours:7.2f} s   {t_base / t_ours:.2f}x")
    print(f"  ours vs straightforward + re-encoding: {t_naive / t_ours:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", type=int)
    ap.add_argument("--mode", default="ours")
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--compare-only", action="store_true")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.mode, args.steps)))
        return
    if args.compare_only:
        compare()
        return
    print(f"Scaling (window {WINDOW}/{OVERLAP}, 1 step, cfg 2, {SIDE}x{SIDE} px, tiny UNet, CPU 1 thread)")
    print(f"{'frames':>6} {'mode':>16} {'windows':>7} {'seconds':>8} {'s/window':>9} {'peak growth MiB':>16} "
          f"{'latents MiB':>12}")
    runs = [(n, "ours") for n in (16, 64, 256, 1024)] + [(n, "ours-nocache") for n in (16, 1024)]
    runs += [(n, "straightforward") for n in (16, 1024)]
    for n, mode in runs:
        r = _run_child(n, mode, 1)
        print(f"{r['frames']:>6} {r['mode']:>16} {r['windows']:>7} {r['seconds']:>8.2f} {r['s_per_window_step']:>9.3f} "
              f"{r['peak_growth_mib']:>16.1f} {r['latents_mib']:>12.2f}", flush=True)
    compare()


if __name__ == "__main__":
    main()
