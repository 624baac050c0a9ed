"""Train a region codebook (CyberHost's face / hand Region Attention Modules) on the user's own footage."""

from __future__ import annotations

import os

import comfy.model_management
import comfy.utils
import folder_paths
import numpy as np
import torch

from ..models.io.safe_paths import resolve_inside
from ..models.io.train_state import image_tensor, output_inside
from ..models.pose.backend import PoseModel
from ..models.pose.layout import CONFIDENCE_GATE
from ..models.video.conditioning import resize_center_crop, to_nchw
from ..models.video.region import RegionCodebookModel
from ..models.video.region_train.data import RegionDataset, build_region_dataset, clip_from_arrays
from ..models.video.region_train.losses import LossConfig
from ..models.video.region_train.trainer import RegionTrainConfig, train_region_codebook
from ._api import CATEGORY, EmbodyPose, EmbodyPoseModel, EmbodyRegionCodebook, EmbodyVideoModel, io
from .paths import register_model_folders
from .region import attach_model_management


def _interrupt_check() -> None:
    comfy.model_management.throw_exception_if_processing_interrupted()


class EmbodyTrainRegionCodebook(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyTrainRegionCodebook",
            display_name="Embody Train Region Codebook",
            category=f"{CATEGORY}/video",
            description="Trains a region codebook (CyberHost's face and hand Region Attention Modules, their masks, "
            "the hand clarity and body movement conditions) for the loaded MimicMotion UNet, which stays frozen, on "
            "your own footage: a folder of videos (poses found with the connected pose model) or frames + their "
            "pose. No public "
            "codebook exists, and an untrained one changes nothing: train one here. Saves to "
            "models/embody/codebook, resumes from the last checkpoint, and shows the loss curve. Needs a GPU for "
            "real sizes (see the README's training section).",
            is_output_node=True,
            inputs=[
                EmbodyVideoModel.Input("video_model", tooltip="From Embody Video Model Loader; load it in bf16 or "
                                       "fp32 for training (fp16 gradients through the frozen UNet can overflow)."),
                io.String.Input("output_name", default="my_codebook",
                                tooltip="File name (without .safetensors) in models/embody/codebook."),
                io.String.Input("videos_folder", default="", optional=True,
                                tooltip="Folder of videos of the person. Leave empty to use frames + pose."),
                io.Image.Input("frames", optional=True, tooltip="Video frames of the person, used when no folder "
                               "is given (with their pose)."),
                EmbodyPose.Input("pose", optional=True, tooltip="The pose of those frames (one frame per image; "
                                 "with hand clarity if scored)."),
                EmbodyPoseModel.Input("pose_model", optional=True,
                                      tooltip="The pose detector for the video folder: connect Embody DWPose Loader "
                                      "(or Embody MediaPipe Loader). Not needed for frames + pose."),
                io.Int.Input("width", default=512, min=64, max=2048, step=64, tooltip="Training width (multiple of "
                             "64); frames are resized and centre-cropped to it."),
                io.Int.Input("height", default=512, min=64, max=2048, step=64, tooltip="Training height."),
                io.Float.Input("fps", default=15.0, min=1.0, max=120.0, tooltip="Frame rate videos are read at."),
                io.Int.Input("clip_frames", default=16, min=2, max=128, tooltip="Frames per training clip."),
                io.Int.Input("steps", default=2000, min=1, max=1_000_000, tooltip="Optimiser steps in total."),
                io.Int.Input("batch_size", default=1, min=1, max=64, tooltip="Clips per micro-batch."),
                io.Int.Input("grad_accum", default=4, min=1, max=256, tooltip="Micro-batches per optimiser step."),
                io.Float.Input("learning_rate", default=1e-4, min=1e-6, max=1e-2, step=1e-5, tooltip="AdamW rate."),
                io.Int.Input("dim", default=0, min=0, max=2048, step=8,
                             tooltip="Attention width of the region modules (0 = the UNet's first width)."),
                io.Boolean.Input("bf16", default=True, tooltip="bfloat16 autocast (GPUs since Ampere)."),
                io.Boolean.Input("gradient_checkpointing", default=True,
                                 tooltip="Recompute UNet activations in the backward pass: far less memory, ~30% "
                                 "slower."),
                io.Int.Input("lora_rank", default=0, min=0, max=256, tooltip="> 0 also trains a LoRA of this rank "
                             "on the UNet's attention (needs the peft package); saved beside the codebook."),
                io.Float.Input("region_weight", default=1.0, min=0.0, max=10.0, step=0.1,
                               tooltip="CyberHost's alpha: the diffusion loss counts 1 + alpha inside face and "
                               "hand boxes."),
                io.Float.Input("hand_amplification", default=10.0, min=1.0, max=50.0, step=0.5,
                               tooltip="MimicMotion's extra weight inside boxes of confidently detected hands "
                               "(1 = off)."),
                io.Float.Input("min_hand_clarity", default=0.0, min=0.0, max=1000.0,
                               tooltip="Drop frames with a blurrier visible hand (0 = keep all); the rest give the "
                               "clarity condition."),
                io.Boolean.Input("resume", default=True, tooltip="Continue from the last checkpoint if one exists."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1, tooltip="Training seed."),
            ],
            outputs=[
                EmbodyRegionCodebook.Output(display_name="codebook", tooltip="The trained region codebook."),
                io.Image.Output(display_name="loss_curve", tooltip="Training loss per step."),
                io.String.Output(display_name="path", tooltip="Where the codebook was saved."),
            ],
        )

    @classmethod
    def execute(cls, video_model, output_name, width, height, fps, clip_frames, steps, batch_size, grad_accum,
                learning_rate, dim, bf16, gradient_checkpointing, lora_rank, region_weight, hand_amplification,
                min_hand_clarity, resume, seed, videos_folder="", frames=None, pose=None,
                pose_model=None) -> io.NodeOutput:
        register_model_folders()
        out_path = output_inside(folder_paths.get_folder_paths("embody_codebook")[0], output_name)
        comps = video_model.components
        size = (int(height), int(width))
        device = video_model.prepare(["vae"])
        if videos_folder.strip():
            if not isinstance(pose_model, PoseModel):
                raise ValueError("pose_model: training from a video folder needs a pose detector; connect an Embody "
                                 "DWPose Loader (or Embody MediaPipe Loader) to pose_model")
            # The cache lives in output/ (never inside the user's videos folder), like the motion trainer's.
            cache = str(resolve_inside(folder_paths.get_output_directory(), "embody_cache", input_name="cache"))
            backend = pose_model.create()
            try:
                folder = videos_folder.strip()
                dataset = build_region_dataset(folder, comps, backend, size, fps, cache, device, CONFIDENCE_GATE,
                                               min_hand_clarity, progress=lambda n: _interrupt_check())
            finally:
                backend.close()
        elif frames is not None and pose is not None:
            dataset = _dataset_from_inputs(comps, frames, pose, size, device, min_hand_clarity)
        else:
            raise ValueError("connect either a videos_folder or both frames and their pose to train a region codebook")
        device = video_model.prepare(["unet", "vae", "image_encoder"])
        tc = RegionTrainConfig(steps=steps, batch_size=batch_size, frames=clip_frames, grad_accum=grad_accum,
                               lr=learning_rate, seed=seed, bf16=bf16, gradient_checkpointing=gradient_checkpointing,
                               lora_rank=lora_rank, cpu=device.type == "cpu",
                               loss=LossConfig(alpha=region_weight, hand_amplification=hand_amplification))
        overrides = {"dim": dim} if dim else {}
        bar = comfy.utils.ProgressBar(steps)
        result = train_region_codebook(comps, dataset, out_path, overrides, tc, resume=resume,
                                       progress=lambda s, total, log: bar.update_absolute(s, total),
                                       check_interrupt=_interrupt_check)
        # The same wrapper the loader gives (a ModelPatcher that loads with the UNet), so the trained codebook can go
        # straight into Embody Sampler's codebook input.
        model = attach_model_management(RegionCodebookModel(result.codebook.cpu(), os.path.basename(out_path)))
        return io.NodeOutput(model, image_tensor(result.report_png), out_path)


