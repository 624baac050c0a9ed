"""Pose tools: render, align, smooth, POSE_KEYPOINT interop and the body movement map (thin glue over models/pose)."""

from __future__ import annotations

import json
import logging

import comfy.model_management
import comfy.utils
import torch

from ..models.pose.align import FALLBACKS, MODES, align_poses
from ..models.pose.body_movement import fixed_box, movement_box, movement_map
from ..models.pose.keypoint_json import keypoints_to_pose, pose_to_keypoints
from ..models.pose.layout import CONFIDENCE_GATE
from ..models.pose.render import STYLES, confidence_mask, render_pose
from ..models.pose.smooth import one_euro_smooth
from ..models.pose.types import MAX_CANVAS_SIDE
from ._api import CATEGORY, EmbodyPose, PoseKeypoint, io

logger = logging.getLogger(__name__)

BOX_MODES = ("motion range", "fixed size at chest")


class EmbodyPoseRender(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyPoseRender",
            display_name="Embody Pose Render",
            category=f"{CATEGORY}/pose",
            description="Draws a pose sequence as images. 'mimicmotion' reproduces MimicMotion's official "
            "confidence-aware drawing pixel for pixel (brightness = detector confidence; what its PoseNet was trained "
            "on). 'controlnet' is the familiar OpenPose ControlNet look; 'controlnet_xinsir' uses thicker sticks for "
            "xinsir's SDXL OpenPose ControlNet. Also outputs a mask of how confident each drawn pixel is.",
            inputs=[
                EmbodyPose.Input("pose", tooltip="The pose sequence to draw."),
                io.Combo.Input("style", options=list(STYLES), default="mimicmotion",
                               tooltip="mimicmotion: for MimicMotion video (exact official drawing). controlnet: "
                               "for OpenPose ControlNets (points below 0.3 confidence dropped, full colours)."),
                io.Int.Input("width", default=0, min=0, max=MAX_CANVAS_SIDE, step=8,
                             tooltip="Output width in pixels; 0 = the pose's own canvas."),
                io.Int.Input("height", default=0, min=0, max=MAX_CANVAS_SIDE, step=8,
                             tooltip="Output height in pixels; 0 = the pose's own canvas."),
                io.Boolean.Input("include_body", default=True, tooltip="Draw the body skeleton."),
                io.Boolean.Input("include_hands", default=True, tooltip="Draw the hands."),
                io.Boolean.Input("include_face", default=True, tooltip="Draw the face landmarks."),
                io.Int.Input("person", default=-1, min=-1, max=63,
                             tooltip="Draw only this person slot (0 = first); -1 draws everyone."),
            ],
            outputs=[
                io.Image.Output(display_name="image", tooltip="The drawn poses, one image per frame."),
                io.Mask.Output(display_name="confidence", tooltip="Per-pixel confidence (0..1) of what is drawn."),
            ],
        )

    @classmethod
    def execute(cls, pose, style, width, height, include_body, include_hands, include_face,
                person) -> io.NodeOutput:
        if (width == 0) != (height == 0):
            raise ValueError(f"width and height must both be 0 (use the pose canvas) or both be set; got "
                             f"{width}x{height}")
        size = None if width == 0 else (int(width), int(height))
        who = None if person < 0 else int(person)
        pbar = comfy.utils.ProgressBar(max(1, pose.num_frames))

        def progress(done: int, _total: int) -> None:
            comfy.model_management.throw_exception_if_processing_interrupted()
            pbar.update_absolute(done)

        flags = {"draw_body": include_body, "draw_hands": include_hands, "draw_face": include_face, "person": who}
        images = render_pose(pose, style=style, size=size, progress=progress, **flags)
        mask = confidence_mask(pose, size=size, **flags)
        return io.NodeOutput(torch.from_numpy(images).float().div_(255.0), torch.from_numpy(mask))


class EmbodyPoseAlign(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyPoseAlign",
            display_name="Embody Pose Align",
            category=f"{CATEGORY}/pose",
            description="Moves and scales the driving video's poses onto the reference person, so the generated "
            "video keeps the reference's position and size. 'official' is MimicMotion's own fit (one scale and "
            "offset for the whole video). 'retarget' also gives every bone the reference's length, so a tall "
            "dancer does not stretch a short character. The result uses the reference's canvas.",
            inputs=[
                EmbodyPose.Input("driving", tooltip="Poses of the driving video."),
                EmbodyPose.Input("reference", tooltip="Pose of the reference image (its first frame is used)."),
                io.Combo.Input("mode", options=list(MODES), default="official",
                               tooltip="official: MimicMotion's global fit. retarget: the fit, then reference bone "
                               "lengths per limb."),
                io.Combo.Input("fallback", options=list(FALLBACKS), default="largest",
                               tooltip="If no driving frame has exactly one person (the official fit needs such "
                               "frames): fit on the largest person of each frame, or stop with an error."),
                io.Int.Input("reference_person", default=0, min=0, max=63,
                             tooltip="Which person slot of the reference pose to align to."),
            ],
            outputs=[EmbodyPose.Output(display_name="pose", tooltip="Driving poses on the reference canvas.")],
        )

    @classmethod
    def execute(cls, driving, reference, mode, fallback, reference_person) -> io.NodeOutput:
        aligned = align_poses(driving, reference, mode=mode, ref_person=int(reference_person), fallback=fallback)
        fit = aligned.meta["align"]
        logger.info("Embody pose align (%s): x*%.4f%+.4f, y*%.4f%+.4f from %d frames%s", mode, fit["ax"], fit["bx"],
                    fit["ay"], fit["by"], fit["frames_used"], " (largest-person fallback)" if fit["fallback_used"]
                    else "")
        return io.NodeOutput(aligned)


