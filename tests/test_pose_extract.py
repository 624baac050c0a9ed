"""extract_poses and person selection: scripted fake backends + the tiny DWPose stand-ins."""

from __future__ import annotations

import numpy as np
import pytest

from models.pose.backend import PoseBackend, to_rgb_uint8
from models.pose.dwpose import DWPoseBackend
from models.pose.extract import extract_poses
from models.pose.select import LOST_AFTER, keypoint_boxes, select_people
from tests.helpers import tiny_dwpose as tiny

W, H = 200, 100


def person(x0: float, y0: float, x1: float, y1: float, conf: float = 0.9) -> np.ndarray:
    """A fake person [133, 3]: body points spread over the box, the rest with confidence 0."""
    kp = np.zeros((133, 3), np.float32)
    t = np.linspace(0, 1, 17)
    kp[:17, 0] = x0 + (x1 - x0) * t
    kp[:17, 1] = y0 + (y1 - y0) * t[::-1]
    kp[:17, 2] = conf
    return kp


class ScriptedBackend:
    """Returns prepared detections frame by frame, in call order (a PoseBackend)."""

    name = "scripted"

    def __init__(self, script: list[list[np.ndarray]]) -> None:
        self.script = script
        self.cursor = 0
        self.resets = 0
        self.calls: list[int] = []

    def reset(self) -> None:
        self.resets += 1
        self.cursor = 0

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        assert frames.dtype == np.uint8 and frames.shape[-1] == 3
        self.calls.append(len(frames))
        out = []
        for _ in frames:
            people = self.script[self.cursor]
            self.cursor += 1
            out.append(np.stack(people) if people else np.zeros((0, 133, 3), np.float32))
        return out

    def close(self) -> None:
        pass


def frames(n: int) -> np.ndarray:
    return np.zeros((n, H, W, 3), np.uint8)


SMALL = person(10, 10, 40, 50)  # area 1200, left
BIG = person(120, 10, 190, 90)  # area 5600, right
MIDDLE = person(90, 40, 110, 60)  # area 400, centred


def test_protocol_and_largest_selection_normalised():
    backend = ScriptedBackend([[SMALL, BIG], [], [MIDDLE]])
    assert isinstance(backend, PoseBackend)
    seen = []
    pose = extract_poses(frames(3), backend, fps=12.0, progress=lambda d, t: seen.append((d, t)), chunk=2)
    assert pose.keypoints.shape == (3, 1, 133, 3) and pose.canvas == (W, H) and pose.fps == 12.0
    np.testing.assert_allclose(pose.keypoints[0, 0, :, 0], BIG[:, 0] / W, atol=1e-6)
    np.testing.assert_allclose(pose.keypoints[0, 0, :, 1], BIG[:, 1] / H, atol=1e-6)
    np.testing.assert_allclose(pose.keypoints[0, 0, :, 2], BIG[:, 2])
    assert not pose.keypoints[1].any()  # no person -> empty pose, not a crash
    np.testing.assert_allclose(pose.keypoints[2, 0, :17, 0], MIDDLE[:17, 0] / W, atol=1e-6)
    assert seen == [(2, 3), (3, 3)] and backend.calls == [2, 1] and backend.resets == 1
    assert pose.meta["backend"] == "scripted"


def test_central_all_and_max_people():
    script = [[SMALL, BIG, MIDDLE]]
    central = extract_poses(frames(1), ScriptedBackend(script), person="central", max_people=2)
    assert central.num_people == 2
    np.testing.assert_allclose(central.keypoints[0, 0, :17, 0] * W, MIDDLE[:17, 0], atol=1e-4)
    np.testing.assert_allclose(central.keypoints[0, 1, :17, 0] * W, BIG[:17, 0], atol=1e-4)  # centre 155 vs 25
    everyone = extract_poses(frames(1), ScriptedBackend(script), person="all", max_people=1)
    assert everyone.num_people == 3
    np.testing.assert_allclose(everyone.keypoints[0, :, 0, 0] * W, [BIG[0, 0], SMALL[0, 0], MIDDLE[0, 0]], atol=1e-4)
    # max_people larger than anyone ever seen does not add empty slots.
    assert extract_poses(frames(1), ScriptedBackend([[SMALL]]), max_people=4).num_people == 1


def test_tracked_keeps_the_subject_when_a_bigger_person_walks_in():
    subject = [person(10 + 3 * f, 10, 60 + 3 * f, 90) for f in range(4)]
    passer = person(100, 0, 199, 99)
    script = [[subject[0]], [passer, subject[1]], [subject[2], passer], [passer]]
    largest = extract_poses(frames(4), ScriptedBackend(script), person="largest")
    tracked = extract_poses(frames(4), ScriptedBackend(script), person="tracked")
    assert largest.keypoints[1, 0, 0, 0] * W == pytest.approx(passer[0, 0], abs=1e-3)
    for f in range(3):
        assert tracked.keypoints[f, 0, 0, 0] * W == pytest.approx(subject[f][0, 0], abs=1e-3)
    assert not tracked.keypoints[3].any()  # subject gone; the passer-by does not take the slot yet


