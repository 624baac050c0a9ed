"""Tiny ONNX stand-ins for DWPose's yolox_l.onnx and dw-ll_ucoco_384.onnx with planted, known outputs.

They follow the official I/O contracts exactly (DWPose onnxdet.py / onnxpose.py) so the real pre/post-processing runs
on them, and their outputs are simple enough for tests to compute the expected keypoints by hand:

Detector  images [1, 3, 640, 640] -> output [1, 8400, 85]: a constant head with the rows in DET_PLANTS planted
(everything else scores 0). Objectness is multiplied by a gate G = clip((max(input) - 114) / 50, 0, 1): a frame
whose letterbox holds a pixel >= 164 "contains people" (G = 1, planted scores exact), an all-black frame (max 0,
or 114 padding) has none.

Pose      input [N, 3, 384, 288] (N dynamic, or fixed with ``pose_batch``) -> simcc_x [N, 133, 576],
simcc_y [N, 133, 768]: zero except one peak per keypoint, at bin PEAK_X[k] / PEAK_Y[k] with heights
HEIGHT_X[k] / HEIGHT_Y[k], all multiplied by (1 + POSE_GAIN * mean(input of that crop)). The peak positions are
therefore fixed; the confidences depend on each crop's content, which makes crop mix-ups in batching visible.
"""

from __future__ import annotations

import math
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DET_SIZE = 640
POSE_W, POSE_H = 288, 384
NUM_KP = 133
SIMCC_X, SIMCC_Y = POSE_W * 2, POSE_H * 2
POSE_GAIN = 0.01
GATE_LOW, GATE_SPAN = 114.0, 50.0

# Planted detector rows: stride, grid x, grid y, dx, dy, box w, box h (detector-input pixels), obj, class, class score.
# Decoded: centre = ((gx + dx) * stride, (gy + dy) * stride), size = (w, h), score = obj * class score.
DET_PLANTS = (
    # A: the best person.
    {"stride": 8, "gx": 30, "gy": 40, "dx": 0.5, "dy": 0.5, "w": 160.0, "h": 400.0, "obj": 0.9, "cls": 0, "p": 0.95},
    # B: same place as A, lower score -> removed by NMS (IoU > 0.45).
    {"stride": 16, "gx": 15, "gy": 20, "dx": 0.25, "dy": 0.25, "w": 150.0, "h": 390.0, "obj": 0.8, "cls": 0, "p": 0.8},
    # C: a second person, apart from A.
    {"stride": 32, "gx": 10, "gy": 8, "dx": 0.5, "dy": 0.5, "w": 128.0, "h": 320.0, "obj": 0.7, "cls": 0, "p": 0.9},
    # D: a confident non-person (class 5) -> dropped.
    {"stride": 8, "gx": 10, "gy": 10, "dx": 0.0, "dy": 0.0, "w": 40.0, "h": 40.0, "obj": 0.95, "cls": 5, "p": 0.99},
    # E: a person with score 0.2 (passes NMS' 0.1, fails the final 0.3) -> dropped.
    {"stride": 8, "gx": 70, "gy": 10, "dx": 0.0, "dy": 0.0, "w": 30.0, "h": 60.0, "obj": 0.5, "cls": 0, "p": 0.4},
    # F: a person with score 0.05 -> below the 0.1 score threshold.
    {"stride": 16, "gx": 5, "gy": 35, "dx": 0.0, "dy": 0.0, "w": 50.0, "h": 80.0, "obj": 0.25, "cls": 0, "p": 0.2},
)
# Indices into DET_PLANTS of the persons that survive, best first.
EXPECTED_PERSONS = (0, 2)

_k = np.arange(NUM_KP)
PEAK_X = ((37 * _k + 11) % SIMCC_X).astype(np.int64)
PEAK_Y = ((53 * _k + 7) % SIMCC_Y).astype(np.int64)
HEIGHT_X = (0.1 + (_k % 12) * 0.12).astype(np.float32)  # 0.1 .. 1.42: some below 0.3, some above 1 (clipped)
HEIGHT_Y = (HEIGHT_X + np.where(_k % 2 == 0, 0.05, -0.05)).astype(np.float32)


def _anchor_row(stride: int, gx: int, gy: int) -> int:
    offset = 0
    for s in (8, 16, 32):
        side = DET_SIZE // s
        if s == stride:
            return offset + gy * side + gx
        offset += side * side
    raise ValueError(stride)


def det_head() -> np.ndarray:
    """The detector's constant raw output float32 [1, 8400, 85] (before the objectness gate)."""
    head = np.zeros((1, 8400, 85), np.float32)
    for plant in DET_PLANTS:
        row = _anchor_row(plant["stride"], plant["gx"], plant["gy"])
        head[0, row, 0] = plant["dx"]
        head[0, row, 1] = plant["dy"]
        head[0, row, 2] = math.log(plant["w"] / plant["stride"])
        head[0, row, 3] = math.log(plant["h"] / plant["stride"])
        head[0, row, 4] = plant["obj"]
        head[0, row, 5 + plant["cls"]] = plant["p"]
    return head


