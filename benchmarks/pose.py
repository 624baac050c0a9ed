"""Pose-stage benchmarks. Each section is one function returning nothing and printing its own ratio lines.

    python -m benchmarks.pose            # every section whose imports work
    python -m benchmarks.pose dwpose     # only the named sections
    python -m benchmarks.pose dwpose-real  # real-size DWPose networks (random weights); minutes, only when named

Sections (add yours to SECTIONS): dwpose = DWPose path batched vs one crop per session.run, on 512x768 frames with
the tiny ONNX stand-ins (tests/helpers/tiny_dwpose.py) on the CPU execution provider. The stand-ins cost almost
nothing to run, so the ratio measures the per-call overhead that cross-frame batching removes (pre/post-processing
is the same in both), not the real networks' compute. dwpose-real (only when named: minutes on a CPU) = the same three
modes with YOLOX-L and RTMPose-l whole-body networks of the published sizes and random weights
(benchmarks/dwpose_arch.py), so the networks' real compute is in the ratios.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

FRAMES = 32
REPEATS = 5
SIZE = (512, 768)  # (W, H)


def _frames(n: int = FRAMES, seed: int = 0) -> np.ndarray:
    """uint8 [n, 768, 512, 3] noise frames with a bright corner (opens the stand-in detector's gate)."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 120, size=(n, SIZE[1], SIZE[0], 3), dtype=np.uint8)
    frames[:, :8, :8] = 255
    return frames


def _best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_dwpose() -> None:
    """DWPose path: cross-frame batched pose crops (batch 16, 32) vs one crop per run; plus tracking mode."""
    from models.pose.dwpose import DWPoseBackend
    from models.pose.extract import extract_poses
    from tests.helpers.tiny_dwpose import write_tiny_dwpose

    frames = _frames()
    with tempfile.TemporaryDirectory() as folder:
        det, pose = write_tiny_dwpose(folder)
        providers = ("CPUExecutionProvider",)
        single = DWPoseBackend(det, pose, providers=providers, pose_batch=1)
        extract_poses(frames[:2], single)  # warm-up: session creation is not part of the steady state

        variants = {
            "unbatched (1 crop/run)": single,
            "batched (16 crops/run)": DWPoseBackend(det, pose, providers=providers, pose_batch=16),
            "batched (32 crops/run)": DWPoseBackend(det, pose, providers=providers, pose_batch=32),
            "tracking (detect every 8)": DWPoseBackend(det, pose, providers=providers, detect_every=8),
        }
        # Interleaved repeats, best of each: the machine may be shared, so noise hits every variant alike.
        best = dict.fromkeys(variants, float("inf"))
        for _ in range(REPEATS):
            for name, backend in variants.items():
                seconds = _best_time(lambda b=backend: extract_poses(frames, b, person="all", chunk=FRAMES), 1)
                best[name] = min(best[name], seconds)
        ref = best["unbatched (1 crop/run)"]
        print(f"dwpose  {FRAMES} frames {SIZE[0]}x{SIZE[1]}, 2 people/frame, stand-in ONNX, CPU EP")
        for name, seconds in best.items():
            print(f"  {name:27s} {FRAMES / seconds:7.1f} frames/s   ratio vs unbatched = {ref / seconds:.2f}x")


def _astronaut_clip(n: int) -> np.ndarray:
    """uint8 [n, 768, 512, 3]: scikit-image's astronaut (512x512) drifting down and sideways over a grey portrait
    canvas, a few pixels per frame, like a slow camera pan over a real photo."""
    from skimage import data

    image = data.astronaut()
    frames = np.full((n, SIZE[1], SIZE[0], 3), 96, np.uint8)
    for i in range(n):
        dy, dx = 60 + 5 * i, (3 * i) % 24
        frames[i, dy : dy + 512, dx:] = image[:, : SIZE[0] - dx]
    return frames


def bench_dwpose_real(frames_n: int = 16, rounds: int = 2, people: int = 2) -> None:
    """DWPose with real compute: YOLOX-L 640 + RTMPose-l whole-body 384x288 with the published layer shapes and seeded
    random weights (benchmarks/dwpose_arch.py; ONNX files in ~/.cache/embody-bench, built once), on the CUDA EP when
    this onnxruntime offers it, else the CPU EP,
    through the pack's extraction path (extract_poses + DWPoseBackend): unbatched (1 crop per run) vs batched
    (16 crops per run, across frames) vs tracking (detector every 8th frame). The detector is planted to find
    ``people`` (2, or 1) people per frame (see dwpose_arch.plant_people); its compute is the full network's. All
    variants run in this one process, interleaved, so machine load hits them alike; the ratios are the result."""
    from benchmarks.dwpose_arch import architecture_check, export_onnx
    from models.pose.dwpose import DWPoseBackend
    from models.pose.extract import extract_poses
    from models.pose.onnx_runtime import default_providers, get_session

    print("dwpose-real  architecture check (ours vs published):")
    for line in architecture_check():
        print(line)
    det, pose = export_onnx(people=people)
    frames = _astronaut_clip(frames_n)
    providers = default_providers()  # CUDA first where this onnxruntime build offers it (a GPU box), else CPU
    variants = {
        "unbatched (1 crop/run)": DWPoseBackend(det, pose, providers=providers, pose_batch=1),
        "batched (16 crops/run)": DWPoseBackend(det, pose, providers=providers, pose_batch=16),
        "tracking (detect every 8)": DWPoseBackend(det, pose, providers=providers, pose_batch=16, detect_every=8),
    }
    # The same ORT sessions serve every variant (cached by path): warm them once, outside the timings.
    warm = variants["batched (16 crops/run)"]
    extract_poses(frames[:1], warm, person="all", max_people=people)
    # What the sessions really run on: onnxruntime falls back to the CPU when its CUDA libraries do not load.
    used = get_session(det, providers).get_providers()[0]
    load = os.getloadavg()
    # Stage costs, to explain the ratios: detector per frame, pose per crop alone and in a batch of 16.
    boxes = warm.detect_boxes(frames[:1])
    t_det = _best_time(lambda: warm.detect_boxes(frames[:1]), 1)
    crops = [boxes[0][:1, :4]] * 16
    t_one = _best_time(lambda: variants["unbatched (1 crop/run)"].keypoints_from_boxes(frames[:1], crops[:1]), 2)
    t_16 = _best_time(lambda: warm.keypoints_from_boxes(frames[:16], crops), 1) / 16
    print(f"  stages: detector {t_det:.2f} s/frame; pose {t_one:.2f} s/crop alone, {t_16:.2f} s/crop in a batch of "
          f"16 ({t_one / t_16:.2f}x); detector = {t_det / (t_det + people * t_one):.0%} of an unbatched "
          f"{people}-person frame",
          flush=True)
    seconds = dict.fromkeys(variants, float("inf"))
    for round_ in range(rounds):  # interleaved rounds, best of each: load changes hit every variant alike
        for name, backend in variants.items():
            backend.detector_runs = backend.pose_runs = 0
            start = time.perf_counter()
            result = extract_poses(frames, backend, person="all", max_people=people, chunk=frames_n)
            elapsed = time.perf_counter() - start
            seconds[name] = min(seconds[name], elapsed)
            found = int((result.keypoints[..., 2].max(axis=-1) > 0).sum())
            print(f"  round {round_ + 1}: {name:27s} {frames_n / elapsed:7.3f} frames/s  ({elapsed:6.1f} s; detector "
                  f"on {backend.detector_runs} frames, {backend.pose_runs} pose runs, {found} people found)",
                  flush=True)
    ref = seconds["unbatched (1 crop/run)"]
    print(f"dwpose-real  {frames_n} frames {SIZE[0]}x{SIZE[1]} (astronaut panning), {people} people/frame, "
          f"{used}, best of {rounds}; load average at start {load[0]:.1f} / end {os.getloadavg()[0]:.1f}")
    for name, secs in seconds.items():
        print(f"  {name:27s} {frames_n / secs:7.3f} frames/s   ratio vs unbatched = {ref / secs:.2f}x")


def render_section() -> None:
    """Pose rendering at 512x768: MimicMotion's super-resolution style (2160x3240 canvas, then resize) vs ControlNet."""
    from models.pose.render import confidence_mask, render_pose
    from models.pose.types import PoseSequence

    data = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data",
                                "mimicmotion_render_expected.npz"))
    people = data["keypoints"]  # 2 people, whole body (tests/test_pose_render.py describes them)
    rng = np.random.default_rng(0)
    kp = np.repeat(people[None], FRAMES, axis=0)
    kp[..., :2] += rng.normal(0, 0.002, kp[..., :2].shape).astype(np.float32)
    pose = PoseSequence(kp, SIZE)
    variants = {
        "controlnet": lambda: render_pose(pose, style="controlnet"),
        "mimicmotion": lambda: render_pose(pose, style="mimicmotion"),
        "confidence mask": lambda: confidence_mask(pose),
    }
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(REPEATS):
        for name, fn in variants.items():
            best[name] = min(best[name], _best_time(fn, 1))
    ref = best["controlnet"]
    print(f"render  {FRAMES} frames {SIZE[0]}x{SIZE[1]}, 2 whole-body people/frame")
    for name, seconds in best.items():
        print(f"  {name:27s} {FRAMES / seconds:7.1f} frames/s   time ratio vs controlnet = {seconds / ref:.2f}x")