def _dataset_from_inputs(comps, frames: torch.Tensor, pose, size: tuple[int, int], device: torch.device,
                         min_hand_clarity: float) -> RegionDataset:
    from ..models.hands.clarity import frame_scores

    px = resize_center_crop(to_nchw(frames, "frames"), size)
    if pose.num_frames != px.shape[0]:
        raise ValueError(f"frames has {px.shape[0]} images but the pose {pose.num_frames} frames; connect the pose "
                         "found in these frames")
    if pose.num_people == 0:
        raise ValueError("the pose holds no person; connect the pose found in these frames")
    kp = _recrop(pose.keypoints[:, 0], pose.canvas, size)
    clarity = (frame_scores(pose.hand_clarity[:, :1], "max") if pose.hand_clarity is not None
               else np.full(pose.num_frames, np.nan, np.float32))
    clip = clip_from_arrays(comps, px, kp, clarity, device, "frames input", CONFIDENCE_GATE, min_hand_clarity)
    return RegionDataset([clip], size)


def _recrop(kp: np.ndarray, canvas: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Normalised keypoints of a (W, H) canvas -> normalised to the resize + centre crop to ``size`` = (H, W)."""
    w, h = canvas
    th, tw = size
    scale = max(th / h, tw / w)
    rw, rh = max(tw, round(w * scale)), max(th, round(h * scale))
    left, top = (rw - tw) // 2, (rh - th) // 2
    out = kp.copy()
    out[..., 0] = (kp[..., 0] * rw - left) / tw
    out[..., 1] = (kp[..., 1] * rh - top) / th
    outside = (out[..., 0] < 0) | (out[..., 0] > 1) | (out[..., 1] < 0) | (out[..., 1] > 1)
    out[outside] = 0.0
    return out


NODES = [EmbodyTrainRegionCodebook]
