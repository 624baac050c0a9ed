"""Tiny DWPose ONNX stand-ins whose outputs follow the image content, plus the fixed test images they are run on.

tests/helpers/tiny_dwpose.py plants constant outputs (good for hand-computed expectations); these ones instead make
every number depend on the pixels, so the letterbox, the box -> crop affine warp, the crop normalisation and the
crop -> image mapping all change the result. They are used to compare our pipeline with the official one
(tests/test_pose_dwpose_official.py). Same I/O contracts as yolox_l.onnx / dw-ll_ucoco_384.onnx (DWPose onnxdet.py /
onnxpose.py); only per-sample ops, so batching crops does not change any value.

Detector  images [1, 3, 640, 640] (raw 0..255 RGB) -> output [1, 8400, 85]. Per anchor, m = the mean (R, G, B) of its
stride x stride cell (AveragePool), then one linear map plus a per-anchor bias, clamped per column:
  dx = 0.2 + 0.6 G/255, dy = 0.2 + 0.6 B/255 (cell offsets), log w = log(BASE_W[s] / s) + 0.4 R/255 - 0.2 G/255,
  log h = log(BASE_H[s] / s) + 0.3 G/255 + 0.1 B/255, objectness = clip((G + B - 240) / 60, 0, 1) (0 on the 114
  letterbox padding), class 0 (person) = G / 255, class 5 = B / 255, other classes 0.
So green markers are people, blue markers other objects, and the boxes' sizes follow the red "bodies".

Pose  input [N, 3, 384, 288] (normalised) -> simcc_x [N, 133, 576], simcc_y [N, 133, 768]. "Profiles" of the crop:
BANDS fixed rows of every channel ([N, 3 * BANDS, 288]) are mixed per keypoint (mix_x [133, 3 * BANDS]), upsampled
x2 by linear interpolation, and OFFSET plus a small keypoint-specific ramp is added (the ramp breaks ties in the
argmax); simcc_y likewise from BANDS fixed columns. So the peaks sit where the crop is brightest along those lines.
Keypoints with k % 9 == 4 get -5 added, so their maxima are <= 0 (the "invalid" path of SimCC decoding). Maxima
reach above 1 elsewhere (raw SimCC). Sums stay short (no pooling), so values do not depend on onnxruntime threading.
"""

from __future__ import annotations

import math
import os

import numpy as np
from onnx import TensorProto, helper

from tests.helpers.tiny_dwpose import _const, _save

DET_SIZE = 640
STRIDES = (8, 16, 32)
BASE_W = {8: 48.0, 16: 96.0, 32: 176.0}
BASE_H = {8: 120.0, 16: 240.0, 32: 400.0}
POSE_W, POSE_H = 288, 384
NUM_KP = 133
BANDS = 4
NEGATIVE_KP = np.arange(NUM_KP) % 9 == 4
OFFSET = 1.6  # lifts the (mostly dark, so negative after mean/std) crop profiles to maxima around 0.1..2


