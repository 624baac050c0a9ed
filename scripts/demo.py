"""Embody's main job from the command line: reference image + speech -> pose guidance and a talking-pose video.

Run from the pack folder (``bash demo.sh`` sets up the environment first)::

    python -m scripts.demo [--image PATH] [--audio PATH] [--out DIR] [--fps 25] [--motion-model FILE]

It writes the confidence-aware pose of the reference (MimicMotion and ControlNet styles), its confidence map, a hand
clarity plot, the audio-driven pose video with the audio muxed in, and a plot of mouth opening against loudness.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from models.audio.features import compute_audio_features
from models.audio.procedural.rhythm import rhythm_motion
from models.hands.clarity import hand_clarity, with_clarity
from models.io.media import read_audio, write_video
from models.pose.extract import extract_poses
from models.pose.layout import LOWER_INNER_LIP, UPPER_INNER_LIP
from models.pose.render import confidence_mask, render_pose
from models.pose.types import PoseSequence

logger = logging.getLogger("embody.demo")

PACK_DIR = Path(__file__).resolve().parents[1]
DEFAULT_AUDIO = PACK_DIR / "tests" / "data" / "speech.wav"


def load_image(path: str | None) -> np.ndarray:
    """uint8 RGB [H, W, 3]: the given file, or scikit-image's public-domain astronaut photo."""
    if path:
        from PIL import Image

        return np.asarray(Image.open(path).convert("RGB"))
    try:
        from skimage import data
    except ImportError as exc:
        raise SystemExit("no --image given and scikit-image is not installed: pass --image PATH") from exc
    return np.asarray(data.astronaut())


def make_backend(dwpose_dir: str | None):  # -> PoseBackend
    if dwpose_dir:
        from models.pose.dwpose import DWPoseBackend

        folder = Path(dwpose_dir)
        return DWPoseBackend(str(folder / "yolox_l.onnx"), str(folder / "dw-ll_ucoco_384.onnx"))
    try:
        from models.pose.mediapipe_backend import MediaPipeBackend

        return MediaPipeBackend(static_image_mode=True)
    except RuntimeError as exc:
        raise SystemExit(f"{exc}\nOr pass --dwpose-dir with yolox_l.onnx and dw-ll_ucoco_384.onnx.") from exc


def save_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(path)
    logger.info("wrote %s", path)


def plot_mouth_vs_loudness(path: Path, motion: PoseSequence, loudness: np.ndarray) -> float:
    """Plot mouth opening (inner-lip gap, canvas heights) against loudness; returns their Pearson correlation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kp = motion.keypoints[:, 0]
    mouth = kp[:, LOWER_INNER_LIP, 1] - kp[:, UPPER_INNER_LIP, 1]
    corr = float(np.corrcoef(mouth, loudness)[0, 1]) if mouth.std() > 0 and loudness.std() > 0 else float("nan")
    t = np.arange(len(mouth)) / motion.fps
    fig, ax = plt.subplots(figsize=(8, 2.6), dpi=100)
    ax.plot(t, loudness / max(float(loudness.max()), 1e-9), label="loudness (normalised)", lw=1)
    ax.plot(t, mouth / max(float(np.abs(mouth).max()), 1e-9), label="mouth opening (normalised)", lw=1)
    ax.set_xlabel("seconds")
    ax.set_title(f"mouth vs loudness, r = {corr:.2f}")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    logger.info("wrote %s", path)
    return corr


def drive_motion(reference: PoseSequence, features, model_path: str | None, seed: int) -> PoseSequence:
    if not model_path:
        return rhythm_motion(reference, features, seed=seed)
    from models.audio.learned.generate import generate_motion
    from models.audio.learned.model_file import load_motion_model

    model = load_motion_model(model_path)
    return generate_motion(model, reference, features, seed=seed)


def run(args: argparse.Namespace) -> dict:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {}
    t0 = time.perf_counter()

    image = load_image(args.image)
    backend = make_backend(args.dwpose_dir)
    try:
        reference = extract_poses(image[None], backend, fps=args.fps, person="largest", max_people=1)
    finally:
        backend.close()
    if not reference.person_present()[0].any():
        raise SystemExit("no person was found in the reference image; use a photo with one clearly visible person")
    reference = with_clarity(reference, hand_clarity(image[None], reference))
    assert reference.hand_clarity is not None  # with_clarity just set it
    summary["reference"] = {"canvas": reference.canvas, "backend": reference.meta.get("backend"),
                            "hand_clarity_left_right": np.nan_to_num(reference.hand_clarity[0, 0], nan=-1).tolist()}
    save_png(out / "pose_mimicmotion.png", render_pose(reference, style="mimicmotion")[0])
    save_png(out / "pose_controlnet.png", render_pose(reference, style="controlnet")[0])
    save_png(out / "confidence.png", (confidence_mask(reference)[0] * 255).round().astype(np.uint8))
    # Hand clarity on the reference blurred more and more (Gaussian sigma 0..4 px): the score must fall.
    import cv2

    from models.hands.clarity import frame_scores
    from models.hands.plot import plot_clarity

    sigmas = np.linspace(0.0, 4.0, 9)
    blurred = np.stack([image if s == 0 else cv2.GaussianBlur(image, (0, 0), float(s)) for s in sigmas])
    series = reference.with_keypoints(np.repeat(reference.keypoints, len(sigmas), axis=0))
    per_hand = hand_clarity(blurred, series)
    per_frame = frame_scores(per_hand)
    save_png(out / "hand_clarity.png", plot_clarity(per_frame, per_hand=per_hand[:, 0]))
    summary["hand_clarity_vs_blur"] = {f"sigma {s:.1f}": (None if np.isnan(v) else round(float(v), 2))
                                       for s, v in zip(sigmas, per_frame, strict=True)}

    waveform, rate = read_audio(args.audio or DEFAULT_AUDIO)
    features = compute_audio_features(waveform, rate, fps=args.fps)
    motion = drive_motion(reference, features, args.motion_model, args.seed)
    frames = render_pose(motion, style="mimicmotion")
    video = write_video(out / "talking_pose.mp4", frames, motion.fps, audio=waveform, sample_rate=rate)
    corr = plot_mouth_vs_loudness(out / "motion.png", motion, features.loudness)
    summary["motion"] = {"frames": motion.num_frames, "fps": motion.fps, "seconds": features.duration_s,
                         "driver": motion.meta.get("driver"), "mouth_loudness_correlation": round(corr, 3),
                         "video": str(video)}
    summary["seconds_total"] = round(time.perf_counter() - t0, 2)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--image", help="reference image (default: scikit-image's astronaut)")
    parser.add_argument("--audio", help=f"speech clip, any format PyAV reads (default: {DEFAULT_AUDIO.name})")
    parser.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    parser.add_argument("--fps", type=float, default=25.0, help="video frame rate (default: 25)")
    parser.add_argument("--seed", type=int, default=0, help="motion seed (default: 0)")
    parser.add_argument("--motion-model", help="a trained motion model .safetensors (default: procedural driver)")
    parser.add_argument("--dwpose-dir", help="folder with yolox_l.onnx + dw-ll_ucoco_384.onnx (default: mediapipe)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    summary = run(args)
    logger.info("%s", json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
