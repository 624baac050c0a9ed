"""Wan2.2-Animate inputs from an Embody pose (thin glue over models/pose/wananimate_inputs.py)."""

from __future__ import annotations

import logging

import comfy.model_management
import comfy.utils
import torch

from ..models.pose.types import MAX_CANVAS_SIDE
from ..models.pose.wananimate_inputs import FACE_SIZE, wan_animate_inputs
from ._api import CATEGORY, EmbodyPose, io

logger = logging.getLogger(__name__)


class EmbodyWanAnimateInputs(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyWanAnimateInputs",
            display_name="Embody Wan-Animate Inputs",
            category=f"{CATEGORY}/pose",
            description="Turns an Embody pose (after Pose Align retargeting and Pose Smooth, so a tall dancer drives "
            "a short character cleanly) into what core WanAnimateToVideo takes: the pose video in the drawing "
            "style of Wan-Animate's preprocessing (pixel-identical to kijai's WanAnimatePreprocess on the same "
            "points), 512x512 face crops framed as it frames them but steady across frames, and a person mask.",
            inputs=[
                EmbodyPose.Input("pose", tooltip="Pose sequence (Embody Pose Extract / Align / Smooth, or Embody "
                                 "audio motion)."),
                io.Int.Input("width", default=832, min=16, max=MAX_CANVAS_SIDE, step=16,
                             tooltip="Video width: the same as WanAnimateToVideo's width. The pose canvas is "
                             "centre-cropped to this aspect."),
                io.Int.Input("height", default=480, min=16, max=MAX_CANVAS_SIDE, step=16,
                             tooltip="Video height: the same as WanAnimateToVideo's height."),
                io.Image.Input("frames", optional=True, tooltip="The images the pose belongs to (driving video, or "
                               "Embody Pose Warp's frames for speech-driven poses); the face crops are cut from "
                               "them. Without them face_video is mid-grey (Wan-Animate then gets no expression)."),
                io.Int.Input("person", default=0, min=0, max=63, tooltip="Which person of the pose to use (0 = the "
                             "first kept by Pose Extract)."),
                io.Float.Input("face_scale", default=1.3, min=1.0, max=4.0, step=0.05, tooltip="Face box area "
                               "relative to the face points' box (1.3 = Wan-Animate's preprocessing)."),
                io.Int.Input("face_smooth", default=5, min=1, max=61, tooltip="Frames averaged to steady the face "
                             "box (1 = a new box every frame, as the preprocessors do)."),
                io.Float.Input("mask_margin", default=0.08, min=0.0, max=0.5, step=0.01, tooltip="Limb width of the "
                               "person mask as a fraction of the body's height."),
                io.Boolean.Input("draw_hands", default=True, tooltip="Draw the hands in the pose video."),
                io.Boolean.Input("draw_head", default=True, tooltip="Draw nose, eyes and ears in the pose video."),
            ],
            outputs=[
                io.Image.Output(display_name="pose_video", tooltip="To WanAnimateToVideo pose_video."),
                io.Image.Output(display_name="face_video", tooltip="512x512 face crops; to WanAnimateToVideo "
                                "face_video."),
                io.Mask.Output(display_name="character_mask", tooltip="Person mask; to WanAnimateToVideo "
                               "character_mask (for replacing a person in the background video)."),
            ],
        )

    @classmethod
    def execute(cls, pose, width: int, height: int, person: int, face_scale: float, face_smooth: int,
                mask_margin: float, draw_hands: bool, draw_head: bool, frames: torch.Tensor | None = None
                ) -> io.NodeOutput:
        """pose_video IMAGE [F, height, width, 3]; face_video IMAGE [F, 512, 512, 3]; character_mask MASK [F, H, W]."""
        if pose.num_frames == 0:
            raise ValueError("pose is empty: connect a pose with at least one frame.")
        pbar = comfy.utils.ProgressBar(pose.num_frames)

        def progress(done: int, total: int) -> None:
            comfy.model_management.throw_exception_if_processing_interrupted()
            pbar.update_absolute(done, total)

        frames_np = None if frames is None else frames[..., :3].float().cpu().numpy()
        poses, faces, masks = wan_animate_inputs(
            pose.keypoints, pose.canvas, width, height, frames_np, person, face_scale, face_smooth, mask_margin,
            draw_hands, draw_head, progress)
        if faces is None:
            logger.warning("Embody Wan-Animate Inputs: no frames connected, face_video is mid-grey.")
            face_video = torch.full((pose.num_frames, FACE_SIZE, FACE_SIZE, 3), 0.5)
        else:
            face_video = torch.from_numpy(faces).clamp(0, 1)
        return io.NodeOutput(torch.from_numpy(poses).float() / 255.0, face_video, torch.from_numpy(masks))


NODES = [EmbodyWanAnimateInputs]