def clarity_section() -> None:
    """Hand clarity (H3): ours (crop, uint8 resize, float32 luma + Laplacian) vs a per-hand float64 reference
    (whole-frame float64 luma, float64 resize, cv2.Laplacian) on 512x768 frames with 2 hands per frame."""
    import cv2

    from models.hands.clarity import crop_hand, hand_box, hand_clarity
    from models.pose.types import PoseSequence

    frames = _frames(FRAMES, seed=3)
    kp = np.zeros((FRAMES, 1, 133, 3), np.float32)
    ang = np.linspace(0, 2 * np.pi, 21, endpoint=False)
    for start, cx in ((91, 0.3), (112, 0.7)):
        kp[:, 0, start:start + 21, 0] = cx + 0.08 * np.cos(ang)
        kp[:, 0, start:start + 21, 1] = 0.6 + 0.06 * np.sin(ang)
        kp[:, 0, start:start + 21, 2] = 0.9
    pose = PoseSequence(kp, SIZE)
    luma = np.array([0.299, 0.587, 0.114])

    def reference() -> np.ndarray:
        out = np.full((FRAMES, 1, 2), np.nan)
        pts = kp.copy()
        pts[..., 0] *= SIZE[0]
        pts[..., 1] *= SIZE[1]
        for f in range(FRAMES):
            gray = frames[f].astype(np.float64) @ luma
            for hand in (0, 1):
                box = hand_box(pts[f, 0], hand)
                if box is None or crop_hand(frames[f], box, 64) is None:  # same visibility rule
                    continue
                cx, cy, side = box
                x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
                x1, y1 = int(round(cx - side / 2 + side)), int(round(cy - side / 2 + side))
                crop = cv2.resize(gray[max(y0, 0):y1, max(x0, 0):x1], (64, 64), interpolation=cv2.INTER_AREA)
                out[f, 0, hand] = cv2.Laplacian(crop, cv2.CV_64F, ksize=1)[1:-1, 1:-1].std()
        return out

    ours_scores, ref_scores = hand_clarity(frames, pose), reference()
    rel = float(np.nanmax(np.abs(ours_scores - ref_scores) / ref_scores))
    t_ours = _best_time(lambda: hand_clarity(frames, pose), REPEATS)
    t_ref = _best_time(reference, REPEATS)
    print(f"clarity: ours {1000 * t_ours / FRAMES:.3f} ms/frame, float64 reference {1000 * t_ref / FRAMES:.3f} "
          f"ms/frame, speed-up x{t_ref / t_ours:.2f} (512x768, 2 hands/frame, {FRAMES} frames); "
          f"max relative score difference {rel:.2e}")


# name -> function; H2/H3 add e.g. ("render", bench_render), ("clarity", bench_clarity).
SECTIONS: list[tuple[str, Callable[[], None]]] = [
    ("dwpose", bench_dwpose),
    ("dwpose-real", bench_dwpose_real),
    ("dwpose-real-1person", functools.partial(bench_dwpose_real, people=1)),
    ("render", render_section),
    ("clarity", clarity_section),
]


# Sections that take minutes on a CPU: run only when named.
ON_REQUEST = {"dwpose-real", "dwpose-real-1person"}


def main(argv: list[str]) -> int:
    wanted = set(argv) or {name for name, _ in SECTIONS} - ON_REQUEST
    for name, fn in SECTIONS:
        if name not in wanted:
            continue
        try:
            fn()
        except ImportError as exc:  # a section whose module is not there (yet) is skipped, not fatal
            print(f"{name}: skipped ({exc})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
