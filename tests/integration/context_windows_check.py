"""Run by ComfyUI's python (cwd = a ComfyUI checkout): Embody's context-window handler at the handler level, the way
core drives it (IndexListContextHandler.execute with a calc_cond_batch), and through KSampler with a tiny Wan 2.1.

Usage: python context_windows_check.py PACK_DIR {handler|ksampler}. Prints one JSON object on the last line.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

PACK = Path(sys.argv[1]).resolve()
sys.path.insert(0, str(PACK))  # for `models` (pure torch, imported directly by the checks)
sys.path.insert(0, ".")
ARGS = sys.argv[2:]
sys.argv = [sys.argv[0], "--cpu"]  # ComfyUI reads its flags from argv: run on the CPU
import comfy.options  # noqa: E402

comfy.options.enable_args_parsing()


def _pack_module(name: str):
    """Import the pack's nodes/<name>.py as part of a package named embody_pack (its relative imports need one)."""
    if "embody_pack" not in sys.modules:
        spec = importlib.util.spec_from_file_location("embody_pack", PACK / "__init__.py",
                                                      submodule_search_locations=[str(PACK)])
        pkg = importlib.util.module_from_spec(spec)
        sys.modules["embody_pack"] = pkg
        spec.loader.exec_module(pkg)
    return importlib.import_module(f"embody_pack.nodes.{name}")


def _fake_calc(log: list):
    """A window-dependent stand-in for the model: each window's output for a frame differs from another window's,
    so the fusion weights decide the result."""
    def calc_cond_batch(model, conds, x, timestep, model_options):
        window = model_options["transformer_options"]["context_window"]
        log.append(list(window.index_list))
        start = float(window.index_list[-1])
        pos = torch.arange(x.shape[2], dtype=x.dtype).view(1, 1, -1, 1, 1)
        return [x * (1.5 + ci) + 0.37 * start + 0.11 * pos * (ci + 1) for ci in range(len(conds))]
    return calc_cond_batch


def _run(handler, x: torch.Tensor) -> tuple[list[torch.Tensor], list]:
    log: list = []
    model = SimpleNamespace(latent_format=SimpleNamespace(temporal_downscale_ratio=1),
                            resize_cond_for_context_window=lambda *a, **k: None)
    conds = [[{"model_conds": {}}], [{"model_conds": {}}]]
    opts = {"transformer_options": {"sample_sigmas": torch.tensor([1.0, 0.5, 0.0])}}
    t = torch.tensor([1.0])
    assert handler.should_use_context(model, conds, x, t, opts)
    return handler.execute(_fake_calc(log), model, conds, x, t, opts), log


def _embody_reference(x: torch.Tensor, schedule) -> list[torch.Tensor]:
    """Embody's fusion maths as its MimicMotion sampler runs it: acc[idx] += w v; cnt[idx] += w; v = acc / cnt."""
    from models.video.fusion import window_indices, window_weights

    n = x.shape[2]
    wins = window_indices(n, schedule)
    weights = window_weights(wins, schedule.fitted(n))
    outs = []
    for ci in range(2):
        acc = torch.zeros_like(x)
        cnt = torch.zeros(1, 1, n, 1, 1)
        for idx, w in zip(wins, weights, strict=True):
            sub = x[:, :, idx]
            pos = torch.arange(len(idx), dtype=x.dtype).view(1, 1, -1, 1, 1)
            v = sub * (1.5 + ci) + 0.37 * float(idx[-1]) + 0.11 * pos * (ci + 1)
            acc[:, :, idx] += w.view(1, 1, -1, 1, 1) * v
            cnt[:, :, idx] += w.view(1, 1, -1, 1, 1)
        outs.append(acc / cnt)
    return outs


