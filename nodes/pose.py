"""Pose extraction node: IMAGE -> EMBODY_POSE + confidence-aware pose image + confidence mask."""

from __future__ import annotations

import dataclasses
import logging

import comfy.model_management
import comfy.utils
import torch

from ..models.pose.backend import DWPOSE_DETECTOR, DWPOSE_POSE_MODEL, PoseModel, to_rgb_uint8
from ..models.pose.extract import extract_poses
from ..models.pose.mediapipe_backend import ENABLE_HINT, mediapipe_problem
from ..models.pose.render import confidence_mask, render_pose
from ..models.pose.select import PERSON_MODES
from ..models.pose.types import check_canvas_size
from ..models.video.progress_text import frames_text
from ._api import CATEGORY, EmbodyPose, EmbodyPoseModel, io, pose_ui, progress_text
from .paths import WHERE_TO_GET, list_files, resolve

logger = logging.getLogger(__name__)

RENDER_STYLES = ("mimicmotion", "controlnet")


def _combo_default(options: list[str], preferred: str) -> str:
    return preferred if preferred in options or not options else options[0]


def _missing_dwpose(role: str, name: str, default: str) -> str | None:
    """None when the chosen DWPose file exists, else the pack's message: file, folder, where to get it."""
    if name and name in list_files("dwpose"):
        return None
    try:
        resolve("dwpose", name or default)
    except FileNotFoundError as exc:
        return f"{role}: {exc}"
    return None


class EmbodyDWPoseLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        onnx_files = list_files("dwpose")
        return io.Schema(
            node_id="EmbodyDWPoseLoader",
            display_name="Embody DWPose Loader",
            category=f"{CATEGORY}/pose",
            description="Chooses the DWPose ONNX models (whole body, many people, best quality; GPU with "
            f"onnxruntime-gpu) for Pose Extract. Put {WHERE_TO_GET['dwpose']} into models/dwpose.",
            inputs=[
                io.Combo.Input("detector", options=onnx_files, default=_combo_default(onnx_files, DWPOSE_DETECTOR),
                               tooltip=f"DWPose person detector in models/dwpose ({DWPOSE_DETECTOR})."),
                io.Combo.Input("pose_model", options=onnx_files,
                               default=_combo_default(onnx_files, DWPOSE_POSE_MODEL),
                               tooltip=f"DWPose whole-body keypoint model in models/dwpose ({DWPOSE_POSE_MODEL})."),
            ],
            outputs=[EmbodyPoseModel.Output(display_name="pose_model",
                                            tooltip="The DWPose models, for Pose Extract or Train Motion Model.")],
        )

    @classmethod
    def validate_inputs(cls, detector: str, pose_model: str) -> bool | str:
        # Replaces ComfyUI's "Value not in list" (an empty list when models/dwpose is empty) by the pack's message.
        for role, name, default in (("detector", detector, DWPOSE_DETECTOR),
                                    ("pose_model", pose_model, DWPOSE_POSE_MODEL)):
            problem = _missing_dwpose(role, name, default)
            if problem:
                return problem
        return True

    @classmethod
    def execute(cls, detector: str, pose_model: str) -> io.NodeOutput:
        return io.NodeOutput(PoseModel("dwpose", resolve("dwpose", detector), resolve("dwpose", pose_model)))


class EmbodyMediaPipeLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyMediaPipeLoader",
            display_name="Embody MediaPipe Loader",
            category=f"{CATEGORY}/pose",
            description="Chooses the optional MediaPipe backend for Pose Extract: one person, no model files "
            "(mediapipe 0.10.14 bundles its models), but it needs protobuf 4, which many ComfyUI environments have "
            "outgrown (onnx 1.23+ needs protobuf 6). Otherwise use the DWPose Loader.",
            inputs=[
                io.Float.Input("min_detection_confidence", default=0.5, min=0.0, max=1.0, step=0.05,
                               tooltip="MediaPipe's detection threshold for the pose, face and hands (0..1)."),
            ],
            outputs=[EmbodyPoseModel.Output(display_name="pose_model",
                                            tooltip="The MediaPipe backend, for Pose Extract or Train Motion Model.")],
        )

    @classmethod
    def execute(cls, min_detection_confidence: float) -> io.NodeOutput:
        problem = mediapipe_problem()
        if problem:
            raise RuntimeError(f"{problem}. {ENABLE_HINT}")
        return io.NodeOutput(PoseModel("mediapipe", min_detection_confidence=float(min_detection_confidence)))


class EmbodyPoseExtract(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
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
                EmbodyPoseModel.Input("pose_model", tooltip="Which pose detector to run: connect an Embody DWPose "
                                      "Loader (best quality) or an Embody MediaPipe Loader (optional package)."),
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
            hidden=[io.Hidden.unique_id],
            outputs=[
                EmbodyPose.Output(display_name="pose",
                                  tooltip="All 133 keypoints per person and frame (the include switches only affect "
                                  "drawing)."),
                io.Image.Output(display_name="pose_image", tooltip="The drawn pose, same size as the input."),
                io.Mask.Output(display_name="confidence", tooltip="Per-pixel confidence (0..1) of the drawn pose."),
            ],
        )

    @classmethod
    def execute(cls, image, pose_model: PoseModel, person, max_people, detect_every, fps, style,
                include_body, include_hands, include_face) -> io.NodeOutput:
        # Refused before any work: the pose image and mask are drawn at the input's size.
        check_canvas_size(int(image.shape[-2]), int(image.shape[-3]), "image")
        frames = to_rgb_uint8(image.detach().cpu().numpy(), "image")
        total = int(frames.shape[0])
        pbar = comfy.utils.ProgressBar(max(1, 2 * total))

        node_id = cls.hidden.unique_id

        def extract_progress(done: int, _total: int) -> None:
            comfy.model_management.throw_exception_if_processing_interrupted()
            pbar.update_absolute(done)
            progress_text(node_id, frames_text("finding poses:", done, total), final=done >= total)

        def render_progress(done: int, _total: int) -> None:
            comfy.model_management.throw_exception_if_processing_interrupted()
            pbar.update_absolute(total + done)

        if not isinstance(pose_model, PoseModel):
            raise ValueError("pose_model must come from an Embody DWPose Loader or Embody MediaPipe Loader node")
        pose_backend = pose_model.create(detect_every=detect_every)
        models = {**pose_model.describe(), "detect_every": int(detect_every)}
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
        return io.NodeOutput(pose, pose_image, torch.from_numpy(mask), ui=pose_ui(pose))


NODES = [EmbodyDWPoseLoader, EmbodyMediaPipeLoader, EmbodyPoseExtract]
