"""Embody's main job from the command line: reference image + speech -> pose guidance and a talking-pose video.

Run from the pack folder (``bash demo.sh`` sets up the environment first)::

    python -m scripts.demo [--image PATH] [--audio PATH] [--out DIR] [--fps 25] [--motion-model FILE]

It writes, into --out (default demo_output/): pose_mimicmotion.png and pose_controlnet.png (the confidence-aware pose
of the reference), confidence.png (its confidence map), hand_clarity.png (hand clarity against blur),
talking_pose.mp4 (the audio-driven pose video with the audio muxed in), motion.png (mouth opening against loudness),
talking_person.mp4 (the reference photo itself speaking and gesturing: the weight-free pose warp, with the audio)
and summary.json. Bad arguments fail in one line before any work starts.
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
from models.pose.backend import DWPOSE_DETECTOR, DWPOSE_POSE_MODEL, DWPOSE_SOURCE, PoseBackend, make_pose_backend
from models.pose.extract import extract_poses
from models.pose.render import confidence_mask, render_pose
from models.pose.types import PoseSequence

from .demo_plots import HAND_NAMES, SILENCE_LOUDNESS, detected_hands, plot_clarity_vs_blur, plot_mouth_vs_loudness

logger = logging.getLogger("embody.demo")

PACK_DIR = Path(__file__).resolve().parents[1]
# Every file the demo writes into --out (the README names each one; tests/test_demo.py checks there are no others).
OUTPUTS = ("pose_mimicmotion.png", "pose_controlnet.png", "confidence.png", "hand_clarity.png", "talking_pose.mp4",
           "motion.png", "talking_person.mp4", "summary.json")
DEFAULT_AUDIO = PACK_DIR / "tests" / "data" / "speech.wav"


def _not_a_file(path: Path) -> str:
    return "not a regular file" if path.exists() else "no such file"


def check_inputs(args: argparse.Namespace) -> None:
    """Fail in one line, before any work, on a missing or unreadable --image, --audio or --dwpose-dir."""
    if args.image:
        image = Path(args.image)
        if not image.is_file():
            raise SystemExit(f"demo: --image {args.image}: {_not_a_file(image)}")
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(image) as im:
                im.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise SystemExit(f"demo: --image {args.image} is not an image PIL can read ({exc})") from None
    if args.audio:
        audio = Path(args.audio)
        if not audio.is_file():
            raise SystemExit(f"demo: --audio {args.audio}: {_not_a_file(audio)}")
        if audio.stat().st_size == 0:
            raise SystemExit(f"demo: --audio {args.audio} is empty (0 bytes)")
    if args.dwpose_dir:
        for name in (DWPOSE_DETECTOR, DWPOSE_POSE_MODEL):
            if not (Path(args.dwpose_dir) / name).is_file():
                raise SystemExit(f"demo: --dwpose-dir {args.dwpose_dir} has no {name} (get it from {DWPOSE_SOURCE})")
    if args.motion_model and not Path(args.motion_model).is_file():
        raise SystemExit(f"demo: --motion-model {args.motion_model}: no such file")


def read_speech(path: str | Path) -> tuple[np.ndarray, int]:
    """The speech clip as (waveform, rate), or a one-line SystemExit when it cannot be decoded or holds nothing."""
    try:
        waveform, rate = read_audio(path)
    except Exception as exc:  # PyAV/format errors: the file is named, the reason kept short
        raise SystemExit(f"demo: --audio {path} cannot be read as audio ({exc})") from None
    if np.asarray(waveform).size == 0:
        raise SystemExit(f"demo: --audio {path} holds no samples")
    return waveform, rate


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


def make_backend(dwpose_dir: str | None) -> PoseBackend:
    if dwpose_dir:
        folder = Path(dwpose_dir)
        return make_pose_backend("dwpose", str(folder / DWPOSE_DETECTOR), str(folder / DWPOSE_POSE_MODEL))
    try:
        return make_pose_backend("mediapipe")
    except RuntimeError as exc:
        raise SystemExit(f"{exc}\nOr pass --dwpose-dir with {DWPOSE_DETECTOR} and {DWPOSE_POSE_MODEL}.") from exc


def save_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(path)
    logger.info("wrote %s", path)


def drive_motion(reference: PoseSequence, features, model_path: str | None, seed: int) -> PoseSequence:
    if not model_path:
        return rhythm_motion(reference, features, seed=seed)
    from models.audio.learned.generate import generate_motion
    from models.audio.learned.model_file import load_motion_model

    model = load_motion_model(model_path)
    return generate_motion(model, reference, features, seed=seed)


def write_talking_person(path: Path, image: np.ndarray, reference: PoseSequence, motion: PoseSequence,
                         waveform: np.ndarray, rate: int) -> dict:
    """The reference photo warped into every motion frame (models/warp, no weights), with the audio muxed in."""
    from models.pose.layout import CONFIDENCE_GATE
    from models.warp.warp import warp_sequence

    t0 = time.perf_counter()
    frames, explained = warp_sequence(image, reference.keypoints[0, 0], motion.keypoints[:, 0], CONFIDENCE_GATE)
    video = write_video(path, (frames * 255).round().astype(np.uint8), motion.fps, audio=waveform, sample_rate=rate)
    return {"video": str(video), "frames": len(frames), "explained_fraction": round(float(explained.mean()), 4),
            "seconds": round(time.perf_counter() - t0, 2)}


def run(args: argparse.Namespace) -> dict:
    check_inputs(args)
    waveform, rate = read_speech(args.audio or DEFAULT_AUDIO)
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
    found = detected_hands(reference)
    # Only hands whose own keypoints were found are scored, never a box guessed from the arm.
    reference = with_clarity(reference, np.where(found, hand_clarity(image[None], reference), np.nan))
    assert reference.hand_clarity is not None  # with_clarity just set it
    summary["reference"] = {"canvas": reference.canvas, "backend": reference.meta.get("backend"),
                            "hand_clarity_left_right": [None if np.isnan(v) else round(float(v), 2)
                                                        for v in reference.hand_clarity[0, 0]]}
    save_png(out / "pose_mimicmotion.png", render_pose(reference, style="mimicmotion")[0])
    save_png(out / "pose_controlnet.png", render_pose(reference, style="controlnet")[0])
    save_png(out / "confidence.png", (confidence_mask(reference)[0] * 255).round().astype(np.uint8))
    # Hand clarity on the reference blurred more and more (Gaussian sigma 0..4 px): the score must fall.
    import cv2

    from models.hands.clarity import frame_scores

    sigmas = np.linspace(0.0, 4.0, 9)
    blurred = np.stack([image if s == 0 else cv2.GaussianBlur(image, (0, 0), float(s)) for s in sigmas])
    series = reference.with_keypoints(np.repeat(reference.keypoints, len(sigmas), axis=0))
    per_hand = hand_clarity(blurred, series)
    per_hand = np.where(np.asarray(found)[None, None, :], per_hand, np.nan)  # no score for a box guessed from an arm
    per_frame = frame_scores(per_hand)
    plot_clarity_vs_blur(out / "hand_clarity.png", sigmas, per_hand[:, 0], found)
    logger.info("wrote %s", out / "hand_clarity.png")
    summary["hands_detected"] = dict(zip(HAND_NAMES, found, strict=True))
    summary["hand_clarity_vs_blur"] = {f"sigma {s:.1f}": (None if np.isnan(v) else round(float(v), 2))
                                       for s, v in zip(sigmas, per_frame, strict=True)}

    features = compute_audio_features(waveform, rate, fps=args.fps)
    if float(features.loudness.max(initial=0.0)) < SILENCE_LOUDNESS:
        logger.warning("demo: the audio is silent (peak loudness %.3f): the motion has no speech to follow",
                       float(features.loudness.max(initial=0.0)))
    motion = drive_motion(reference, features, args.motion_model, args.seed)
    frames = render_pose(motion, style="mimicmotion")
    video = write_video(out / "talking_pose.mp4", frames, motion.fps, audio=waveform, sample_rate=rate)
    corr = plot_mouth_vs_loudness(out / "motion.png", motion, features.loudness)
    summary["talking_person"] = write_talking_person(out / "talking_person.mp4", image, reference, motion,
                                                     waveform, rate)
    logger.info("wrote %s", out / "motion.png")
    summary["motion"] = {"frames": motion.num_frames, "fps": motion.fps, "seconds": features.duration_s,
                         "driver": motion.meta.get("driver"),
                         "silent_audio": bool(features.loudness.max(initial=0.0) < SILENCE_LOUDNESS),
                         "mouth_loudness_correlation": None if corr is None else round(corr, 3),
                         "video": str(video)}
    summary["seconds_total"] = round(time.perf_counter() - t0, 2)
    # allow_nan=False: summary.json stays valid JSON (None, never NaN)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False))
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
