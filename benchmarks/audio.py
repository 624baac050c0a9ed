"""Audio-to-motion speed and memory on this machine (CPU unless --device says otherwise).

Measures, on 60 s of synthetic speech-like audio at 25 fps (1500 frames):
- audio features (models.audio.features.compute_audio_features);
- the procedural driver (models.audio.procedural.rhythm.rhythm_motion), target < 2 s;
- the diffusion sampler with the default model size (random init; speed does not depend on the weights), windowed
  temporal outpainting vs one whole-sequence pass: seconds of motion per second of compute (x real time) and peak
  memory of each, each run in a fresh process so the peaks do not mix.

- old vs new sampler in one process (alternating, best of --repeats): DDIM at --steps vs DPM-Solver++(2M) at
  --fast-steps, windowed; prints both x real time and their ratio (a ratio survives a loaded machine better than
  absolute numbers do).

Usage: python -m benchmarks.audio [--seconds 60] [--steps 10] [--fast-steps 4] [--cfg 2.0] [--threads 1]
       [--device cpu] [--repeats 3]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time

import numpy as np


def speech_like(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """Syllable-rate amplitude-modulated harmonics with pauses: [1, T] float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.3 * t)
    voice = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / sr) / k for k in range(1, 6))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)), 0, None) * (np.sin(2 * np.pi * 0.25 * t) > -0.5)
    return (0.3 * voice * envelope + 0.003 * rng.standard_normal(len(t))).astype(np.float32)[None]


def _sample_child(queue: mp.Queue, feats: np.ndarray, window: int, steps: int, cfg: float, threads: int,
                  device: str) -> None:
    import torch

    from models.audio.learned.diffusion import sample_long
    from models.audio.learned.motion_model import MotionModelConfig, MotionTransformer

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = MotionTransformer(MotionModelConfig()).eval().to(device)
    audio = torch.from_numpy(feats).to(device)
    sample_long(model, audio[:60], steps=2, cfg_scale=cfg, window=window)  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak so far (imports, model, warm-up)
    start = time.perf_counter()
    sample_long(model, audio, steps=steps, cfg_scale=cfg, seed=0, window=window)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else float("nan")
    queue.put((elapsed, max(peak - before, 0.0), gpu, peak))


class _WithoutShortcuts:
    """The motion model as the sampler used it before issue 10: every pass recomputes the audio tokens (for the
    unconditional half too), scatters the three part heads and runs under no_grad. Same numbers
    (tests/test_audio_solver.py checks that bit for bit); only for timing the per-window shortcuts against."""

    def __init__(self, model: object) -> None:
        self.model = model
        self.config = model.config  # type: ignore[attr-defined]

    def embed_audio(self, audio: object) -> object:
        return audio  # handed back as "audio_embedding" below, where it becomes the raw audio again

    def fused_heads(self) -> None:
        return None

    def __call__(self, x_t, t, audio, keep, known, audio_embedding=None, heads=None):  # noqa: ANN001, ANN204
        import torch

        # The sampler used to run under no_grad, not inference_mode (issue 10 changed that too).
        with torch.inference_mode(False), torch.no_grad():
            return self.model(x_t, t, audio_embedding, keep, known)  # type: ignore[operator]


def _solver_child(queue: mp.Queue, feats: np.ndarray, steps: int, fast_steps: int, cfg: float, threads: int,
                  device: str, repeats: int) -> None:
    import torch

    from models.audio.learned.diffusion import sample_long
    from models.audio.learned.motion_model import MotionModelConfig, MotionTransformer

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = MotionTransformer(MotionModelConfig()).eval().to(device)
    audio = torch.from_numpy(feats).to(device)
    sample_long(model, audio[:60], steps=2, cfg_scale=cfg)  # warm-up
    variants = {  # name -> (model, solver, steps)
        "ddim_plain": (_WithoutShortcuts(model), "ddim", steps),
        "ddim": (model, "ddim", steps),
        "dpmpp_2m": (model, "dpmpp_2m", fast_steps),
    }
    best = dict.fromkeys(variants, float("inf"))
    best_cpu = dict.fromkeys(variants, float("inf"))
    outputs = {}
    for _ in range(repeats):  # interleaved, best of: load changes hit every variant alike
        for name, (net, solver, n) in variants.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            outputs[name] = sample_long(net, audio, steps=n, cfg_scale=cfg, seed=0,  # type: ignore[arg-type]
                                        solver=solver)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            best[name] = min(best[name], time.perf_counter() - start)
            best_cpu[name] = min(best_cpu[name], time.process_time() - start_cpu)
    same = bool(torch.equal(outputs["ddim"], outputs["ddim_plain"]))
    queue.put(({k: (best[k], best_cpu[k]) for k in variants}, same))


