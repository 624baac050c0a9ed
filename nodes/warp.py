"""Pose warp: the reference image moved into driving poses without weights (thin glue over models/warp)."""

from __future__ import annotations

import logging

import comfy.model_management
import comfy.utils
import numpy as np
import torch

from ..models.pose.layout import CONFIDENCE_GATE
from ..models.warp.warp import warp_sequence
from ._api import CATEGORY, EmbodyPose, io

logger = logging.getLogger(__name__)


def _check_canvas(name: str, canvas: tuple[int, int], width: int, height: int) -> None:
    if abs(canvas[0] / canvas[1] - width / height) > 0.01 * width / height:
        raise ValueError(
            f"{name}: its canvas is {canvas[0]}x{canvas[1]} but the reference image is {width}x{height} (a different "
            "shape). Align the driving pose to the reference first (Embody Pose Align), or extract the reference "
            "pose from this image."
        )


class EmbodyPoseWarp(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyPoseWarp",
            display_name="Embody Pose Warp",
            category=f"{CATEGORY}/pose",
            description="Moves the person in the reference image into every driving pose, with no model weights and "
            "no GPU (VLOGGER's partial warp): a mesh over the person follows the bones, the face follows its 68 "
            "points (the mouth opens as the pose says), and the background stays put. Places the reference cannot "
            "show (background uncovered by a moving arm) are filled in and marked black in the mask. An instant "
            "preview of any pose or motion, and a starting point for a video model.",
            inputs=[
                io.Image.Input("reference_image", tooltip="The photo of the person to move (the first image is used)."),
                EmbodyPose.Input("reference_pose", tooltip="The pose of that photo (Embody Pose Extract on it); its "
                                 "first frame is used."),
                EmbodyPose.Input("driving_pose", tooltip="The poses to move into, already on the reference's canvas "
                                 "(from Embody Pose Align or an audio motion node). Points below 0.3 confidence "
                                 "keep the reference's placement."),
                io.Int.Input("person", default=0, min=0, max=63,
                             tooltip="Which person slot of both poses to use (0 = the first)."),
                io.Boolean.Input("refine_region", default=True,
                                 tooltip="Refine the person's outline from the image (OpenCV GrabCut, about a "
                                 "second). Off: use the outline built from the skeleton alone."),
                io.Int.Input("mesh_spacing", default=10, min=4, max=40,
                             tooltip="Mesh grid step in pixels: smaller follows the pose more finely, larger is "
                             "faster."),
            ],
            outputs=[
                io.Image.Output(display_name="images", tooltip="The reference moved into each driving pose."),
                io.Mask.Output(display_name="explained",
                               tooltip="1 where a frame shows the reference's own pixels, 0 in filled-in holes."),
            ],
        )

    @classmethod
    def execute(cls, reference_image, reference_pose, driving_pose, person, refine_region,
                mesh_spacing) -> io.NodeOutput:
        """reference_image IMAGE [B, H, W, 3] 0..1 -> images IMAGE [F, H, W, 3], explained MASK [F, H, W]."""
        if reference_image.shape[0] == 0:
            raise ValueError("reference_image: the batch is empty; connect an image")
        height, width = int(reference_image.shape[1]), int(reference_image.shape[2])
        if reference_pose.num_frames == 0 or driving_pose.num_frames == 0:
            raise ValueError("reference_pose / driving_pose: a pose sequence is empty; connect poses with frames")
        _check_canvas("reference_pose", reference_pose.canvas, width, height)
        _check_canvas("driving_pose", driving_pose.canvas, width, height)
        for name, pose in (("reference_pose", reference_pose), ("driving_pose", driving_pose)):
            if person >= pose.num_people:
                raise ValueError(f"{name}: person slot {person} does not exist (the pose has {pose.num_people}); "
                                 "lower 'person'")
        if not reference_pose.person_present()[0, person]:
            raise ValueError("reference_pose: no person in its first frame; extract the pose from a photo with a "
                             "clearly visible person")
        image = (reference_image[0, ..., :3].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
        pbar = comfy.utils.ProgressBar(driving_pose.num_frames)

        def progress(i: int) -> None:
            comfy.model_management.throw_exception_if_processing_interrupted()
            pbar.update_absolute(i + 1)

        frames, masks = warp_sequence(image, reference_pose.keypoints[0, person],
                                      driving_pose.keypoints[:, person], CONFIDENCE_GATE,
                                      spacing=int(mesh_spacing), refine=bool(refine_region), on_frame=progress)
        logger.info("Embody Pose Warp: %d frames, %.1f%% of pixels explained by the reference",
                    len(frames), 100.0 * float(np.mean(masks)))
        return io.NodeOutput(torch.from_numpy(frames), torch.from_numpy(masks))


NODES = [EmbodyPoseWarp]