def check_handler() -> dict:
    import comfy.context_windows as cw

    from models.video.fusion import WEIGHTINGS, FusionSchedule

    ours = _pack_module("context_windows")
    gen = torch.Generator().manual_seed(0)
    result: dict = {"vs_embody": {}, "vs_core": {}, "windows": {}}
    for n, t, o in ((13, 6, 2), (16, 6, 3), (9, 4, 1)):
        x = torch.randn(1, 3, n, 2, 2, generator=gen)
        for weighting in WEIGHTINGS:
            for anchor in (True, False):
                sch = FusionSchedule(t, o, weighting, "repeated", anchor, "official")
                got, log = _run(ours.EmbodyContextHandler(sch, dim=2), x)
                ref = _embody_reference(x, sch)
                key = f"n{n}_t{t}_o{o}_{weighting}_{'anchored' if anchor else 'plain'}"
                result["vs_embody"][key] = max(float((a - b).abs().max()) for a, b in zip(got, ref, strict=True))
                result["windows"][key] = log[: len(log)]
            if weighting in cw.FUSE_MAPPING:  # weightings core also has: compare with core's own handler
                sch = FusionSchedule(t, o, weighting, "repeated", False, "official")
                core = cw.IndexListContextHandler(cw.get_matching_context_schedule("standard_static"),
                                                  cw.get_matching_fuse_method(weighting), context_length=t,
                                                  context_overlap=o, dim=2, causal_window_fix=False)
                core_out, core_log = _run(core, x)
                got, log = _run(ours.EmbodyContextHandler(sch, dim=2), x)
                key = f"n{n}_t{t}_o{o}_{weighting}"
                result["vs_core"][key] = {
                    "max_abs": max(float((a - b).abs().max()) for a, b in zip(got, core_out, strict=True)),
                    "same_windows": log == core_log,
                }
    return result


def _tiny_wan(path: Path) -> None:
    """A tiny Wan 2.1 text-to-video DiT in the official key layout (core's own module, seeded random weights)."""
    import comfy.ldm.wan.model as wan
    import comfy.ops
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = wan.WanModel(model_type="t2v", patch_size=(1, 2, 2), text_len=8, in_dim=16, dim=128, ffn_dim=64,
                       freq_dim=256, text_dim=4096, out_dim=16, num_heads=1, num_layers=1,
                       operations=comfy.ops.manual_cast)
    sd = {k: (torch.randn(v.shape) * 0.05).contiguous() for k, v in net.state_dict().items()}
    save_file(sd, str(path))


def check_ksampler(tmp: Path) -> dict:
    import comfy.sd

    import nodes as comfy_nodes
    from models.video.fusion import FusionSchedule

    ours = _pack_module("context_windows")
    ckpt = tmp / "tiny_wan.safetensors"
    _tiny_wan(ckpt)
    model = comfy.sd.load_diffusion_model(str(ckpt))
    cond = [[torch.zeros(1, 8, 4096), {}]]
    uncond = [[torch.ones(1, 8, 4096) * 0.1, {}]]
    latent = {"samples": torch.zeros(1, 16, 21, 4, 4)}  # 81 video frames
    calls: list = []

    def counting(apply_model, args):
        calls.append(int(args["input"].shape[2]))
        return apply_model(args["input"], args["timestep"], **args["c"])

    def sample(m, cfg=3.0):
        calls.clear()
        m = m.clone()
        m.set_model_unet_function_wrapper(counting)
        out = comfy_nodes.common_ksampler(m, 7, 2, cfg, "euler", "simple", cond, uncond, latent)[0]["samples"]
        return out, list(calls)

    plain, plain_calls = sample(model)
    opts = FusionSchedule(window=33, overlap=9, weighting="triangular", noise="repeated")  # 9 latents, overlap 3
    fused_model = ours.EmbodyContextWindows.execute(model, opts).args[0]
    fused, fused_calls = sample(fused_model)
    fused2, _ = sample(fused_model)
    big = ours.EmbodyContextWindows.execute(model, FusionSchedule(window=200, overlap=6)).args[0]
    single, single_calls = sample(big)
    ramp_model = ours.EmbodyFrameCFGRamp.execute(fused_model, 3.0).args[0]
    ramp_same, _ = sample(ramp_model)  # cfg_min == cfg: the ramp is flat, equals plain CFG
    handler = fused_model.model_options["context_handler"]
    return {
        "model": type(model.model).__name__,
        "latent": list(latent["samples"].shape),
        "window_latents": handler.context_length, "overlap_latents": handler.context_overlap,
        "plain_calls": plain_calls, "fused_calls": fused_calls, "single_calls": single_calls,
        "fused_vs_plain": float((fused - plain).abs().max()),
        "fused_repeat": float((fused - fused2).abs().max()),
        "single_vs_plain": float((single - plain).abs().max()),
        "ramp_flat_vs_fused": float((ramp_same - fused).abs().max()),
        "finite": bool(torch.isfinite(fused).all()),
    }


