"""Train a motion model on your own talking videos from the command line (run from the pack folder).

    python -m scripts.train_motion --videos DIR --out FILE.safetensors \
        [--det-model yolox_l.onnx --pose-model dw-ll_ucoco_384.onnx] [--steps N ...]
    accelerate launch -m scripts.train_motion ...     # the same loop on several GPUs (DDP through accelerate)

The Embody Train Motion Model node runs the same code (models/audio/learned/train.py). Beside ``--out`` it writes
``<stem>.state.safetensors`` (weights + AdamW state, for resuming), ``<stem>.loss.json`` (the loss log) and
``<stem>.loss.png`` (loss curve).
"""

from __future__ import annotations

import argparse
import logging
import os

from models.audio.learned.dataset import FrameFilter, build_video_dataset
from models.audio.learned.motion_model import MotionModelConfig
from models.audio.learned.train import TrainConfig, train_motion_model
from models.pose.backend import make_pose_backend
from models.pose.layout import CONFIDENCE_GATE

logger = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m scripts.train_motion", description=__doc__.split("\n")[0])
    p.add_argument("--videos", required=True, help="folder of talking videos with sound")
    p.add_argument("--out", required=True, help="output .safetensors (side files go beside it)")
    p.add_argument("--backend", default="dwpose", choices=("dwpose", "mediapipe"),
                   help="pose backend: dwpose (needs --det-model/--pose-model) or mediapipe (optional package)")
    p.add_argument("--det-model", help="DWPose detector (yolox_l.onnx)")
    p.add_argument("--pose-model", help="DWPose pose model (dw-ll_ucoco_384.onnx)")
    p.add_argument("--cache", help="folder for cached extractions (default: <videos>/.embody_cache)")
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--min-body-confidence", type=float, default=CONFIDENCE_GATE)
    p.add_argument("--min-hand-clarity", type=float, default=0.0, help="drop frames with a blurrier hand (0 = off)")
    p.add_argument("--window", type=int, default=50)
    p.add_argument("--overlap", type=int, default=25)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--no-resume", action="store_true", help="start over even if a training state exists")
    p.add_argument("--cpu", action="store_true", help="train on the CPU even if a GPU is available")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    backend = make_pose_backend(args.backend, args.det_model, args.pose_model)
    rules = FrameFilter(args.min_body_confidence, args.min_hand_clarity)
    cache = args.cache or os.path.join(args.videos, ".embody_cache")
    try:
        dataset = build_video_dataset(args.videos, backend, args.fps, cache, "median", rules)
    finally:
        backend.close()
    mc = MotionModelConfig(d_model=args.d_model, num_layers=args.layers, num_heads=args.heads, window=args.window,
                           overlap=args.overlap)
    tc = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                     checkpoint_every=args.checkpoint_every, cpu=args.cpu)

    def report(step: int, total: int, log: dict) -> None:
        logger.info("step %d/%d loss %.4f", step, total, log["loss"])

    result = train_motion_model(dataset, args.out, mc, tc, resume=not args.no_resume, progress=report)
    logger.info("saved %s (loss curve %s)", result.path, result.report_png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