def test_tracked_two_slots_swap_order_and_lost_slot_frees():
    a = [person(10 + 2 * f, 10, 50 + 2 * f, 90) for f in range(3)]
    b = [person(120 - 2 * f, 20, 190 - 2 * f, 95) for f in range(3)]
    out = select_people([np.stack([a[0], b[0]]), np.stack([b[1], a[1]]), np.stack([a[2], b[2]])], (W, H),
                        "tracked", max_people=2)
    first = out[0, :, 0, 0].copy()
    for f in range(3):
        slot_a = int(np.argmin(np.abs(out[f, :, 0, 0] - a[f][0, 0])))
        assert out[f, slot_a, 0, 0] == pytest.approx(a[f][0, 0])
        assert (first[slot_a] - a[0][0, 0]) == 0  # same slot every frame
    # After more than LOST_AFTER empty frames, someone new may take the slot.
    other = person(150, 10, 190, 90)
    seq = [np.stack([a[0]])] + [np.zeros((0, 133, 3), np.float32)] * (LOST_AFTER + 1) + [np.stack([other])]
    out = select_people(seq, (W, H), "tracked")
    assert out[-1, 0, 0, 0] == pytest.approx(other[0, 0])


def test_empty_batch_bad_arguments_and_bad_backend():
    pose = extract_poses(frames(0), ScriptedBackend([]))
    assert pose.keypoints.shape == (0, 1, 133, 3) and pose.canvas == (W, H)
    with pytest.raises(ValueError, match="person selection"):
        extract_poses(frames(1), ScriptedBackend([[]]), person="tallest")
    with pytest.raises(ValueError, match="max_people"):
        extract_poses(frames(1), ScriptedBackend([[]]), max_people=0)
    with pytest.raises(ValueError, match="at least 1x1"):
        extract_poses(np.zeros((1, 0, 5, 3), np.uint8), ScriptedBackend([[]]))

    class Broken(ScriptedBackend):
        def detect(self, frames):
            return [np.zeros((1, 17, 3), np.float32) for _ in frames]

    with pytest.raises(RuntimeError, match="expected \\[people, 133, 3\\]"):
        extract_poses(frames(1), Broken([]))


def test_keypoint_boxes_and_rgb_conversion():
    kp = np.stack([SMALL, np.zeros((133, 3), np.float32)])
    boxes = keypoint_boxes(kp)
    np.testing.assert_allclose(boxes[0], [10, 10, 40, 50])
    assert np.isnan(boxes[1]).all()
    rgba = np.zeros((2, 4, 4, 4), np.float32)
    rgba[..., 0] = 0.5
    assert to_rgb_uint8(rgba)[0, 0, 0].tolist() == [128, 0, 0]
    assert to_rgb_uint8(np.zeros((1, 4, 4), np.uint8)).shape == (1, 4, 4, 3)


def test_dwpose_through_extract_is_chunk_independent(tmp_path):
    det, pose_model = tiny.write_tiny_dwpose(str(tmp_path))
    rng = np.random.default_rng(1)
    clip = rng.integers(0, 120, size=(4, 96, 64, 3)).astype(np.uint8)
    clip[:, :4, :4] = 255
    clip[1] = 0  # no person
    backend = DWPoseBackend(det, pose_model)
    whole = extract_poses(clip, backend, person="all", chunk=16)
    pieces = extract_poses(clip, backend, person="all", chunk=1)
    np.testing.assert_allclose(whole.keypoints, pieces.keypoints, atol=1e-5)
    assert whole.num_people == 2 and not whole.keypoints[1].any()
    raw = backend.detect(clip[:1])[0]
    areas = [np.prod(np.ptp(p[p[:, 2] > 0.3, :2], axis=0)) for p in raw]
    order = np.argsort(areas)[::-1]
    np.testing.assert_allclose(whole.keypoints[0, :, :, 0], raw[order, :, 0] / 64, atol=1e-5)
    np.testing.assert_allclose(whole.keypoints[0, :, :, 1], raw[order, :, 1] / 96, atol=1e-5)
    # Tracking mode through extract: the detector runs on frames 0 and 3 only, across chunk boundaries.
    # (The stand-in pose model answers any crop, so frame 1 keeps its tracked people even though it is black.)
    tracking = DWPoseBackend(det, pose_model, detect_every=3)
    extract_poses(clip, tracking, person="tracked", chunk=2)
    assert tracking.detector_runs == 2