class EmbodyPoseSmooth(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyPoseSmooth",
            display_name="Embody Pose Smooth",
            category=f"{CATEGORY}/pose",
            description="Removes keypoint jitter with a One Euro filter (smooth when still, responsive when moving). "
            "Confidence-aware: uncertain points follow more slowly and very uncertain ones hold their last good "
            "position instead of jumping around.",
            inputs=[
                EmbodyPose.Input("pose", tooltip="The pose sequence to smooth."),
                io.Float.Input("min_cutoff", default=1.0, min=0.01, max=30.0, step=0.01,
                               tooltip="Smoothing at rest, in Hz: lower = smoother but more lag."),
                io.Float.Input("beta", default=0.05, min=0.0, max=10.0, step=0.001,
                               tooltip="How quickly smoothing relaxes with speed (per pixel/second): higher = less "
                               "lag on fast moves."),
                io.Float.Input("d_cutoff", default=1.0, min=0.01, max=30.0, step=0.01,
                               tooltip="Smoothing of the speed estimate, in Hz."),
                io.Float.Input("hold_below", default=CONFIDENCE_GATE, min=0.0, max=1.0, step=0.01,
                               tooltip="Points less confident than this keep their last position."),
                io.Float.Input("full_above", default=0.8, min=0.0, max=1.0, step=0.01,
                               tooltip="Points at least this confident are filtered normally; between the two "
                               "thresholds they follow more slowly."),
            ],
            outputs=[EmbodyPose.Output(display_name="pose", tooltip="The smoothed pose (confidences unchanged).")],
        )

    @classmethod
    def execute(cls, pose, min_cutoff, beta, d_cutoff, hold_below, full_above) -> io.NodeOutput:
        return io.NodeOutput(one_euro_smooth(pose, min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff,
                                             hold_below=hold_below, full_above=full_above))


class EmbodyPoseToKeypoints(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyPoseToKeypoints",
            display_name="Embody Pose To POSE_KEYPOINT",
            category=f"{CATEGORY}/pose",
            description="Converts an Embody pose to the POSE_KEYPOINT format of comfyui_controlnet_aux (OpenPose "
            "JSON, pixel coordinates), for pose editors and other packs.",
            inputs=[
                EmbodyPose.Input("pose", tooltip="The pose sequence to export."),
                io.Boolean.Input("binarize", default=True,
                                 tooltip="On: confidences become 1 (>= 0.3) or the point is dropped, as "
                                 "comfyui_controlnet_aux expects (it ignores points with confidence below 1). Off: "
                                 "keep the real confidences."),
                io.Boolean.Input("include_body", default=True, tooltip="Export the body."),
                io.Boolean.Input("include_hands", default=True, tooltip="Export the hands."),
                io.Boolean.Input("include_face", default=True, tooltip="Export the face."),
                io.Boolean.Input("include_feet", default=False,
                                 tooltip="Also export the 6 foot points under an extra key (ignored by other packs, "
                                 "kept by Embody's import)."),
            ],
            outputs=[PoseKeypoint.Output(display_name="keypoints", tooltip="One OpenPose-style dict per frame.")],
        )

    @classmethod
    def execute(cls, pose, binarize, include_body, include_hands, include_face, include_feet) -> io.NodeOutput:
        return io.NodeOutput(pose_to_keypoints(pose, binarize=binarize, include_body=include_body,
                                               include_hands=include_hands, include_face=include_face,
                                               include_feet=include_feet))


class EmbodyKeypointsToPose(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyKeypointsToPose",
            display_name="Embody POSE_KEYPOINT To Pose",
            category=f"{CATEGORY}/pose",
            description="Reads POSE_KEYPOINT data (comfyui_controlnet_aux's DWPose/OpenPose estimators, pose "
            "editors) into an Embody pose. Points they dropped come in as missing; kept points get confidence 1 "
            "unless real confidences were stored.",
            inputs=[
                PoseKeypoint.Input("keypoints", tooltip="A POSE_KEYPOINT list (one dict per frame)."),
                io.Float.Input("fps", default=25.0, min=1.0, max=240.0, step=0.01,
                               tooltip="Frame rate of the sequence (POSE_KEYPOINT does not store one)."),
            ],
            outputs=[EmbodyPose.Output(display_name="pose", tooltip="The pose sequence.")],
        )

    @classmethod
    def execute(cls, keypoints, fps) -> io.NodeOutput:
        return io.NodeOutput(keypoints_to_pose(keypoints, fps=fps))


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
                io.Int.Input("width", default=0, min=0, max=MAX_CANVAS_SIDE, step=8,
                             tooltip="Map width in pixels; 0 = the pose's canvas width."),
                io.Int.Input("height", default=0, min=0, max=MAX_CANVAS_SIDE, step=8,
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


NODES = [EmbodyPoseRender, EmbodyPoseAlign, EmbodyPoseSmooth, EmbodyPoseToKeypoints, EmbodyKeypointsToPose,
         EmbodyBodyMovementMap]
