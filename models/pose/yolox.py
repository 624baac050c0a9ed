"""YOLOX person detector pre/post-processing (the DWPose yolox_l.onnx contract).

Facts from the official code (DWPose onnxdet.py / comfyui_controlnet_aux cv_ox_det.py): input 1x3xSxS
float32 raw 0..255 pixels, letterboxed to the top-left of a canvas filled with 114; output (1, A, 85) with
A = sum over strides 8/16/32 of (S/stride)^2 anchors, each row cx, cy, log-w, log-h, objectness, 80 class scores.
Score = obj * class score; class-aware NMS (score > 0.1, IoU 0.45 with the "+1" pixel convention), then keep the
person class with score > 0.3.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

STRIDES = (8, 16, 32)
PAD_VALUE = 114.0
SCORE_THR = 0.1
NMS_THR = 0.45
PERSON_THR = 0.3


def letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Resize keeping aspect and paste at the top-left of a ``size`` = (H, W) canvas filled with 114.

    image: uint8 [H, W, 3]. Returns (float32 [3, H', W'] raw 0..255, ratio r) with image pixels = canvas / r.
    """
    out_h, out_w = size
    h, w = image.shape[:2]
    ratio = min(out_h / h, out_w / w)
    new_w, new_h = max(1, int(w * ratio)), max(1, int(h * ratio))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    if resized.ndim == 2:
        resized = resized[:, :, None]
    canvas = np.full((out_h, out_w, 3), int(PAD_VALUE), dtype=np.uint8)
    canvas[: min(new_h, out_h), : min(new_w, out_w)] = resized[:out_h, :out_w]
    # uint8 canvas split into contiguous planes, then one cast: cheaper than a float HWC canvas + transpose.
    return np.stack(cv2.split(canvas)).astype(np.float32), ratio


@functools.lru_cache(maxsize=8)
def anchor_grid(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Grid offsets float32 [A, 2] (x, y) and strides float32 [A, 1] for a (H, W) input, stride-8 grid first.

    Cached: treat the returned arrays as read-only.
    """
    grids, strides = [], []
    for stride in STRIDES:
        gh, gw = size[0] // stride, size[1] // stride
        ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
        grids.append(np.stack([xs, ys], axis=-1).reshape(-1, 2))
        strides.append(np.full((gh * gw, 1), stride))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """Greedy NMS. boxes float [N, 4] xyxy, scores [N]. Returns kept indices (int64), best score first.

    Areas and overlaps use the "+1" pixel convention of the official YOLOX demo code.
    """
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter)
        order = rest[iou <= iou_thr]
    return np.asarray(keep, dtype=np.int64)


def decode_persons(
    output: np.ndarray,
    ratio: float,
    size: tuple[int, int],
    score_thr: float = SCORE_THR,
    nms_thr: float = NMS_THR,
    person_thr: float = PERSON_THR,
) -> np.ndarray:
    """Person boxes from one raw YOLOX output.

    output: float [A, 5 + classes] for one image; ratio: letterbox ratio; size: (H, W) of the detector input.
    Returns float32 [P, 5] = x1, y1, x2, y2 in image pixels, score; best score first.
    NMS is class-aware, so boxes of other classes never suppress persons: running NMS on the person column alone
    gives exactly the official class-aware result restricted to class 0.
    """
    grid, strides = anchor_grid(size)
    if output.shape[0] != grid.shape[0]:
        raise ValueError(
            f"the detector returned {output.shape[0]} anchors but a {size[1]}x{size[0]} YOLOX input has "
            f"{grid.shape[0]}; the detector ONNX is not a YOLOX export with strides {STRIDES}"
        )
    scores = output[:, 4].astype(np.float32) * output[:, 5].astype(np.float32)
    valid = scores > score_thr
    if not valid.any():
        return np.zeros((0, 5), np.float32)
    out = output[valid].astype(np.float32)
    scores, grid, strides = scores[valid], grid[valid], strides[valid]
    centre = (out[:, :2] + grid) * strides
    with np.errstate(over="ignore"):
        wh = np.exp(out[:, 2:4]) * strides
    boxes = np.concatenate([centre - wh / 2.0, centre + wh / 2.0], axis=1) / ratio
    keep = nms(boxes, scores, nms_thr)
    boxes, scores = boxes[keep], scores[keep]
    final = scores > person_thr
    return np.concatenate([boxes[final], scores[final, None]], axis=1).astype(np.float32)
