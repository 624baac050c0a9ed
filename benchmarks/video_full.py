"""Full-size MimicMotion on the CPU: Embody's loader + sampler + decode against the straightforward official way.

Weights: the real architectures (SVD-xt UNet 1.52 B + PoseNet, temporal VAE 98 M, CLIP ViT-H/14 632 M) with seeded
random weights, written once as fp16 files in the official layouts (a pickled OrderedDict ``unet.*`` + ``pose_net.*``
like MimicMotion_1-1.pth, and an SVD diffusers folder with vae/ and image_encoder/ .fp16.safetensors) into a cache
folder outside the repository (about 4.4 GB; never committed). Built on the meta device and initialised in fp16
one module at a time, so building needs about 3.5 GB of RAM.

Each implementation runs in a fresh process (peak RSS is per process); per stage it reports wall and CPU seconds
and the peak RSS during the stage (the kernel's VmHWM, reset with /proc/self/clear_refs at the stage start; Linux):
- ours: ``load_video_components`` (fp32 compute, idle modules kept in the files' fp16 as the loader node does on a
  CPU; ``VideoModel.prepare`` casts the modules of each stage to fp32 and the others back) -> ``encode_reference``
  -> ``denoise`` (SamplerSettings defaults: on the CPU cond and uncond run as two calls) -> ``decode_latents``
  (chunk 8);
- reference: the official loading (modules built with random init in fp32, then ``load_state_dict`` from the fp16
  files: the .pth with strict=False on a unet + pose_net wrapper, as mimicmotion/utils/loader.py does) ->
  the same ``encode_reference`` -> ``benchmarks.video.straightforward_loop`` (PoseNet per window and step, two UNet
  calls, image latents repeated over frames) -> ``vae.decode`` per chunk of 8 and ``torch.cat``.
``--extras`` adds, in the ours process after its stages, warm runs of two calls, cond + uncond batched and a
guidance interval that skips the first step's uncond pass, interleaved for ``--repeats`` rounds (same seed), with the
change of the latents against the default run. ``--reuse 2,3`` instead adds warm runs of feature reuse (DeepCache,
models/video/feature_reuse.py) at those intervals, interleaved with the same sampler without it, and the change of
the latents against that run of the same round. ``--solvers 24,6,12`` runs Euler at 24 steps as the reference end
point, then Euler and DPM-Solver++(2M) at 6 and 12 steps, and prints each one's distance to that end point.

Needs about 10 GB of free RAM in fp32. Run: python -m benchmarks.video_full --cache DIR [--frames 9 --side 128
--steps 2 --extras --repeats 2] [--reuse 2,3 --steps 4] [--solvers 24,6,12 --cfg 1] [--only ours|reference]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch

from benchmarks.gpu_check import CLIP_CONFIG, VAE_CONFIG, seeded_init
from benchmarks.video import reset_peak_rss, status_kib

STAGES = ("load", "encode", "sample", "decode")


def _paths(cache: str) -> tuple[str, str]:
    return os.path.join(cache, "MimicMotion_full_random.pth"), os.path.join(cache, "svd")


def build_cache(cache: str, seed: int = 0) -> None:
    """Write the full-size random weights (fp16, official layouts) unless they are there already."""
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from models.video.config_infer import SVD_UNET_CONFIG
    from models.video.loader import SVD_SCHEDULER_CONFIG
    from models.video.posenet import PoseNet

    mm_path, svd = _paths(cache)
    done = os.path.join(cache, "complete")
    if os.path.isfile(done):
        return
    for sub in ("vae", "image_encoder", "scheduler"):
        os.makedirs(os.path.join(svd, sub), exist_ok=True)

    def fp16(make: Callable[[], torch.nn.Module], i: int) -> dict[str, torch.Tensor]:
        with torch.device("meta"):
            m = make()
        m = m.to_empty(device="cpu").half()
        seeded_init(m, seed + i)  # fp32 noise per tensor, rounded into fp16
        sd = {k: v for k, v in m.state_dict().items() if not k.endswith("position_ids")}
        return sd

    sd = fp16(lambda: UNetSpatioTemporalConditionModel(**SVD_UNET_CONFIG), 0)
    state = OrderedDict((f"unet.{k}", v) for k, v in sd.items())
    del sd
    pose = fp16(lambda: PoseNet(noise_latent_channels=SVD_UNET_CONFIG["block_out_channels"][0]), 1)
    state.update((f"pose_net.{k}", v) for k, v in pose.items())
    torch.save(state, mm_path)
    del state, pose
    vae_cfg = {"_class_name": "AutoencoderKLTemporalDecoder", **VAE_CONFIG}
    sd = fp16(lambda: AutoencoderKLTemporalDecoder(**VAE_CONFIG), 2)
    save_file(sd, os.path.join(svd, "vae", "diffusion_pytorch_model.fp16.safetensors"))
    clip_cfg = CLIPVisionConfig(**CLIP_CONFIG)
    sd = fp16(lambda: CLIPVisionModelWithProjection(clip_cfg), 3)
    save_file(sd, os.path.join(svd, "image_encoder", "model.fp16.safetensors"))
    del sd
    with open(os.path.join(svd, "vae", "config.json"), "w") as f:
        json.dump(vae_cfg, f)
    clip_cfg.to_json_file(os.path.join(svd, "image_encoder", "config.json"))
    with open(os.path.join(svd, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(SVD_SCHEDULER_CONFIG, f)
    open(done, "w").close()


def _inputs(frames: int, side: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(1, 3, side, side, generator=g)
    poses = torch.zeros(frames, 3, side, side)
    for f in range(frames):  # a bar moving down: pose-like sparse images
        top = side // 4 + f * side // (4 * frames)
        poses[f, :, top : top + side // 8, side // 4 : 3 * side // 4] = 1.0
    return ref, poses


def load_reference(mm_path: str, svd: str) -> Any:
    """The official way: random init in fp32, then load_state_dict from the fp16 files (copies into fp32)."""
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from safetensors.torch import load_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from models.video.components import VideoComponents
    from models.video.config_infer import SVD_UNET_CONFIG
    from models.video.loader import CLIP_MEAN, CLIP_STD, SVD_SCHEDULER_CONFIG
    from models.video.posenet import PoseNet

    unet = UNetSpatioTemporalConditionModel(**SVD_UNET_CONFIG)
    vae = AutoencoderKLTemporalDecoder(**VAE_CONFIG)
    vae.load_state_dict(load_file(os.path.join(svd, "vae", "diffusion_pytorch_model.fp16.safetensors")))
    clip = CLIPVisionModelWithProjection(CLIPVisionConfig(**CLIP_CONFIG))
    clip.load_state_dict(load_file(os.path.join(svd, "image_encoder", "model.fp16.safetensors")), strict=False)
    pose_net = PoseNet(noise_latent_channels=320)
    wrapper = torch.nn.ModuleDict({"unet": unet, "pose_net": pose_net})
    wrapper.load_state_dict(torch.load(mm_path, map_location="cpu", weights_only=True), strict=False)
    return VideoComponents(unet=unet.eval(), pose_net=pose_net.eval(), vae=vae.eval(), image_encoder=clip.eval(),
                           image_mean=CLIP_MEAN, image_std=CLIP_STD, image_size=224,
                           scheduler_config=dict(SVD_SCHEDULER_CONFIG), dtype=torch.float32, version="1.1")


@torch.no_grad()
def decode_reference(vae: Any, latents: torch.Tensor, chunk: int = 8) -> torch.Tensor:
    """Official decode_latents: chunks of 8 through the temporal decoder, outputs concatenated."""
    z = latents / vae.config.scaling_factor
    frames = [vae.decode(z[i : i + chunk], num_frames=len(z[i : i + chunk])).sample for i in range(0, len(z), chunk)]
    return (torch.cat(frames)[1:] / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1)


def child(mode: str, cache: str, frames: int, side: int, steps: int, extras: bool, repeats: int = 1,
          reuse: tuple[int, ...] = (), solvers: tuple[int, ...] = (), cfg: float = 2.0) -> dict[str, Any]:
    from benchmarks.video import straightforward_loop
    from models.video.components import VideoModel
    from models.video.conditioning import encode_reference
    from models.video.decode import decode_latents
    from models.video.fusion import FusionSchedule
    from models.video.loader import load_video_components
    from models.video.sampler import SamplerSettings, denoise
    from models.video.sigmas import get_sigmas

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    mm_path, svd = _paths(cache)
    ref, poses = _inputs(frames, side)
    s = SamplerSettings(steps=steps, seed=1, cfg_min=cfg, cfg_max=cfg)
    fusion = FusionSchedule().resolved("1.1").fitted(frames)
    out: dict[str, Any] = {"mode": mode, "baseline_mib": status_kib("VmRSS") / 1024}
    state: dict[str, Any] = {}

    def stage(name: str, fn: Callable[[], Any]) -> Any:
        reset_peak_rss()
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        out[name] = {"wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0,
                     "peak_mib": status_kib("VmHWM") / 1024, "after_mib": status_kib("VmRSS") / 1024}
        print(f"  {mode} {name}: {json.dumps(out[name])}", file=sys.stderr, flush=True)
        return result

    vm = None
    if mode == "ours":
        # As the loader node on a CPU: idle modules kept in the files' fp16, cast to fp32 while in use (prepare).
        comps = stage("load", lambda: load_video_components(mm_path, svd, torch.float32, "1.1", idle_storage=True))
        vm = VideoModel.from_components(comps)
    else:
        comps = stage("load", lambda: load_reference(mm_path, svd))

    def use(*groups: str) -> None:
        if vm is not None:  # what the sampler / decode nodes do before each stage
            vm.prepare(groups)

    def encode() -> Any:
        use("image_encoder", "vae")
        state["gen"] = torch.Generator().manual_seed(s.seed)
        with torch.no_grad():
            return encode_reference(comps, ref, state["gen"], "cpu", s.noise_aug, s.image_embed_strength,
                                    s.fps_condition, s.motion_bucket)

    cond = stage("encode", encode)
    if mode == "ours":
        import psutil

        s.free_memory = int(psutil.virtual_memory().available)  # as ComfyUI's get_free_memory on a CPU
        latents = stage("sample", lambda: (use("unet"), denoise(comps, cond, poses, fusion, s, state["gen"], "cpu"))[1])
        images = stage("decode", lambda: (use("vae"), decode_latents(comps.vae, latents, chunk_size=8))[1])
    else:
        latents = stage("sample", lambda: straightforward_loop(comps, cond, poses, fusion, s, state["gen"]))
        images = stage("decode", lambda: decode_reference(comps.vae, latents))
    out["peak_mib"] = max(out[k]["peak_mib"] for k in STAGES)
    torch.save({"latents": latents, "images": images}, os.path.join(cache, f"out_{mode}.pt"))
    if mode == "ours" and (extras or reuse or solvers):
        def rerun(name: str, **kw: Any) -> torch.Tensor:
            st = SamplerSettings(**{**s.__dict__, "free_memory": None, **kw})
            g = torch.Generator().manual_seed(st.seed)
            with torch.no_grad():
                use("image_encoder", "vae")
                c = encode_reference(comps, ref, g, "cpu")  # same generator state as the timed default run
            use("unet")
            return stage(name, lambda: denoise(comps, c, poses, fusion, st, g, "cpu"))

        def rel(a: torch.Tensor, b: torch.Tensor = latents) -> float:
            return float((a - b).norm() / b.norm())

        if solvers:
            # Euler at many steps stands in for the exact ODE end; Euler and DPM-Solver++(2M) at fewer steps are
            # measured against it (the random UNet still defines an ODE; how close each solver gets is the point).
            exact = rerun("sample_euler_ref", steps=solvers[0])
            for n in solvers[1:]:
                for name in ("euler", "dpmpp_2m"):
                    out[f"{name}{n}_rel_err"] = rel(rerun(f"sample_{name}{n}", steps=n, solver=name), exact)
            return out
        if reuse:
            # Warm, interleaved: the sampler without reuse, then each interval, ``repeats`` rounds.
            for r in range(repeats):
                off = rerun(f"sample_off{r}", batch_cfg=False)
                for n in reuse:
                    out[f"reuse{n}_rel_diff{r}"] = rel(rerun(f"sample_reuse{n}_{r}", batch_cfg=False,
                                                             feature_reuse_interval=n), off)
            return out
        # The default run above was the process's first UNet run (cold); these are warm and interleaved (two calls,
        # batched, guidance interval; ``repeats`` rounds) so drift in the machine's load hits all three alike.
        first = float(get_sigmas(s.schedule, steps)[0])  # 700: guidance below it skips the first step's uncond
        for r in range(repeats):
            rerun(f"sample_two_warm{r}", batch_cfg=False)
            batched = rerun(f"sample_batched{r}", batch_cfg=True)
            interval = rerun(f"sample_interval{r}", batch_cfg=False, guidance_sigma_max=first / 2)
        out["batched_rel_diff"] = rel(batched)
        out["interval_rel_diff"] = rel(interval)
    return out


def outer_level(cache: str, frames: int, side: int, repeats: int) -> None:
    """Print the time of one whole UNet call and of the outer level alone (what a feature-reuse step runs), and
    their floating-point operations (torch's FlopCounterMode: matrix products and convolutions), which do not
    depend on the machine's load."""
    from torch.utils.flop_counter import FlopCounterMode

    from benchmarks.gpu_check import reuse_call_inputs, reuse_pass_times
    from models.video.feature_reuse import FeatureCache, shallow_forward
    from models.video.loader import load_video_components

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    comps = load_video_components(*_paths(cache), torch.float32, "1.1")
    unet = comps.unet
    full, outer = reuse_pass_times({"unet": unet}, frames, side, side, "cpu", torch.float32, max(repeats, 1))
    x, t, emb, ids = reuse_call_inputs(unet, frames, side, side, "cpu", torch.float32)
    keep = FeatureCache(2)
    with torch.no_grad():
        with FlopCounterMode(display=False) as whole_count, keep.capture(unet, "w"):
            v_whole = unet(x, t, emb, added_time_ids=ids, return_dict=False)[0]
        with FlopCounterMode(display=False) as outer_count:
            v_outer = shallow_forward(unet, keep.entries["w"], x, t, emb, ids)
    f_full, f_outer = whole_count.get_total_flops(), outer_count.get_total_flops()
    # On the same call's kept features the outer level must reproduce the whole UNet (the full-size check of the
    # unit test tests/test_video_feature_reuse.py runs at tiny size).
    err = float((v_outer - v_whole).norm() / v_whole.norm())
    print(f"{frames} frames at {side}x{side}, cond + uncond batched, best of {max(repeats, 1)}: whole UNet "
          f"{full:.2f} s, outer level alone {outer:.2f} s = {outer / full:.3f}x; FLOPs {f_full / 1e12:.2f} T vs "
          f"{f_outer / 1e12:.2f} T = {f_outer / f_full:.3f}x; outer level on the same call's features vs the "
          f"whole call: relative L2 {err:.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True, help="folder for the generated weights (outside the repository)")
    ap.add_argument("--frames", type=int, default=9)
    ap.add_argument("--side", type=int, default=128)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--child", choices=("ours", "reference"))
    ap.add_argument("--only", choices=("ours", "reference"), help="run one implementation")
    ap.add_argument("--extras", action="store_true")
    ap.add_argument("--repeats", type=int, default=1, help="rounds of the --extras / --reuse variants")
    ap.add_argument("--reuse", default="", help="feature reuse intervals to time, e.g. 2,3 (in the ours process)")
    ap.add_argument("--solvers", default="", help="REF,N,...: Euler at REF steps as the reference, then Euler and "
                    "DPM-Solver++(2M) at each N (in the ours process)")
    ap.add_argument("--cfg", type=float, default=2.0)
    ap.add_argument("--outer-level", action="store_true", help="only time one whole UNet call against the outer "
                    "level alone on kept features (feature reuse), cond + uncond batched, --repeats times")
    args = ap.parse_args()
    if args.side % 64:
        ap.error(f"--side must be a multiple of 64, got {args.side}")
    reuse = tuple(int(n) for n in args.reuse.split(",") if n.strip())
    solvers = tuple(int(n) for n in args.solvers.split(",") if n.strip())
    if args.child:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
        print(json.dumps(child(args.child, args.cache, args.frames, args.side, args.steps, args.extras,
                               args.repeats, reuse, solvers, args.cfg)))
        return
    os.makedirs(args.cache, exist_ok=True)
    t0 = time.perf_counter()
    build_cache(args.cache)
    print(f"weights ready in {args.cache} ({time.perf_counter() - t0:.0f} s)", flush=True)
    if args.outer_level:
        outer_level(args.cache, args.frames, args.side, args.repeats)
        return
    results = {}
    for mode in (args.only,) if args.only else ("ours", "reference"):
        cmd = [sys.executable, "-m", "benchmarks.video_full", "--child", mode, "--cache", args.cache, "--frames",
               str(args.frames), "--side", str(args.side), "--steps", str(args.steps)]
        extra = ["--extras"] if args.extras else []
        extra += ["--repeats", str(args.repeats), "--cfg", str(args.cfg)] + (["--reuse", args.reuse] if reuse else [])
        extra += ["--solvers", args.solvers] if solvers else []
        res = subprocess.run(cmd + extra, stdout=subprocess.PIPE, text=True, check=True)
        results[mode] = json.loads(res.stdout.strip().splitlines()[-1])
    print(json.dumps(results, indent=1))
    o = results.get("ours", {})
    for n in solvers[1:]:
        e, d = o[f"sample_euler{n}"], o[f"sample_dpmpp_2m{n}"]
        print(f"{n} steps vs Euler at {solvers[0]}: euler {o[f'euler{n}_rel_err']:.4f} rel. L2 ({e['wall_s']:.1f} s), "
              f"dpmpp_2m {o[f'dpmpp_2m{n}_rel_err']:.4f} ({d['wall_s']:.1f} s)")
    for r in range(args.repeats if reuse else 0):
        off = o[f"sample_off{r}"]
        line = f"round {r}: no reuse {off['wall_s']:.1f} s ({off['cpu_s']:.1f} CPU)"
        for n in reuse:
            v = o[f"sample_reuse{n}_{r}"]
            line += (f"; every {n}: {v['wall_s']:.1f} s ({v['cpu_s']:.1f}) = {v['wall_s'] / off['wall_s']:.2f}x wall "
                     f"{v['cpu_s'] / off['cpu_s']:.2f}x CPU, latents {o[f'reuse{n}_rel_diff{r}']:.3f} rel. L2, "
                     f"peak {v['peak_mib']:.0f} MiB (no reuse {off['peak_mib']:.0f})")
        print(line)
    if len(results) == 2:
        o, r = results["ours"], results["reference"]
        print(f"{'stage':>8} {'ours s (cpu)':>14} {'ref s (cpu)':>14} {'time ratio':>10} {'ours peak MiB':>14} "
              f"{'ref peak MiB':>13} {'mem ratio':>9}")
        for k in STAGES:
            print(f"{k:>8} {o[k]['wall_s']:6.1f} ({o[k]['cpu_s']:5.1f}) {r[k]['wall_s']:6.1f} ({r[k]['cpu_s']:5.1f}) "
                  f"{o[k]['cpu_s'] / r[k]['cpu_s']:10.2f} {o[k]['peak_mib']:14.0f} {r[k]['peak_mib']:13.0f} "
                  f"{o[k]['peak_mib'] / r[k]['peak_mib']:9.2f}")
        print(f"overall peak: ours {o['peak_mib']:.0f} MiB, reference {r['peak_mib']:.0f} MiB, "
              f"ratio {o['peak_mib'] / r['peak_mib']:.2f}")
        a = torch.load(os.path.join(args.cache, "out_ours.pt"), weights_only=True)
        b = torch.load(os.path.join(args.cache, "out_reference.pt"), weights_only=True)
        err = float((a["latents"] - b["latents"]).norm() / b["latents"].norm())
        print(f"latents ours vs reference: relative L2 error {err:.2e}; images max |diff| "
              f"{float((a['images'] - b['images']).abs().max()):.2e}")


if __name__ == "__main__":
    main()
