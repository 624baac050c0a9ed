"""Top-down SimCC pose pre/post-processing (the DWPose dw-ll_ucoco_384.onnx contract).

Facts from the official code (mmpose / DWPose onnxpose.py): box centre and size * 1.25, short side widened to
the model's aspect (W/H of its input), affine warp without rotation into the model input (cv2 INTER_LINEAR),
mean/std normalisation with mmpose's RGB statistics; outputs simcc_x [N, K, W*2] and simcc_y [N, K, H*2].
Decode: argmax / split ratio gives the point in the crop (location -1 where the score is <= 0, as mmpose does);
score = min(max_x, max_y) (raw SimCC maxima, often > 1, so clipped to 0..1 here); crop -> image:
p / input_size * scale + centre - scale / 2. Checked against the official code in tests/test_pose_dwpose_official.py.
"""

from __future__ import annotations

import cv2
import numpy as np

from .boxes import keypoint_box
from .layout import CONFIDENCE_GATE

BOX_PADDING = 1.25
MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
INV_STD = (1.0 / STD).astype(np.float32)


def box_to_center_scale(boxes: np.ndarray, input_size: tuple[int, int], padding: float = BOX_PADDING,
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Boxes float [N, >=4] xyxy (pixels) -> (centre [N, 2], scale [N, 2]) in pixels.

    input_size: (W, H) of the pose model. The scale is the padded box with its short side widened so that
    scale_w / scale_h == W / H (mmpose _fix_aspect_ratio), so the crop is never squashed.
    """
    boxes = np.atleast_2d(np.asarray(boxes, dtype=np.float32))[:, :4]
    x1, y1, x2, y2 = boxes.T
    center = np.stack([(x1 + x2) * 0.5, (y1 + y2) * 0.5], axis=1)
    scale = np.stack([(x2 - x1) * padding, (y2 - y1) * padding], axis=1)
    aspect = input_size[0] / input_size[1]
    w, h = scale[:, 0].copy(), scale[:, 1].copy()
    wider = w > h * aspect
    h = np.where(wider, w / aspect, h)
    w = np.where(wider, w, h * aspect)
    return center.astype(np.float32), np.stack([w, h], axis=1).astype(np.float32)


def warp_matrix(center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """2x3 affine (float64) mapping image pixels to crop pixels: centre -> crop middle, scale -> input size.

    Built like mmpose / DWPose's get_warp_matrix (rotation 0): three float32 point pairs (centre, centre moved up by
    half the scale WIDTH, and that point moved left by the same amount) solved by cv2.getAffineTransform. Only the
    width sets the zoom, for both axes (the aspect fix made the two agree). Solving from float32 points gives
    translations that differ from the closed form by up to ~2e-4 px, enough to change a few bilinear crop pixels by
    one grey level, so we use the same construction to get the same crops.
    """
    c = np.asarray(center, dtype=np.float32)[:2]
    half = np.float32(float(scale[0]) * 0.5)
    src = np.zeros((3, 2), np.float32)
    src[0] = c
    src[1] = c + np.array([0.0, -half], np.float32)
    src[2] = _third_point(src[0], src[1])
    dst = np.zeros((3, 2), np.float32)
    dst[0] = (input_size[0] * 0.5, input_size[1] * 0.5)
    dst[1] = dst[0] + np.array([0.0, -input_size[0] * 0.5], np.float32)
    dst[2] = _third_point(dst[0], dst[1])
    if src[1, 1] == src[0, 1]:
        # Degenerate (zero-width) box: the point pairs coincide, so fall back to the closed form with a tiny width.
        zoom = input_size[0] / max(float(scale[0]), 1e-6)
        return np.array([[zoom, 0.0, input_size[0] * 0.5 - float(c[0]) * zoom],
                         [0.0, zoom, input_size[1] * 0.5 - float(c[1]) * zoom]], dtype=np.float64)
    return cv2.getAffineTransform(src, dst)


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """b plus (a - b) turned 90 degrees anticlockwise (float32), the third point of an affine pair."""
    d = a - b
    return b + np.array([-d[1], d[0]], np.float32)


def crop(image: np.ndarray, center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int],
         out: np.ndarray | None = None) -> np.ndarray:
    """One normalised model input float32 [3, H, W] from uint8 RGB image [h, w, 3] (outside = 0 before mean/std).

    out: optional float32 [3, H, W] buffer to write into (a slot of the batch), which saves a copy per crop.
    """
    mat = warp_matrix(center, scale, input_size)
    patch = cv2.warpAffine(image, mat, (int(input_size[0]), int(input_size[1])), flags=cv2.INTER_LINEAR)
    if out is None:
        out = np.empty((3, patch.shape[0], patch.shape[1]), np.float32)
    # Per contiguous plane (cv2.split) instead of an HWC float image + transpose: same values, ~3x less memory traffic.
    for channel, plane in enumerate(cv2.split(patch)):
        np.subtract(plane, MEAN[channel], out=out[channel], dtype=np.float32)
        out[channel] *= INV_STD[channel]
    return out


def decode(simcc_x: np.ndarray, simcc_y: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """SimCC logits -> keypoints in crop pixels with score.

    simcc_x float [N, K, Lx], simcc_y float [N, K, Ly]; split ratio = Lx / W (2.0 for DWPose).
    Returns float32 [N, K, 3]: x, y in crop pixels, score = min of the two maxima clipped to 0..1.
    """
    ratio_x = simcc_x.shape[-1] / input_size[0]
    ratio_y = simcc_y.shape[-1] / input_size[1]
    x = np.argmax(simcc_x, axis=-1).astype(np.float32)
    y = np.argmax(simcc_y, axis=-1).astype(np.float32)
    score = np.minimum(np.max(simcc_x, axis=-1), np.max(simcc_y, axis=-1))
    # mmpose get_simcc_maximum: a keypoint whose maximum is <= 0 is invalid and gets location -1 (before the split
    # ratio), i.e. just above-left of the crop; its clipped score is 0, so it is "missing" either way.
    invalid = score <= 0
    x[invalid] = -1.0
    y[invalid] = -1.0
    x /= np.float32(ratio_x)
    y /= np.float32(ratio_y)
    return np.stack([x, y, np.clip(score, 0.0, 1.0)], axis=-1).astype(np.float32)


def crop_to_image(points: np.ndarray, center: np.ndarray, scale: np.ndarray, input_size: tuple[int, int],
                  ) -> np.ndarray:
    """Crop-pixel keypoints [N, K, 3] back to image pixels (score untouched). center/scale: [N, 2]."""
    out = points.copy()
    size = np.asarray(input_size, dtype=np.float32)
    out[..., :2] = points[..., :2] / size * scale[:, None, :] + center[:, None, :] - scale[:, None, :] / 2.0
    return out


def boxes_from_keypoints(keypoints: np.ndarray, threshold: float = CONFIDENCE_GATE, expand: float = 1.25,
                         min_points: int = 2) -> np.ndarray:
    """Tracking boxes from the previous frame's keypoints (the idea of rtmlib's PoseTracker).

    keypoints float [P, K, 3] in pixels. Box = bounds of points with score > threshold, expanded ``expand`` times
    about its centre. People with fewer than ``min_points`` confident points are dropped (tracking lost).
    Returns float32 [P', 4] xyxy.
    """
    boxes = []
    for person in np.asarray(keypoints, dtype=np.float32):
        box = keypoint_box(person, threshold, fallback=False, min_points=min_points)
        if box is None:
            continue
        lo, hi = box[:2], box[2:]
        mid, half = (lo + hi) / 2.0, (hi - lo) / 2.0 * expand
        if (half <= 0).any():
            continue
        boxes.append(np.concatenate([mid - half, mid + half]))
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
