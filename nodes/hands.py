"""Hand nodes: CyberHost's hand clarity score."""

from __future__ import annotations

import json
import logging
import math

import comfy.model_management
import comfy.utils
import numpy as np
import torch

from ..models.hands.clarity import AGGREGATIONS, frame_scores, hand_clarity, passes_threshold, with_clarity
from ..models.hands.plot import plot_clarity
from ..models.pose.backend import to_rgb_uint8
from ._api import CATEGORY, EmbodyPose, io

logger = logging.getLogger(__name__)

class EmbodyHandClarity(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyHandClarity",
            display_name="Embody Hand Clarity",
            category=f"{CATEGORY}/hands",
            description="Scores how sharp each hand is in every frame (CyberHost's hand clarity: the spread of the "
            "Laplacian of a hand crop resized to a fixed size; motion blur lowers it). Gives the pose with the "
            "scores attached, a plot, and a mask that is white on frames that pass the threshold, so you can keep "
            "only clips with crisp hands.",
            inputs=[
                io.Image.Input("image", tooltip="The frames the pose was extracted from (same number of frames)."),
                EmbodyPose.Input("pose", tooltip="Whole-body pose of the same frames (from Embody Pose Extract)."),
                io.Int.Input("crop_side", default=64, min=16, max=512, step=8,
                             tooltip="Every hand box is resized to this many pixels before scoring, so near and "
                             "far hands are comparable. Keep it the same when comparing scores."),
                io.Float.Input("threshold", default=8.0, min=0.0, max=255.0, step=0.1,
                               tooltip="Frames whose score is at least this pass (white in the mask). Sharp hands "
                               "score about 20-45 at crop_side 64; strong motion blur drops below 8."),
                io.Combo.Input("aggregation", options=list(AGGREGATIONS), default="max",
                               tooltip="How the visible hands of a frame make one score: the sharpest (max), the "
                               "average (mean) or the blurriest (min)."),
                io.Boolean.Input("keep_frames_without_hands", default=True,
                                 tooltip="Whether frames where no hand is visible pass the threshold."),
            ],
            outputs=[
                EmbodyPose.Output(display_name="pose", tooltip="The input pose with hand clarity attached "
                                  "(per frame, person and hand; empty where no hand)."),
                io.Image.Output(display_name="plot", tooltip="Score per frame: white = frame score, orange = "
                                "left hand, cyan = right hand, red dashes = threshold, grey = no hand."),
                io.Mask.Output(display_name="frame_mask", tooltip="One mask per frame, all 1 where the frame "
                               "passes the threshold and all 0 where it does not (image size)."),
                io.String.Output(display_name="summary", tooltip="Scores and pass/fail counts as text."),
                io.String.Output(display_name="scores", tooltip="Per-frame scores as JSON: 'frames' (the "
                                 "aggregated score, null = no hand), 'left'/'right' (first person's hands) and "
                                 "'passed' (threshold result), for saving or filtering outside ComfyUI."),
            ],
        )

    @classmethod
    def execute(cls, image, pose, crop_side, threshold, aggregation, keep_frames_without_hands) -> io.NodeOutput:
        frames = to_rgb_uint8(image.detach().cpu().numpy(), "image")
        if frames.shape[0] != pose.num_frames:
            raise ValueError(
                f"Embody Hand Clarity: the image input has {frames.shape[0]} frames but the pose has "
                f"{pose.num_frames}; connect the same frames that the pose was extracted from"
            )
        height, width = frames.shape[1:3]
        if abs(width / height - pose.width / pose.height) > 0.01 * (pose.width / pose.height):
            logger.warning("Embody Hand Clarity: image aspect %dx%d differs from the pose canvas %dx%d; "
                           "hand boxes are stretched onto the image", width, height, pose.width, pose.height)
        pbar = comfy.utils.ProgressBar(max(1, pose.num_frames))

        def progress(done: int, _total: int) -> None:
            comfy.model_management.throw_exception_if_processing_interrupted()
            pbar.update_absolute(done)

        scores = hand_clarity(frames, pose, crop_side=crop_side, progress=progress)
        per_frame = frame_scores(scores, aggregation)
        passed = passes_threshold(per_frame, threshold, keep_frames_without_hands)
        per_hand = scores[:, 0, :] if pose.num_people else None
        plot = plot_clarity(per_frame, per_hand, threshold, size=(768, 256))
        mask = torch.from_numpy(np.ascontiguousarray(
            np.broadcast_to(passed[:, None, None], (len(passed), height, width)).astype(np.float32)))
        visible = per_frame[~np.isnan(per_frame)]
        summary = (
            f"hand clarity ({aggregation} over visible hands, crop {crop_side} px): {len(per_frame)} frames, "
            f"{len(visible)} with hands, {int(passed.sum())} pass threshold {threshold:g}"
        )
        if len(visible):
            summary += f"; score min {visible.min():.2f}, median {np.median(visible):.2f}, max {visible.max():.2f}"
        def as_list(values: np.ndarray) -> list[float | None]:
            return [None if math.isnan(v) else round(float(v), 3) for v in values]

        ui_scores = as_list(per_frame)
        table = {"frames": ui_scores, "passed": [bool(p) for p in passed], "threshold": float(threshold),
                 "aggregation": aggregation}
        if per_hand is not None:
            table.update(left=as_list(per_hand[:, 0]), right=as_list(per_hand[:, 1]))
        return io.NodeOutput(
            with_clarity(pose, scores),
            torch.from_numpy(plot).float().div_(255.0)[None],
            mask,
            summary,
            json.dumps(table),
            ui={"embody_clarity": ui_scores, "embody_clarity_threshold": [float(threshold)]},
        )


NODES = [EmbodyHandClarity]
