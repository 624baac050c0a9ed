"""DWPose ONNX backend on tiny stand-ins with planted outputs: exact decoding, box mapping, batching, tracking."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from models.pose import onnx_runtime, simcc, yolox
from models.pose.dwpose import DWPoseBackend
from tests.helpers import tiny_dwpose as tiny

# mmpose RGB statistics and DWPose constants, written out independently of the code under test.
MEAN = np.array([123.675, 116.28, 103.53])
STD = np.array([58.395, 57.12, 57.375])
H, W = 768, 512  # portrait test frames
RATIO = min(640 / H, 640 / W)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dwpose")
    det, pose = tiny.write_tiny_dwpose(str(folder))
    _, pose_bs1 = tiny.write_tiny_dwpose(str(folder), pose_batch=1)
    _, pose_bs3 = tiny.write_tiny_dwpose(str(folder), pose_batch=3)
    return {"folder": str(folder), "det": det, "pose": pose, "pose_bs1": pose_bs1, "pose_bs3": pose_bs3}


def person_frame(h: int = H, w: int = W) -> np.ndarray:
    """Black frame with a white 4x4 corner block: the stand-in detector's gate opens (G = 1)."""
    frame = np.zeros((h, w, 3), np.uint8)
    frame[:4, :4] = 255
    return frame


