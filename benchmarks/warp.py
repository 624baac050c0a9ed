"""Pose warp speed: frames per second at 512x512 on one thread, rig reused vs rebuilt per frame.

    python -m benchmarks.warp

The reference is scikit-image's astronaut with its mediapipe pose (tests/data/astronaut_pose.json); the driving
poses swing the right arm, tilt the head and open the jaw over FRAMES frames. "ours" builds the rig (person region,
mesh, bone weights, face kernel, clean plate) once and warps every frame; "from scratch" does the same warp per
frame with the rig rebuilt each time, two ways: everything (GrabCut region + inpainted plate + mesh + weights) and
mesh + weights only (region and plate reused). Both CPU time (process_time: robust on a shared machine) and wall
time are printed; the ratios are the robust numbers.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from models.pose.layout import CONFIDENCE_GATE as GATE  # noqa: E402
from models.warp.rig import build_rig  # noqa: E402
from models.warp.warp import warp_frame  # noqa: E402

FRAMES = 60
DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "astronaut_pose.json"


def driving_poses(kp: np.ndarray, frames: int = FRAMES) -> np.ndarray:
    out = np.repeat(kp[None], frames, axis=0)
    t = np.arange(frames) / 25.0
    for i, ti in enumerate(t):
        a = np.radians(25 * np.sin(2 * np.pi * 0.8 * ti))
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        arm = np.r_[8, 10, 112:133]
        out[i, arm, :2] = kp[6, :2] + (kp[arm, :2] - kp[6, :2]) @ rot.T
        b = np.radians(6 * np.sin(2 * np.pi * 0.5 * ti))
        rot = np.array([[np.cos(b), -np.sin(b)], [np.sin(b), np.cos(b)]])
        head = np.r_[0:5, 23:91]
        neck = 0.5 * (kp[5, :2] + kp[6, :2])
        out[i, head, :2] = neck + (kp[head, :2] - neck) @ rot.T
        out[i, np.r_[28:35, 78:83, 87:91], 1] += 0.012 * max(0.0, np.sin(2 * np.pi * 3 * ti))
    return out


def _timed(fn) -> tuple[float, float]:
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - c0, time.perf_counter() - w0


def main() -> None:
    cv2.setNumThreads(1)
    from skimage import data

    image = np.asarray(data.astronaut())
    kp = np.array(json.loads(DATA.read_text())["keypoints"], np.float64)
    poses = driving_poses(kp)
    rig = build_rig(image, kp, GATE)
    warp_frame(rig, poses[0])  # warm-up

    def ours() -> None:
        r = build_rig(image, kp, GATE)
        for p in poses:
            warp_frame(r, p)

    def scratch_all() -> None:
        for p in poses[:10]:
            warp_frame(build_rig(image, kp, GATE), p)

    def scratch_mesh() -> None:
        for p in poses:  # mesh + weights + face kernel per frame; the region and the plate reused
            warp_frame(build_rig(image, kp, GATE, region=(rig.person, rig.plate)), p)

    cpu, wall = _timed(ours)
    cpu_frames, wall_frames = _timed(lambda: [warp_frame(rig, p) for p in poses])
    print(f"ours (rig built once, {FRAMES} frames, 512x512, 1 thread): {FRAMES / cpu:.1f} frames/s CPU "
          f"({FRAMES / wall:.1f} wall), incl. the one-off rig; per-frame warp alone {FRAMES / cpu_frames:.1f} "
          f"frames/s CPU ({FRAMES / wall_frames:.1f} wall)")
    cpu_a, wall_a = _timed(scratch_all)
    print(f"from scratch, everything per frame (10 frames): {10 / cpu_a:.2f} frames/s CPU ({10 / wall_a:.2f} wall)"
          f" -> ours (incl. its one-off rig) is {(cpu_a / 10) / (cpu / FRAMES):.0f}x faster")
    cpu_m, wall_m = _timed(scratch_mesh)
    print(f"from scratch, mesh + weights per frame (region reused): {FRAMES / cpu_m:.1f} frames/s CPU "
          f"({FRAMES / wall_m:.1f} wall) -> the per-frame warp with the rig reused is {cpu_m / cpu_frames:.2f}x faster")


if __name__ == "__main__":
    main()