def run_solvers(feats: np.ndarray, steps: int, fast_steps: int, cfg: float, threads: int, device: str,
                repeats: int) -> tuple:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_solver_child, args=(queue, feats, steps, fast_steps, cfg, threads, device, repeats))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def run_sampler(feats: np.ndarray, window: int, steps: int, cfg: float, threads: int, device: str) -> tuple:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_sample_child, args=(queue, feats, window, steps, cfg, threads, device))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _print_solvers(args: argparse.Namespace, feats: np.ndarray) -> None:
    """Default vs fast sampler (and the default before issue 10's shortcuts), wall and CPU seconds, one process.

    With one thread, CPU time is what the sampler costs; wall time adds whatever else the machine is doing."""
    dur = args.seconds
    times, same = run_solvers(feats, args.steps, args.fast_steps, args.cfg, args.threads, args.device, args.repeats)
    labels = {"ddim_plain": f"default, before issue 10: DDIM {args.steps} steps",
              "ddim": f"default: DDIM {args.steps} steps",
              "dpmpp_2m": f"fast: DPM-Solver++(2M) {args.fast_steps} steps"}
    print(f"motion sampler, {dur:.0f} s of audio, windowed, cfg {args.cfg}, {args.threads} thread(s), best of "
          f"{args.repeats}, load average {os.getloadavg()[0]:.1f}:")
    for name, (wall, cpu) in times.items():
        print(f"  {labels[name]:42s} wall {wall:7.3f} s = {dur / wall:6.1f} x real time | CPU {cpu:7.3f} s = "
              f"{dur / cpu:6.1f} x real time")
    (w0, c0), (w1, c1), (w2, c2) = times["ddim_plain"], times["ddim"], times["dpmpp_2m"]
    print(f"  shortcuts (per-window audio tokens, fused heads, inference mode): {w0 / w1:.2f}x wall, {c0 / c1:.2f}x "
          f"CPU, output identical: {same}")
    print(f"  fast vs default: {w1 / w2:.2f}x wall, {c1 / c2:.2f}x CPU; fast vs the default before issue 10: "
          f"{w0 / w2:.2f}x wall, {c0 / c2:.2f}x CPU")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--cfg", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--fast-steps", type=int, default=4, help="DPM-Solver++(2M) steps for the old-vs-new comparison")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--solvers-only", action="store_true",
                   help="only the default-vs-fast sampler comparison (skips features, procedural, whole-clip runs)")
    args = p.parse_args()

    import torch

    from models.audio.features import compute_audio_features
    from models.audio.procedural.rhythm import rhythm_motion
    from models.pose.types import PoseSequence
    from tests.helpers.tiny_motion import reference_pose

    torch.set_num_threads(args.threads)
    wave = speech_like(args.seconds)
    start = time.perf_counter()
    features = compute_audio_features(wave, 16000, args.fps)
    t_feat = time.perf_counter() - start
    ref: PoseSequence = reference_pose()
    rhythm_motion(ref, features, seed=0)  # warm-up (imports, caches)
    start = time.perf_counter()
    rhythm_motion(ref, features, seed=0)
    t_proc = time.perf_counter() - start

    feats = features.features
    if args.solvers_only:
        _print_solvers(args, feats)
        return
    t_win, mem_win, gpu_win, peak_win = run_sampler(feats, 50, args.steps, args.cfg, args.threads, args.device)
    t_all, mem_all, gpu_all, peak_all = run_sampler(feats, 0, args.steps, args.cfg, args.threads, args.device)
    # Attention scores of one layer: batch 2 (cfg) x 4 heads x frames^2 x 4 bytes.
    att_win, att_all = (2 * 4 * n * n * 4 / 2**20 for n in (50, features.num_frames))

    dur = args.seconds
    print(f"audio: {dur:.0f} s at {args.fps:g} fps = {features.num_frames} frames; device {args.device}, "
          f"{args.threads} threads; sampler {args.steps} DDIM steps, cfg {args.cfg} (2 passes per step)")
    print(f"audio features          {t_feat:7.3f} s  {dur / t_feat:8.1f} x real time")
    print(f"procedural (rhythm)     {t_proc:7.3f} s  {dur / t_proc:8.1f} x real time  (target < 2 s: "
          f"{'met' if t_proc < 2 else 'MISSED'})")
    print(f"diffusion, windowed     {t_win:7.3f} s  {dur / t_win:8.1f} x real time  (window 50, overlap 25)")
    print(f"diffusion, whole clip   {t_all:7.3f} s  {dur / t_all:8.1f} x real time  (one pass over all frames)")
    print(f"procedural driver is {t_win / t_proc:.1f}x faster than the windowed diffusion sampler")
    print(f"new RSS peak while sampling (above imports + warm-up): windowed {mem_win:.0f} MB, whole clip "
          f"{mem_all:.0f} MB (process peaks {peak_win:.0f} / {peak_all:.0f} MB)")
    print(f"attention scores per layer: windowed {att_win:.2f} MB, whole clip {att_all:.1f} MB "
          f"({att_all / att_win:.0f}x; grows with the square of the clip length, windows stay constant)")
    _print_solvers(args, feats)
    if args.device.startswith("cuda"):
        print(f"peak GPU memory: windowed {gpu_win:.0f} MiB, whole clip {gpu_all:.0f} MiB")


if __name__ == "__main__":
    main()
