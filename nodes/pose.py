"""Pose extraction node: IMAGE -> EMBODY_POSE + confidence-aware pose image + confidence mask."""

from __future__ import annotations

import dataclasses
import logging

import comfy.model_management
import comfy.utils
import torch

from ..models.pose.backend import to_rgb_uint8
from ..models.pose.dwpose import DWPoseBackend
from ..models.pose.extract import extract_poses
from ..models.pose.render import confidence_mask, render_pose
from ..models.pose.select import PERSON_MODES
from ..models.pose.types import check_canvas_size
from ._api import CATEGORY, EmbodyPose, io
from .paths import list_files, resolve

logger = logging.getLogger(__name__)

BACKENDS = ("dwpose", "mediapipe")
RENDER_STYLES = ("mimicmotion", "controlnet")
DEFAULT_DETECTOR = "yolox_l.onnx"
DEFAULT_POSE_MODEL = "dw-ll_ucoco_384.onnx"


def _combo_default(options: list[str], preferred: str) -> str | None:
    return preferred if preferred in options else (options[0] if options else None)


def _mediapipe_backend():
    """MediaPipe (optional): mediapipe is imported on the first detect, which says how to enable it if missing."""
    from ..models.pose.mediapipe_backend import MediaPipeBackend

    return MediaPipeBackend(static_image_mode=True)


class EmbodyPoseExtract(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        onnx_files = list_files("dwpose")
        return io.Schema(
            node_id="EmbodyPoseExtract",
            display_name="Embody Pose Extract",
            category=f"{CATEGORY}/pose",
            description="Finds the whole body (body, feet, hands, face: 133 points) of people in every frame and "
            "draws a confidence-aware pose image (brighter = more certain) ready for MimicMotion or ControlNet, plus "
            "a mask of how confident each drawn pixel is. Frames without a person give an empty pose and a black "
            "image.",
            inputs=[
                io.Image.Input("image", tooltip="Frames to analyse (a single image or a video batch)."),
                io.Combo.Input("backend", options=list(BACKENDS), default="dwpose",
                               tooltip="dwpose: the DWPose ONNX models (GPU with onnxruntime-gpu, best quality). "
                               "mediapipe: optional, single person, needs the mediapipe package."),
                io.Combo.Input("detector", options=onnx_files, default=_combo_default(onnx_files, DEFAULT_DETECTOR),
                               tooltip="DWPose person detector in models/dwpose (yolox_l.onnx)."),
                io.Combo.Input("pose_model", options=onnx_files,
                               default=_combo_default(onnx_files, DEFAULT_POSE_MODEL),
                               tooltip="DWPose whole-body keypoint model in models/dwpose (dw-ll_ucoco_384.onnx)."),
                io.Combo.Input("person", options=list(PERSON_MODES), default="largest",
                               tooltip="Who to keep in each frame: the largest, the most central, one person "
                               "tracked across frames (a passer-by does not take over), or everyone."),
                io.Int.Input("max_people", default=1, min=1, max=16,
                             tooltip="How many people to keep per frame (ignored by 'all')."),
                io.Int.Input("detect_every", default=1, min=1, max=64,
                             tooltip="DWPose only: run the (slow) person detector every N frames and follow people "
                             "from their previous pose in between. 1 = detect on every frame; 4-8 is much faster "
                             "on videos with steady framing."),
                io.Float.Input("fps", default=25.0, min=1.0, max=240.0, step=0.01,
                               tooltip="Frame rate of the frames, stored with the pose for later audio/video steps."),
                io.Combo.Input("style", options=list(RENDER_STYLES), default="mimicmotion",
                               tooltip="mimicmotion: the official confidence-aware drawing MimicMotion's PoseNet "
                               "expects. controlnet: the comfyui_controlnet_aux OpenPose look."),
                io.Boolean.Input("include_body", default=True, tooltip="Draw body and feet in the image and mask."),
                io.Boolean.Input("include_hands", default=True, tooltip="Draw hands in the image and mask."),
                io.Boolean.Input("include_face", default=True, tooltip="Draw the face in the image and mask."),
            ],
            outputs=[
                EmbodyPose.Output(display_name="pose",
                                  tooltip="All 133 keypoints per person and frame (the include switches only affect "
                                  "drawing)."),
                io.Image.Output(display_name="pose_image", tooltip="The drawn pose, same size as the input."),
                io.Mask.Output(display_name="confidence", tooltip="Per-pixel confidence (0..1) of the drawn pose."),
            ],
        )

    @classmethod
    def execute(cls, image, backend, detector, pose_model, person, max_people, detect_every, fps, style,
                include_body, include_hands, include_face) -> io.NodeOutput:
        # Refused before any work: the pose image and mask are drawn at the input's size.
        check_canvas_size(int(image.shape[-2]), int(image.shape[-3]), "image")
        frames = to_rgb_uint8(image.detach().cpu().numpy(), "image")
        total = int(frames.shape[0])
        pbar = comfy.utils.ProgressBar(max(1, 2 * total))

        def extract_progress(done: int, _total: int) -> None:
            comfy.model_management.throw_exception_if_processing_interrupted()
            pbar.update_absolute(done)

        def render_progress(done: int, _total: int) -> None:
            comfy.model_management.throw_exception_if_processing_interrupted()
            pbar.update_absolute(total + done)

        if backend == "dwpose":
            pose_backend = DWPoseBackend(resolve("dwpose", detector), resolve("dwpose", pose_model),
                                         detect_every=detect_every)
            models = {"detector": detector, "pose_model": pose_model, "detect_every": int(detect_every)}
        elif backend == "mediapipe":
            pose_backend = _mediapipe_backend()
            models = {}
        else:
            raise ValueError(f"unknown pose backend {backend!r}; choose one of {BACKENDS}")
        try:
            pose = extract_poses(frames, pose_backend, fps=fps, person=person, max_people=max_people,
                                 progress=extract_progress)
        finally:
            pose_backend.close()
        pose = dataclasses.replace(pose, meta={**pose.meta, **models})
        flags = {"draw_body": include_body, "draw_hands": include_hands, "draw_face": include_face}
        drawn = render_pose(pose, style=style, progress=render_progress, **flags)
        mask = confidence_mask(pose, **flags)
        pbar.update_absolute(max(1, 2 * total))
        pose_image = torch.from_numpy(drawn).float().div_(255.0)
        return io.NodeOutput(pose, pose_image, torch.from_numpy(mask))


NODES = [EmbodyPoseExtract]