def _det_linear() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(M [3, 85], bias [1, 8400, 85], lower [85], upper [85]) of the stand-in detector."""
    m = np.zeros((3, 85), np.float32)
    r, g, b = 0, 1, 2
    m[g, 0], m[b, 1] = 0.6 / 255, 0.6 / 255
    m[r, 2], m[g, 2] = 0.4 / 255, -0.2 / 255
    m[g, 3], m[b, 3] = 0.3 / 255, 0.1 / 255
    m[g, 4], m[b, 4] = 1 / 60, 1 / 60
    m[g, 5] = 1 / 255
    m[b, 10] = 1 / 255
    rows = []
    for s in STRIDES:
        n = (DET_SIZE // s) ** 2
        row = np.zeros((n, 85), np.float32)
        row[:, 0] = row[:, 1] = 0.2
        row[:, 2] = math.log(BASE_W[s] / s)
        row[:, 3] = math.log(BASE_H[s] / s)
        row[:, 4] = -240 / 60
        rows.append(row)
    bias = np.concatenate(rows)[None]
    lower = np.full(85, -1e9, np.float32)
    upper = np.full(85, 1e9, np.float32)
    lower[4], upper[4] = 0.0, 1.0
    return m, bias, lower, upper


def _upsample2(n: int) -> np.ndarray:
    """Linear x2 upsampling matrix float32 [n, 2n] (half-pixel centres, edge-clamped)."""
    u = np.zeros((n, 2 * n), np.float32)
    for i in range(n):
        u[i, 2 * i] += 0.75
        u[max(i - 1, 0), 2 * i] += 0.25
        u[i, 2 * i + 1] += 0.75
        u[min(i + 1, n - 1), 2 * i + 1] += 0.25
    return u


def pose_constants() -> dict[str, np.ndarray]:
    """Mixing matrices [133, 3 * BANDS], upsamplers and ramps [133, 2L] of the stand-in pose model."""
    k = np.arange(NUM_KP)[:, None]
    j = np.arange(3 * BANDS)[None, :]
    mix_x = (((k * 7 + j * 3) % 5 + 1) / 30.0).astype(np.float32)
    mix_y = (((k * 5 + j * 11) % 7 + 1) / 40.0).astype(np.float32)
    out = {"mix_x": mix_x, "mix_y": mix_y, "up_x": _upsample2(POSE_W), "up_y": _upsample2(POSE_H)}
    for name, length in (("ramp_x", 2 * POSE_W), ("ramp_y", 2 * POSE_H)):
        i = np.arange(length)[None, :]
        # A permutation of the bins (no exact ties); 0.08 keeps every top-1/top-2 gap in the fixture above 2e-5.
        ramp = 0.08 * ((i * 385 + k * 17) % length) / length
        out[name] = (ramp + OFFSET - 5.0 * NEGATIVE_KP[:, None]).astype(np.float32)
    return out


def build_detector(path: str) -> None:
    m, bias, lower, upper = _det_linear()
    nodes, pooled = [], []
    for s in STRIDES:
        side = DET_SIZE // s
        nodes.append(helper.make_node("AveragePool", ["images"], [f"p{s}"], kernel_shape=[s, s], strides=[s, s]))
        nodes.append(helper.make_node("Reshape", [f"p{s}", f"shape{s}"], [f"f{s}"]))
        pooled.append((f"f{s}", side * side))
    nodes += [
        helper.make_node("Concat", [name for name, _ in pooled], ["cells"], axis=2),
        helper.make_node("Transpose", ["cells"], ["cells_t"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["cells_t", "m"], ["lin"]),
        helper.make_node("Add", ["lin", "bias"], ["biased"]),
        helper.make_node("Max", ["biased", "lower"], ["low_clamped"]),
        helper.make_node("Min", ["low_clamped", "upper"], ["output"]),
    ]
    inits = [_const(f"shape{s}", np.array([1, 3, n], np.int64)) for s, (_, n) in zip(STRIDES, pooled, strict=True)]
    inits += [_const("m", m), _const("bias", bias), _const("lower", lower), _const("upper", upper)]
    graph = helper.make_graph(
        nodes, "tiny_yolox_varied",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, DET_SIZE, DET_SIZE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 8400, 85])],
        inits,
    )
    _save(graph, path)


def build_pose(path: str) -> None:
    c = pose_constants()
    nodes = [
        # x "profiles": BANDS fixed rows of each channel -> [N, 3, BANDS, 288] -> [N, 3*BANDS, 288]. Gathering rows
        # rather than averaging keeps float sums short, so results do not depend on onnxruntime's threading.
        helper.make_node("Gather", ["input", "rows"], ["rows_x"], axis=2),
        helper.make_node("Reshape", ["rows_x", "flat_x"], ["prof_x"]),
        helper.make_node("MatMul", ["mix_x", "prof_x"], ["mixed_x"]),
        helper.make_node("MatMul", ["mixed_x", "up_x"], ["up_mixed_x"]),
        helper.make_node("Add", ["up_mixed_x", "ramp_x"], ["simcc_x"]),
        # y profiles: BANDS fixed columns -> [N, 3, 384, BANDS] -> [N, 3, BANDS, 384] -> [N, 3*BANDS, 384].
        helper.make_node("Gather", ["input", "cols"], ["cols_y"], axis=3),
        helper.make_node("Transpose", ["cols_y"], ["cols_t"], perm=[0, 1, 3, 2]),
        helper.make_node("Reshape", ["cols_t", "flat_y"], ["prof_y"]),
        helper.make_node("MatMul", ["mix_y", "prof_y"], ["mixed_y"]),
        helper.make_node("MatMul", ["mixed_y", "up_y"], ["up_mixed_y"]),
        helper.make_node("Add", ["up_mixed_y", "ramp_y"], ["simcc_y"]),
    ]
    inits = [
        _const("rows", (np.arange(BANDS, dtype=np.int64) * 2 + 1) * (POSE_H // (2 * BANDS))),
        _const("cols", (np.arange(BANDS, dtype=np.int64) * 2 + 1) * (POSE_W // (2 * BANDS))),
        _const("flat_x", np.array([-1, 3 * BANDS, POSE_W], np.int64)),
        _const("flat_y", np.array([-1, 3 * BANDS, POSE_H], np.int64)),
    ] + [_const(name, value) for name, value in c.items()]
    graph = helper.make_graph(
        nodes, "tiny_dwpose_varied",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, POSE_H, POSE_W])],
        [helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, ["batch", NUM_KP, 2 * POSE_W]),
         helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, ["batch", NUM_KP, 2 * POSE_H])],
        inits,
    )
    _save(graph, path)


def write_tiny_dwpose_varied(folder: str) -> tuple[str, str]:
    """Write the content-following stand-ins into ``folder``; returns (detector path, pose path)."""
    os.makedirs(folder, exist_ok=True)
    det_path = os.path.join(folder, "yolox_varied.onnx")
    pose_path = os.path.join(folder, "dwpose_varied.onnx")
    if not os.path.exists(det_path):
        build_detector(det_path)
    if not os.path.exists(pose_path):
        build_pose(pose_path)
    return det_path, pose_path


# ---- fixed test images (integer arithmetic only, so they are identical on every platform) ----------------------
# (H, W): landscape at detector scale 1, portrait downscaled, small odd-sized upscaled, and one with nobody in it.
IMAGE_SIZES = ((480, 640), (720, 405), (199, 301), (150, 260))


def _texture(h: int, w: int, salt: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    return ((x * 37 + y * 91 + salt * 53) ^ (x * y + salt)) % 41


def _rect(img: np.ndarray, cx: float, cy: float, half_w: float, half_h: float, channel: int, level: int,
          tex: np.ndarray) -> None:
    h, w = img.shape[:2]
    x0, x1 = max(int(cx - half_w), 0), min(int(cx + half_w), w)
    y0, y1 = max(int(cy - half_h), 0), min(int(cy + half_h), h)
    img[y0:y1, x0:x1, channel] = np.clip(level + tex[y0:y1, x0:x1] - 20, 0, 255)


def fixture_image(index: int) -> np.ndarray:
    """uint8 RGB [H, W, 3] test image ``index`` (0..3). Images 0-2 hold two people (red bodies, green markers: one
    near the border, so its crop leaves the image), a blue non-person object and a weak marker; image 3 is empty."""
    h, w = IMAGE_SIZES[index]
    tex = _texture(h, w, index)
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = 40 + tex
    img[..., 1] = 30 + (tex * 3) % 31
    img[..., 2] = 35 + (tex * 7) % 29
    if index == 3:
        return img
    side = max(8.0, 0.06 * min(h, w))
    people = ((0.32 * w, 0.46 * h, 0.10 * w, 0.36 * h), (0.88 * w + 4 * index, 0.58 * h, 0.09 * w, 0.30 * h))
    for cx, cy, hw, hh in people:
        _rect(img, cx, cy, hw, hh, 0, 210, tex)  # body (red)
        _rect(img, cx, cy - 0.15 * hh, side / 2, side / 2, 1, 228, tex)  # person marker (green)
    _rect(img, 0.36 * w, 0.52 * h, side / 2, side / 2, 2, 230, tex)  # object (blue), overlapping person 0
    _rect(img, 0.62 * w, 0.25 * h, side / 2, side / 2, 1, 210, tex)  # weak marker: score between 0.1 and 0.3
    return img
