"""Train a region codebook from the command line (run from the pack folder):

``python -m scripts.train_region_codebook --videos DIR --out FILE.safetensors --mimicmotion MimicMotion_1-1.pth
--svd SVD_FOLDER_OR_FILE --det-model yolox_l.onnx --pose-model dw-ll_ucoco_384.onnx [--steps N ...]``.

``accelerate launch -m scripts.train_region_codebook ...`` trains on several GPUs. The same code as the Embody Train
Region Codebook node (models.video.region_train.trainer); side files are written beside ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import os

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m scripts.train_region_codebook",
                                description="Train a region codebook (face / hands) for the MimicMotion UNet.")
    p.add_argument("--videos", required=True, help="folder of videos of the person (no sound needed)")
    p.add_argument("--out", required=True, help="output .safetensors (side files go beside it)")
    p.add_argument("--mimicmotion", required=True, help="MimicMotion_1-1.pth (or 1.0)")
    p.add_argument("--svd", required=True, help="SVD img2vid xt 1.1 diffusers folder or single file")
    p.add_argument("--dtype", default="bf16", choices=tuple(DTYPES), help="precision of the frozen video model")
    p.add_argument("--backend", default="dwpose", choices=("dwpose", "mediapipe"))
    p.add_argument("--det-model", help="DWPose detector (yolox_l.onnx)")
    p.add_argument("--pose-model", help="DWPose pose model (dw-ll_ucoco_384.onnx)")
    p.add_argument("--cache", help="folder for cached extractions (default: <videos>/.embody_cache)")
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--height", type=int, default=512)
    p.add_argument("--fps", type=float, default=15.0)
    p.add_argument("--frames", type=int, default=16, help="frames per training clip")
    p.add_argument("--min-body-confidence", type=float, default=0.3)
    p.add_argument("--min-hand-clarity", type=float, default=0.0, help="drop frames with a blurrier hand (0 = off)")
    p.add_argument("--dim", type=int, default=0, help="attention width of the region modules (0 = UNet's first)")
    p.add_argument("--spatial-tokens", type=int, default=32)
    p.add_argument("--temporal-tokens", type=int, default=16)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--grad-accum", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--lora-rank", type=int, default=0, help="> 0 also trains a LoRA on the UNet attention (peft)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument("--no-resume", action="store_true", help="start over even if a training state exists")
    p.add_argument("--cpu", action="store_true", help="train on the CPU even if a GPU is available")
    args = p.parse_args(argv)
    if args.width % 64 or args.height % 64:
        p.error("--width and --height must be multiples of 64 (MimicMotion's video sizes)")
    return args


def main(argv: list[str] | None = None) -> int:
    from models.pose.backend import make_pose_backend
    from models.video.loader import load_video_components
    from models.video.region_train.data import build_region_dataset
    from models.video.region_train.trainer import RegionTrainConfig, train_region_codebook

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    device = torch.device("cpu" if args.cpu or not torch.cuda.is_available() else "cuda")
    components = load_video_components(args.mimicmotion, args.svd, DTYPES[args.dtype])
    backend = make_pose_backend(args.backend, args.det_model, args.pose_model)
    cache = args.cache or os.path.join(args.videos, ".embody_cache")
    components.vae.to(device)
    try:
        dataset = build_region_dataset(args.videos, components, backend, (args.height, args.width), args.fps, cache,
                                       device, args.min_body_confidence, args.min_hand_clarity)
    finally:
        backend.close()
    overrides = {"spatial_tokens": args.spatial_tokens, "temporal_tokens": args.temporal_tokens}
    if args.dim:
        overrides["dim"] = args.dim
    tc = RegionTrainConfig(steps=args.steps, batch_size=args.batch_size, frames=args.frames,
                           grad_accum=args.grad_accum, lr=args.lr, seed=args.seed, bf16=args.bf16,
                           gradient_checkpointing=args.gradient_checkpointing, lora_rank=args.lora_rank,
                           checkpoint_every=args.checkpoint_every, cpu=device.type == "cpu")
    log = logging.getLogger("models.video.region_train")

    def report(step: int, total: int, entry: dict) -> None:
        log.info("step %d/%d loss %.4f (inside regions %.4f, outside %.4f)", step, total, entry["loss"],
                 entry.get("diff_in", float("nan")), entry.get("diff_out", float("nan")))

    result = train_region_codebook(components, dataset, args.out, overrides, tc, resume=not args.no_resume,
                                   progress=report)
    log.info("saved %s (loss curve %s)", result.path, result.report_png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