def expected_keypoints(box: np.ndarray, factor: float) -> np.ndarray:
    """Hand-computed DWPose decode for one box [4] in image pixels: 1.25 padding, aspect fix to 288/384, peaks/2."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    sw, sh = (box[2] - box[0]) * 1.25, (box[3] - box[1]) * 1.25
    if sw > sh * 288 / 384:
        sh = sw * 384 / 288
    else:
        sw = sh * 288 / 384
    x = tiny.PEAK_X / 2.0 / 288 * sw + cx - sw / 2
    y = tiny.PEAK_Y / 2.0 / 384 * sh + cy - sh / 2
    conf = np.clip(np.minimum(tiny.HEIGHT_X, tiny.HEIGHT_Y) * factor, 0, 1)
    return np.stack([x, y, conf], axis=-1)


# The crop of an all-black region is 0 everywhere (border included), so its normalised mean is known exactly.
BLACK_FACTOR = 1 + tiny.POSE_GAIN * float(np.mean(-MEAN / STD))


def test_detector_boxes_are_the_planted_persons_after_nms(models):
    backend = DWPoseBackend(models["det"], models["pose"])
    boxes = backend.detect_boxes(person_frame()[None])[0]
    assert boxes.shape == (2, 5)
    for row, index in zip(boxes, tiny.EXPECTED_PERSONS, strict=True):
        plant = tiny.DET_PLANTS[index]
        np.testing.assert_allclose(row[:4], tiny.planted_box(index) / RATIO, atol=1e-3)
        assert row[4] == pytest.approx(plant["obj"] * plant["p"], abs=1e-6)


def test_keypoints_decode_exactly_through_padding_aspect_and_affine(models):
    backend = DWPoseBackend(models["det"], models["pose"])
    people = backend.detect(person_frame()[None])[0]
    assert people.shape == (2, 133, 3) and people.dtype == np.float32
    for person, index in zip(people, tiny.EXPECTED_PERSONS, strict=True):
        expected = expected_keypoints(tiny.planted_box(index) / RATIO, BLACK_FACTOR)
        np.testing.assert_allclose(person[:, :2], expected[:, :2], atol=2e-3)
        np.testing.assert_allclose(person[:, 2], expected[:, 2], atol=1e-5)
    # Raw SimCC maxima above 1 are clipped; some points stay below the 0.3 drawing gate.
    assert people[..., 2].max() == 1.0 and (people[..., 2] < 0.3).any()


def test_simcc_decode_unit():
    sx = np.zeros((1, 2, 8), np.float32)
    sy = np.zeros((1, 2, 6), np.float32)
    sx[0, 0, 5], sy[0, 0, 3] = 2.5, 0.7  # score = min -> 0.7
    sx[0, 1, 1], sy[0, 1, 0] = 3.0, 4.0  # min 3.0 -> clipped to 1
    out = simcc.decode(sx, sy, (4, 3))
    np.testing.assert_allclose(out[0], [[2.5, 1.5, 0.7], [0.5, 0.0, 1.0]], atol=1e-6)


def test_batched_equals_one_by_one_and_fixed_batches(models):
    rng = np.random.default_rng(0)
    # Different brightness per frame (plus noise) so every crop has its own mean; frame 2 is empty (all black).
    levels = np.array([40, 200, 0, 90, 150])[:, None, None, None]
    frames = np.clip(levels + rng.integers(0, 30, size=(5, H, W, 3)), 0, 255).astype(np.uint8)
    frames[:, :4, :4] = 255
    frames[2] = 0
    batched = DWPoseBackend(models["det"], models["pose"], pose_batch=16)
    single = DWPoseBackend(models["det"], models["pose"], pose_batch=1)
    fixed1 = DWPoseBackend(models["det"], models["pose_bs1"])
    fixed3 = DWPoseBackend(models["det"], models["pose_bs3"])
    ref = batched.detect(frames)
    assert [len(p) for p in ref] == [2, 2, 0, 2, 2]
    # Confidences depend on each crop's content, so a crop/frame mix-up would show.
    assert not np.allclose(ref[0][0, :, 2], ref[1][0, :, 2])
    for other in (single, fixed1, fixed3):
        got = other.detect(frames)
        for a, b in zip(ref, got, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-4)
    assert batched.pose_batch_is_dynamic and not fixed3.pose_batch_is_dynamic
    assert batched.pose_runs == 1 and single.pose_runs == 8 and fixed1.pose_runs == 8 and fixed3.pose_runs == 3
    assert batched.pose_input_size == (288, 384)


def test_tracking_runs_detector_every_n_and_derives_boxes(models):
    frames = np.stack([person_frame()] * 5)
    backend = DWPoseBackend(models["det"], models["pose"], detect_every=3)
    out = backend.detect(frames)
    assert backend.detector_runs == 2  # frames 0 and 3
    # Frame 1 uses boxes from frame 0's keypoints: bounds of points with score > 0.3, expanded 1.25x.
    for person0, person1 in zip(out[0], out[1], strict=True):
        good = person0[person0[:, 2] > 0.3, :2].astype(np.float64)
        lo, hi = good.min(axis=0), good.max(axis=0)
        mid, half = (lo + hi) / 2, (hi - lo) / 2 * 1.25
        expected = expected_keypoints(np.concatenate([mid - half, mid + half]), 1.0)
        np.testing.assert_allclose(person1[:, :2], expected[:, :2], rtol=1e-5, atol=5e-3)
    # Frame 3 is a detection frame again: identical to frame 0.
    np.testing.assert_allclose(out[3], out[0], atol=1e-5)
    # State carries across calls and reset() starts a new clip.
    backend.reset()
    again = backend.detect(frames[:2]) + backend.detect(frames[2:])
    for a, b in zip(out, again, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_tracking_lost_redetects(models):
    frames = np.stack([np.zeros((H, W, 3), np.uint8), person_frame(), person_frame()])
    backend = DWPoseBackend(models["det"], models["pose"], detect_every=4)
    out = backend.detect(frames)
    assert [len(p) for p in out] == [0, 2, 2]
    assert backend.detector_runs == 2  # frame 1 had nothing to track, so it detected


def test_boxes_from_keypoints_drops_people_with_too_few_points():
    kps = np.zeros((2, 133, 3), np.float32)
    kps[0, :3] = [[10, 20, 0.9], [30, 60, 0.8], [500, 500, 0.1]]
    kps[1, 0] = [5, 5, 1.0]
    boxes = simcc.boxes_from_keypoints(kps)
    np.testing.assert_allclose(boxes, [[7.5, 15, 32.5, 65]])


def test_nms_and_letterbox_units():
    boxes = np.array([[0, 0, 9, 9], [1, 1, 10, 10], [20, 20, 29, 29]], np.float32)
    keep = yolox.nms(boxes, np.array([0.5, 0.9, 0.7], np.float32), 0.45)
    assert keep.tolist() == [1, 2]  # IoU(0,1) = 81/119 with the +1 convention
    canvas, ratio = yolox.letterbox(np.full((10, 20, 3), 7, np.uint8), (640, 640))
    assert ratio == 32.0 and canvas.shape == (3, 640, 640)
    assert canvas[:, 319, 0].tolist() == [7, 7, 7] and canvas[:, 320, 0].tolist() == [114, 114, 114]


def test_bad_frames(models):
    backend = DWPoseBackend(models["det"], models["pose"])
    assert backend.detect(np.zeros((0, H, W, 3), np.uint8)) == []
    assert [len(p) for p in backend.detect(np.zeros((2, H, W, 3), np.uint8))] == [0, 0]  # all black
    one_white = backend.detect(np.full((1, 1, 1, 3), 255, np.uint8))
    # Boxes shrink below a pixel (ratio 640), where the "+1" NMS convention merges A and C into one person.
    assert one_white[0].shape == (1, 133, 3) and np.isfinite(one_white[0]).all()
    assert backend.detect(np.zeros((1, 1, 1, 3), np.uint8))[0].shape == (0, 133, 3)
    rgb = person_frame()
    grey = backend.detect(rgb[None, :, :, :1])
    rgba = backend.detect(np.concatenate([rgb, np.full((H, W, 1), 9, np.uint8)], axis=-1)[None])
    ref = backend.detect(rgb[None])
    np.testing.assert_allclose(grey[0], ref[0], atol=1e-5)
    np.testing.assert_allclose(rgba[0], ref[0], atol=1e-5)
    floats = backend.detect(rgb[None].astype(np.float32) / 255.0)
    np.testing.assert_allclose(floats[0], ref[0], atol=1e-5)
    with pytest.raises(ValueError, match="2 colour channels"):
        backend.detect(np.zeros((1, 8, 8, 2), np.uint8))
    with pytest.raises(ValueError, match="batch of frames"):
        backend.detect(np.zeros((8,), np.uint8))


def test_missing_corrupt_and_swapped_models(models, tmp_path):
    missing = str(tmp_path / "nowhere" / "yolox_l.onnx")
    with pytest.raises(FileNotFoundError) as err:
        DWPoseBackend(missing, models["pose"]).detect(person_frame()[None])
    assert "'yolox_l.onnx'" in str(err.value) and str(tmp_path / "nowhere") in str(err.value)
    corrupt = tmp_path / "dw-ll_ucoco_384.onnx"
    corrupt.write_bytes(b"this is not a protobuf" * 10)
    with pytest.raises(ValueError) as err:
        DWPoseBackend(models["det"], str(corrupt)).detect(person_frame()[None])
    assert "'dw-ll_ucoco_384.onnx'" in str(err.value) and str(tmp_path) in str(err.value)
    with pytest.raises(ValueError, match="swap"):
        DWPoseBackend(models["pose"], models["det"]).detect(person_frame()[None])
    with pytest.raises(ValueError, match="detect_every"):
        DWPoseBackend(models["det"], models["pose"], detect_every=0)


def test_sessions_are_cached_and_provider_logged(models, caplog, tmp_path):
    onnx_runtime.clear_sessions()
    with caplog.at_level(logging.INFO, logger="models.pose.onnx_runtime"):
        first = onnx_runtime.get_session(models["det"], ("CPUExecutionProvider",))
        second = onnx_runtime.get_session(models["det"], ("CPUExecutionProvider",))
    assert first is second
    assert any("CPUExecutionProvider" in r.getMessage() for r in caplog.records)
    # A replaced file (new mtime) gets a fresh session.
    det2, _ = tiny.write_tiny_dwpose(str(tmp_path))
    s1 = onnx_runtime.get_session(det2, ("CPUExecutionProvider",))
    os.utime(det2, (1, 1))
    assert onnx_runtime.get_session(det2, ("CPUExecutionProvider",)) is not s1


@pytest.mark.filterwarnings("ignore:Specified provider")
def test_cuda_fallback_is_a_warning(models, caplog):
    # onnxruntime-gpu lists CUDA as available even when its CUDA libraries are missing (as on CI): only the
    # session's own providers tell whether CUDA was really used, which is exactly what the warning is about.
    onnx_runtime.clear_sessions()
    with caplog.at_level(logging.WARNING, logger="models.pose.onnx_runtime"):
        session = onnx_runtime.get_session(models["pose"], ("CUDAExecutionProvider", "CPUExecutionProvider"))
    if "CUDAExecutionProvider" in session.get_providers():
        pytest.skip("CUDA is really usable here, so nothing falls back")
    assert any(r.levelno == logging.WARNING and "fell back" in r.getMessage() for r in caplog.records)


def test_import_is_lazy():
    code = (
        "import sys, models.pose.dwpose, models.pose.extract, models.pose.onnx_runtime; "
        "assert 'onnxruntime' not in sys.modules; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
