"""DWPose whole-body backend: YOLOX person boxes + DWPose SimCC keypoints, both ONNX on onnxruntime.

Follows the official two-stage pipeline (DWPose onnxdet.py + onnxpose.py) with two video-oriented additions:
- pose crops are batched ACROSS frames when the pose model's batch axis is dynamic (the official code runs one
  frame, or one crop, per session.run); a fixed batch axis is honoured by zero-padding to it;
- tracking mode (``detect_every`` > 1): the 155-GFLOP detector runs every N-th frame and other frames reuse boxes
  derived from the previous frame's keypoints (the idea of rtmlib's PoseTracker).
Frames without a person give P = 0 people (the official code falls back to a whole-image box; opt in with
``whole_image_fallback``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import simcc, yolox
from .backend import to_rgb_uint8
from .layout import CONFIDENCE_GATE, NUM_KEYPOINTS
from .onnx_runtime import describe_file, get_session, static_dim

logger = logging.getLogger(__name__)

DEFAULT_DET_SIZE = (640, 640)


class DWPoseBackend:
    """PoseBackend over yolox_l.onnx + dw-ll_ucoco_384.onnx (or any exports with the same contracts).

    det_model, pose_model: file paths. providers: onnxruntime execution providers (None = CUDA if offered, else
    CPU). detect_every: 1 = detector on every frame; N > 1 = tracking mode. pose_batch: most crops per pose
    session.run when the batch axis is dynamic (also used for the detector if its batch axis is dynamic).
    Sessions are created on the first ``detect`` and cached module-wide (models.pose.onnx_runtime).
    """

    name = "dwpose"

    def __init__(self, det_model: str, pose_model: str, providers: Sequence[str] | None = None,
                 detect_every: int = 1, pose_batch: int = 16, whole_image_fallback: bool = False,
                 track_threshold: float = CONFIDENCE_GATE) -> None:
        if int(detect_every) < 1:
            raise ValueError(f"detect_every must be at least 1 (1 = detect on every frame), got {detect_every}")
        if int(pose_batch) < 1:
            raise ValueError(f"pose_batch must be at least 1, got {pose_batch}")
        self.det_model, self.pose_model = str(det_model), str(pose_model)
        self.providers = tuple(providers) if providers is not None else None
        self.detect_every = int(detect_every)
        self.pose_batch = int(pose_batch)
        self.whole_image_fallback = bool(whole_image_fallback)
        self.track_threshold = float(track_threshold)
        self.detector_runs = 0  # frames the detector ran on (tracking skips it)
        self.pose_runs = 0  # pose session.run calls
        self._det: dict[str, Any] | None = None
        self._pose: dict[str, Any] | None = None
        self._frame_index = 0
        self._previous: np.ndarray | None = None

    # ---- sessions and contracts -------------------------------------------------------------------------------
    def _load(self) -> None:
        if self._det is None:
            self._det = _detector_contract(get_session(self.det_model, self.providers), self.det_model)
        if self._pose is None:
            self._pose = _pose_contract(get_session(self.pose_model, self.providers), self.pose_model)

    @property
    def pose_input_size(self) -> tuple[int, int]:
        """(W, H) of the pose model input, read from the model."""
        self._load()
        assert self._pose is not None
        return self._pose["size"]

    @property
    def pose_batch_is_dynamic(self) -> bool:
        self._load()
        assert self._pose is not None
        return self._pose["batch"] is None

    # ---- public API -------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget tracking state; call at the start of every clip."""
        self._frame_index = 0
        self._previous = None

    def close(self) -> None:
        """Drop this backend's references (the shared session cache keeps the sessions for the next run)."""
        self._det = None
        self._pose = None
        self.reset()

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        """frames uint8 [B, H, W, 3] RGB (grey/RGBA/float converted) -> B arrays float32 [P_i, 133, 3] in pixels."""
        images = to_rgb_uint8(frames, "frames")
        if len(images) == 0:
            return []
        self._load()
        if self.detect_every == 1:
            return self.keypoints_from_boxes(images, self.detect_boxes(images))
        results = []
        for image in images:
            boxes: np.ndarray | None = None
            if self._frame_index % self.detect_every != 0 and self._previous is not None:
                tracked = simcc.boxes_from_keypoints(self._previous, threshold=self.track_threshold)
                boxes = tracked if len(tracked) else None  # tracking lost: detect again on this frame
            if boxes is None:
                boxes = self.detect_boxes(image[None])[0][:, :4]
            kps = self.keypoints_from_boxes(image[None], [boxes])[0]
            self._previous = kps
            self._frame_index += 1
            results.append(kps)
        return results

    def detect_boxes(self, images: np.ndarray) -> list[np.ndarray]:
        """Person boxes per frame: list of float32 [P_i, 5] (x1, y1, x2, y2 pixels, score), best first."""
        self._load()
        det = self._det
        assert det is not None
        size = det["size"]
        # Letterbox only one detector batch at a time: a 640x640 float input is 4.9 MB per frame.
        step = det["batch"] or self.pose_batch
        boxes = []
        for start in range(0, len(images), step):
            group = images[start : start + step]
            inputs = np.empty((len(group), 3, size[0], size[1]), np.float32)
            ratios = []
            for slot, image in enumerate(group):
                inputs[slot], ratio = yolox.letterbox(image, size)
                ratios.append(ratio)
            outputs = _run_batched(det["session"], det["input"], inputs, det["batch"], step)
            self.detector_runs += len(group)
            for out, ratio in zip(outputs, ratios, strict=True):
                boxes.append(yolox.decode_persons(_check_det_output(out[0], self.det_model), ratio, size))
        return boxes

    def keypoints_from_boxes(self, images: np.ndarray, boxes: list[np.ndarray]) -> list[np.ndarray]:
        """Keypoints for given boxes: images uint8 [B, H, W, 3], boxes per frame float [P_i, >=4] xyxy pixels.

        All crops of all frames go through the pose model in batches. Returns B arrays float32 [P_i, 133, 3].
        """
        self._load()
        pose = self._pose
        assert pose is not None
        size = pose["size"]
        jobs: list[tuple[int, np.ndarray, np.ndarray]] = []
        counts = []
        for index, (image, frame_boxes) in enumerate(zip(images, boxes, strict=True)):
            frame_boxes = np.asarray(frame_boxes, np.float32)
            frame_boxes = frame_boxes.reshape(-1, frame_boxes.shape[-1]) if frame_boxes.size else np.zeros((0, 4))
            if len(frame_boxes) == 0 and self.whole_image_fallback:
                frame_boxes = np.array([[0, 0, image.shape[1], image.shape[0]]], np.float32)
            centers, scales = simcc.box_to_center_scale(frame_boxes, size)
            counts.append(len(frame_boxes))
            jobs.extend((index, c, s) for c, s in zip(centers, scales, strict=True))
        points = np.zeros((len(jobs), NUM_KEYPOINTS, 3), np.float32)
        chunk = pose["batch"] or self.pose_batch
        for start in range(0, len(jobs), chunk):
            part = jobs[start : start + chunk]
            crops = np.empty((len(part), 3, size[1], size[0]), np.float32)
            for slot, (i, c, s) in enumerate(part):
                simcc.crop(images[i], c, s, size, out=crops[slot])
            out = _run_batched(pose["session"], pose["input"], crops, pose["batch"], chunk)
            self.pose_runs += 1
            simcc_x = np.stack([o[0] for o in out])
            simcc_y = np.stack([o[1] for o in out])
            _check_pose_output(simcc_x, simcc_y, self.pose_model)
            decoded = simcc.decode(simcc_x, simcc_y, size)
            centers = np.stack([c for _, c, _ in part])
            scales = np.stack([s for _, _, s in part])
            points[start : start + len(part)] = simcc.crop_to_image(decoded, centers, scales, size)
        return list(np.split(points, np.cumsum(counts)[:-1])) if counts else []


