"""Hand and body nodes: CyberHost's hand clarity score and body movement map."""

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
from ..models.pose.body_movement import fixed_box, movement_box, movement_map
from ._api import CATEGORY, EmbodyPose, io

logger = logging.getLogger(__name__)

BOX_MODES = ("motion range", "fixed size at chest")


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
            ui={"embody_clarity": ui_scores, "embody_clarity_threshold": [float(threshold)],
                "embody_clarity_passed": [bool(p) for p in passed]},
        )


class EmbodyBodyMovementMap(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyBodyMovementMap",
            display_name="Embody Body Movement Map",
            category=f"{CATEGORY}/pose",
            description="CyberHost's body movement map: a rectangle that bounds how far the chest moves. From a "
            "clip it takes the range of chest motion and enlarges it (CyberHost: by 100-150%); or, for generation, "
            "a fixed-size box around the chest of one frame. Outputs the box as a mask/image for every frame and "
            "as normalised coordinates.",
            inputs=[
                EmbodyPose.Input("pose", tooltip="The pose sequence (the chest is the midpoint of the shoulders)."),
                io.Combo.Input("mode", options=list(BOX_MODES), default="motion range",
                               tooltip="motion range: box around where the chest went in this clip (training "
                               "data, or a driving video). fixed size at chest: a box of the size below centred "
                               "on the chest in the first frame (sets how far a generated body may move)."),
                io.Float.Input("enlarge", default=1.25, min=0.0, max=3.0, step=0.05,
                               tooltip="motion range: fraction added to the box sides (1.0 doubles it; CyberHost "
                               "uses 1.0-1.5) so the motion never touches the border."),
                io.Float.Input("fixed_width", default=0.3, min=0.01, max=1.0, step=0.01,
                               tooltip="fixed size: box width as a fraction of the image width."),
                io.Float.Input("fixed_height", default=0.2, min=0.01, max=1.0, step=0.01,
                               tooltip="fixed size: box height as a fraction of the image height."),
                io.Int.Input("person", default=0, min=0, max=15, tooltip="Which person slot of the pose to use."),
                io.Int.Input("width", default=0, min=0, max=8192, step=8,
                             tooltip="Map width in pixels; 0 = the pose's canvas width."),
                io.Int.Input("height", default=0, min=0, max=8192, step=8,
                             tooltip="Map height in pixels; 0 = the pose's canvas height."),
            ],
            outputs=[
                io.Mask.Output(display_name="mask", tooltip="1 inside the box, 0 outside; one per pose frame."),
                io.Image.Output(display_name="image", tooltip="The same map as a white-on-black image."),
                io.String.Output(display_name="box", tooltip='JSON {"x0","y0","x1","y1"} normalised 0..1.'),
            ],
        )

    @classmethod
    def execute(cls, pose, mode, enlarge, fixed_width, fixed_height, person, width, height) -> io.NodeOutput:
        if pose.num_frames == 0:
            raise ValueError("Embody Body Movement Map: the pose has no frames; connect a non-empty pose")
        if mode == "motion range":
            box = movement_box(pose, enlarge=enlarge, person=person)
        elif mode == "fixed size at chest":
            box = fixed_box(pose, fixed_width, fixed_height, frame=0, person=person)
        else:
            raise ValueError(f"Embody Body Movement Map: unknown mode {mode!r}; choose one of {BOX_MODES}")
        size = (width or pose.width, height or pose.height)
        m = torch.from_numpy(movement_map(pose, box, size))
        text = json.dumps({k: round(float(v), 6) for k, v in zip(("x0", "y0", "x1", "y1"), box, strict=True)})
        return io.NodeOutput(m, m[..., None].repeat(1, 1, 1, 3), text)


NODES = [EmbodyHandClarity, EmbodyBodyMovementMap]