def planted_box(index: int) -> np.ndarray:
    """Box float64 [4] xyxy in detector-input pixels of DET_PLANTS[index] (divide by the letterbox ratio)."""
    p = DET_PLANTS[index]
    cx, cy = (p["gx"] + p["dx"]) * p["stride"], (p["gy"] + p["dy"]) * p["stride"]
    return np.array([cx - p["w"] / 2, cy - p["h"] / 2, cx + p["w"] / 2, cy + p["h"] / 2])


def simcc_heads() -> tuple[np.ndarray, np.ndarray]:
    """The pose model's constant SimCC maps float32 [1, 133, 576] and [1, 133, 768] (before the content factor)."""
    sx = np.zeros((1, NUM_KP, SIMCC_X), np.float32)
    sy = np.zeros((1, NUM_KP, SIMCC_Y), np.float32)
    sx[0, _k, PEAK_X] = HEIGHT_X
    sy[0, _k, PEAK_Y] = HEIGHT_Y
    return sx, sy


def _const(name: str, value: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value), name)


def _save(graph: onnx.GraphProto, path: str) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="embody-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def build_detector(path: str) -> None:
    e4 = np.zeros((1, 1, 85), np.float32)
    e4[..., 4] = 1.0
    nodes = [
        helper.make_node("ReduceMax", ["images"], ["mx"], keepdims=1),
        helper.make_node("Sub", ["mx", "low"], ["mx0"]),
        helper.make_node("Div", ["mx0", "span"], ["g0"]),
        helper.make_node("Clip", ["g0", "zero", "one"], ["g1"]),
        helper.make_node("Reshape", ["g1", "shape111"], ["gate"]),
        helper.make_node("Mul", ["e4", "gate"], ["e4g"]),
        helper.make_node("Sub", ["ones85", "e4"], ["keep"]),
        helper.make_node("Add", ["keep", "e4g"], ["colscale"]),
        helper.make_node("Mul", ["head", "colscale"], ["output"]),
    ]
    inits = [
        _const("low", np.float32(GATE_LOW)), _const("span", np.float32(GATE_SPAN)),
        _const("zero", np.float32(0.0)), _const("one", np.float32(1.0)),
        _const("shape111", np.array([1, 1, 1], np.int64)), _const("e4", e4),
        _const("ones85", np.ones((1, 1, 85), np.float32)), _const("head", det_head()),
    ]
    graph = helper.make_graph(
        nodes, "tiny_yolox",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, DET_SIZE, DET_SIZE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 8400, 85])],
        inits,
    )
    _save(graph, path)


def build_pose(path: str, batch: int | None = None) -> None:
    n: int | str = batch if batch is not None else "batch"
    sx, sy = simcc_heads()
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["m"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["m", "shape_n11"], ["m3"]),
        helper.make_node("Mul", ["m3", "gain"], ["gm"]),
        helper.make_node("Add", ["gm", "one"], ["factor"]),
        helper.make_node("Mul", ["sx", "factor"], ["simcc_x"]),
        helper.make_node("Mul", ["sy", "factor"], ["simcc_y"]),
    ]
    inits = [
        _const("shape_n11", np.array([-1, 1, 1], np.int64)), _const("gain", np.float32(POSE_GAIN)),
        _const("one", np.float32(1.0)), _const("sx", sx), _const("sy", sy),
    ]
    graph = helper.make_graph(
        nodes, "tiny_dwpose",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [n, 3, POSE_H, POSE_W])],
        [helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, [n, NUM_KP, SIMCC_X]),
         helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, [n, NUM_KP, SIMCC_Y])],
        inits,
    )
    _save(graph, path)


def write_tiny_dwpose(folder: str, pose_batch: int | None = None) -> tuple[str, str]:
    """Write the stand-ins into ``folder``; returns (detector path, pose path).

    Names match the real files (yolox_l.onnx, dw-ll_ucoco_384.onnx) so a ComfyUI models/dwpose folder filled with
    them works with the node defaults. pose_batch: None = dynamic batch axis; an int writes a fixed-batch pose model
    named dw-ll_ucoco_384_bs<k>.onnx instead (the batching-off path).
    """
    os.makedirs(folder, exist_ok=True)
    det_path = os.path.join(folder, "yolox_l.onnx")
    if not os.path.exists(det_path):
        build_detector(det_path)
    name = "dw-ll_ucoco_384.onnx" if pose_batch is None else f"dw-ll_ucoco_384_bs{pose_batch}.onnx"
    pose_path = os.path.join(folder, name)
    if not os.path.exists(pose_path):
        build_pose(pose_path, pose_batch)
    return det_path, pose_path