def _run_batched(session: Any, input_name: str, items: np.ndarray, fixed_batch: int | None,
                 max_batch: int) -> list[list[np.ndarray]]:
    """Run ``items`` float32 [N, C, H, W] through a session; returns, per item, its slice of every output.

    fixed_batch: the model's static batch size (inputs zero-padded up to it), or None for a dynamic batch axis
    (chunks of ``max_batch``).
    """
    step = fixed_batch or max_batch
    results: list[list[np.ndarray]] = []
    for start in range(0, len(items), step):
        part = items[start : start + step]
        batch = np.ascontiguousarray(part, dtype=np.float32)
        if fixed_batch is not None and len(part) < fixed_batch:
            pad = np.zeros((fixed_batch - len(part),) + batch.shape[1:], np.float32)
            batch = np.concatenate([batch, pad])
        outputs = session.run(None, {input_name: batch})
        results.extend([o[i] for o in outputs] for i in range(len(part)))
    return results


def _input_shape(session: Any, path: str, role: str) -> tuple[str, list[Any]]:
    inputs = session.get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or static_dim(inputs[0].shape[1]) not in (3, None):
        shapes = [tuple(i.shape) for i in inputs]
        raise ValueError(
            f"{role} model {describe_file(path)} has inputs {shapes}; expected one image input "
            "[batch, 3, height, width]. Use the DWPose ONNX files (yolox_l.onnx, dw-ll_ucoco_384.onnx)."
        )
    return inputs[0].name, list(inputs[0].shape)