def check_animate(tmp: Path) -> dict:
    """KSampler on a tiny Wan2.2-Animate (core's AnimateWanModel, random weights) with the conditioning
    WanAnimateToVideo builds (reference latent first, pose latents offset by it), through Embody context windows:
    every window must carry the reference latent and the matching pose slice. (Face pixels are left out: the
    motion encoder on 512 x 512 crops is too slow for a CPU test.)"""
    import comfy.ldm.wan.model_animate as wan_animate
    import comfy.ops
    import comfy.sd
    import node_helpers
    from safetensors.torch import save_file

    import nodes as comfy_nodes
    from models.video.fusion import FusionSchedule

    ours = _pack_module("context_windows")
    torch.manual_seed(0)
    net = wan_animate.AnimateWanModel(text_len=8, in_dim=36, dim=128, ffn_dim=64, num_heads=1, num_layers=5,
                                      operations=comfy.ops.manual_cast)
    sd = {k: (torch.randn(v.shape) * 0.05).contiguous() for k, v in net.state_dict().items()}
    ckpt = tmp / "tiny_wan_animate.safetensors"
    save_file(sd, str(ckpt))
    model = comfy.sd.load_diffusion_model(str(ckpt))
    lat = 6  # 21 video frames -> 6 latents, plus the reference latent
    h = w = 4
    cond_values = {
        "concat_latent_image": torch.randn(1, 16, lat + 1, h, w),
        "concat_mask": torch.cat([torch.zeros(1, 4, 1, h, w), torch.ones(1, 4, lat, h, w)], dim=2),
        "pose_video_latent": torch.randn(1, 16, lat, h, w),
    }
    pos = node_helpers.conditioning_set_values([[torch.zeros(1, 8, 4096), {}]], cond_values)
    neg = node_helpers.conditioning_set_values([[torch.ones(1, 8, 4096) * 0.1, {}]], cond_values)
    latent = {"samples": torch.zeros(1, 16, lat + 1, h, w)}
    seen: list = []

    def spy(apply_model, args):
        c = args["c"]
        idx = list(c["transformer_options"]["context_window"].index_list)
        want = pose_in[:, :, [i - 1 for i in idx[1:]]]
        seen.append({"x": int(args["input"].shape[2]), "pose": int(c["pose_latents"].shape[2]),
                     "concat": int(c["c_concat"].shape[2]), "index_list": idx,
                     "pose_slice_err": float((c["pose_latents"].float().cpu() - want).abs().max())})
        return apply_model(args["input"], args["timestep"], **c)

    pose_in = model.model.process_latent_in(cond_values["pose_video_latent"])
    patched = ours.EmbodyContextWindows.execute(model, FusionSchedule(window=13, overlap=5)).args[0]
    patched = patched.clone()
    patched.set_model_unet_function_wrapper(spy)
    out = comfy_nodes.common_ksampler(patched, 3, 1, 2.0, "euler", "simple", pos, neg, latent)[0]["samples"]
    handler = patched.model_options["context_handler"]
    return {"model": type(model.model).__name__, "window_latents": handler.context_length,
            "overlap_latents": handler.context_overlap, "windows": seen, "finite": bool(torch.isfinite(out).all()),
            "shape": list(out.shape)}


if __name__ == "__main__":
    if ARGS[0] == "handler":
        out = check_handler()
    elif ARGS[0] == "animate":
        out = check_animate(Path(ARGS[1]))
    else:
        out = check_ksampler(Path(ARGS[1]))
    print(json.dumps(out))