def _detector_contract(session: Any, path: str) -> dict[str, Any]:
    name, shape = _input_shape(session, path, "detector")
    outputs = session.get_outputs()
    if len(outputs) != 1 or len(outputs[0].shape) != 3:
        raise ValueError(
            f"detector model {describe_file(path)} has {len(outputs)} outputs "
            f"{[tuple(o.shape) for o in outputs]}; a YOLOX detector has one output [1, anchors, 85]. "
            "Did you swap the detector and the pose model?"
        )
    size = (static_dim(shape[2]) or DEFAULT_DET_SIZE[0], static_dim(shape[3]) or DEFAULT_DET_SIZE[1])
    out_shape = outputs[0].shape
    anchors = yolox.anchor_grid(size)[0].shape[0]
    last = static_dim(out_shape[2])
    if (static_dim(out_shape[1]) not in (anchors, None)) or (last is not None and last < 6):
        raise ValueError(
            f"detector model {describe_file(path)} outputs {tuple(out_shape)}; expected [1, {anchors}, 85] "
            "(raw YOLOX head without built-in NMS)."
        )
    return {"session": session, "input": name, "size": size, "batch": static_dim(shape[0])}


def _pose_contract(session: Any, path: str) -> dict[str, Any]:
    name, shape = _input_shape(session, path, "pose")
    height, width = static_dim(shape[2]), static_dim(shape[3])
    outputs = session.get_outputs()
    if height is None or width is None or len(outputs) != 2 or any(len(o.shape) != 3 for o in outputs):
        raise ValueError(
            f"pose model {describe_file(path)} has input {tuple(shape)} and outputs "
            f"{[tuple(o.shape) for o in outputs]}; expected input [N, 3, H, W] with fixed H, W and two SimCC "
            f"outputs [N, {NUM_KEYPOINTS}, 2W], [N, {NUM_KEYPOINTS}, 2H]. Did you swap the detector and the pose model?"
        )
    for out in outputs:
        if static_dim(out.shape[1]) not in (NUM_KEYPOINTS, None):
            raise ValueError(
                f"pose model {describe_file(path)} predicts {out.shape[1]} keypoints; Embody needs the "
                f"{NUM_KEYPOINTS}-point COCO-WholeBody model (dw-ll_ucoco_384.onnx)."
            )
    logger.debug("pose model %s: input %dx%d, batch %s", path, width, height, shape[0])
    return {"session": session, "input": name, "size": (width, height), "batch": static_dim(shape[0])}


def _check_det_output(out: np.ndarray, path: str) -> np.ndarray:
    if out.ndim != 2 or out.shape[1] < 6:
        raise ValueError(f"detector model {describe_file(path)} returned shape {out.shape}; expected [anchors, 85]")
    return out


def _check_pose_output(simcc_x: np.ndarray, simcc_y: np.ndarray, path: str) -> None:
    if simcc_x.ndim != 3 or simcc_y.ndim != 3 or simcc_x.shape[1] != NUM_KEYPOINTS or simcc_y.shape[1] != NUM_KEYPOINTS:
        raise ValueError(
            f"pose model {describe_file(path)} returned {simcc_x.shape} and {simcc_y.shape}; expected SimCC "
            f"outputs [N, {NUM_KEYPOINTS}, 2W] and [N, {NUM_KEYPOINTS}, 2H]"
        )
