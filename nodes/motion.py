"""Audio-to-motion nodes: load a trained motion model, animate a reference pose from audio, train your own."""

from __future__ import annotations

import time

import comfy.model_management
import comfy.model_patcher
import comfy.utils
import folder_paths
import numpy as np
import torch

from ..models.audio.features import compute_audio_features
from ..models.audio.learned.dataset import FrameFilter, MotionDataset, build_video_dataset, example_from_arrays
from ..models.audio.learned.generate import generate_motion
from ..models.audio.learned.model_file import load_motion_model
from ..models.audio.learned.motion_model import MotionModelConfig
from ..models.audio.learned.progress import TrainingProgress
from ..models.audio.learned.solver import SOLVERS
from ..models.audio.learned.train import TrainConfig, checked_paths, train_motion_model
from ..models.audio.timeline import timeline
from ..models.io.safe_paths import resolve_inside
from ..models.pose.backend import PoseModel
from ..models.pose.layout import CONFIDENCE_GATE
from ._api import (
    CATEGORY,
    EmbodyAudioFeatures,
    EmbodyMotionModel,
    EmbodyPose,
    EmbodyPoseModel,
    io,
    pose_ui,
    send_to_node,
)
from .paths import list_files, register_model_folders, resolve


def _patcher(model: torch.nn.Module) -> comfy.model_patcher.ModelPatcher:
    """One ModelPatcher per motion model, kept on it, so ComfyUI loads and offloads it like a core model."""
    patcher = model.__dict__.get("_embody_patcher")
    if patcher is None:
        mm = comfy.model_management
        patcher = comfy.model_patcher.ModelPatcher(model, load_device=mm.get_torch_device(),
                                                   offload_device=mm.unet_offload_device())
        model.__dict__["_embody_patcher"] = patcher
    return patcher


def _interrupt_check() -> None:
    comfy.model_management.throw_exception_if_processing_interrupted()


class EmbodyMotionModelLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyMotionModelLoader",
            display_name="Embody Motion Model Loader",
            category=f"{CATEGORY}/audio",
            description="Loads an audio-to-motion diffusion model (VLOGGER stage 1) from models/embody/motion. "
            "Embody ships none: train one with Embody Train Motion Model on your own talking videos.",
            inputs=[
                io.Combo.Input("model_name", options=list_files("embody_motion"),
                               tooltip="A .safetensors motion model in models/embody/motion."),
            ],
            outputs=[EmbodyMotionModel.Output(display_name="motion_model", tooltip="The motion model and its config.")],
        )

    @classmethod
    def execute(cls, model_name: str) -> io.NodeOutput:
        return io.NodeOutput(load_motion_model(resolve("embody_motion", model_name), device="cpu"))


class EmbodyAudioToMotion(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyAudioToMotion",
            display_name="Embody Audio To Motion",
            category=f"{CATEGORY}/audio",
            description="Generates a whole-body pose sequence that moves with the speech: a diffusion model predicts "
            "how every keypoint moves relative to the reference pose, window by window (temporal outpainting), "
            "so any length of audio works. One pose frame per audio-feature frame.",
            inputs=[
                EmbodyMotionModel.Input("motion_model", tooltip="From Embody Motion Model Loader."),
                EmbodyPose.Input("reference", tooltip="Pose of the reference image; its first frame is animated."),
                EmbodyAudioFeatures.Input("audio_features", tooltip="From Embody Audio Features; sets the fps."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1, control_after_generate=True,
                             tooltip="Same seed, same motion."),
                io.Int.Input("steps", default=10, min=1, max=200,
                             tooltip="Denoising steps: network calls per window. 10 is plenty with the ddim solver; "
                             "dpmpp_2m keeps the same quality at 4 (2.5x faster)."),
                io.Float.Input("cfg", default=2.0, min=1.0, max=10.0, step=0.1,
                               tooltip="Audio guidance: higher follows the speech more strongly (1 = off)."),
                io.Float.Input("motion_scale", default=1.0, min=0.0, max=3.0, step=0.05,
                               tooltip="Multiplies the movement; 0 keeps the reference pose still."),
                io.Int.Input("person", default=0, min=0, max=15, tooltip="Which person of the reference to animate."),
                io.Int.Input("window", default=0, min=0, max=4096,
                             tooltip="Frames per window; 0 = the model's training window."),
                io.Int.Input("overlap", default=-1, min=-1, max=4095,
                             tooltip="Frames each window inherits from the previous one; -1 = the model's default."),
                # Optional and last, so saved workflows (widget values by position) and API prompts without it
                # keep today's sampler.
                io.Combo.Input("solver", options=list(SOLVERS), default="ddim", optional=True,
                               tooltip="How each denoising step moves towards the clean motion. ddim (default): "
                               "deterministic DDIM, first order. dpmpp_2m: DPM-Solver++(2M), second order, "
                               "reaches ddim-10's quality in about 4 steps; set steps to 4 with it."),
            ],
            outputs=[EmbodyPose.Output(display_name="pose", tooltip="The animated pose at the audio's fps.")],
        )

    @classmethod
    def execute(cls, motion_model, reference, audio_features, seed, steps, cfg, motion_scale, person, window,
                overlap, solver: str = "ddim") -> io.NodeOutput:
        patcher = _patcher(motion_model)
        comfy.model_management.load_models_gpu([patcher], force_full_load=True)
        bar = comfy.utils.ProgressBar(1)

        def progress(done: int, total: int) -> None:
            bar.update_absolute(done, total)
            _interrupt_check()

        pose = generate_motion(
            patcher.model, reference, audio_features, steps=steps, cfg_scale=cfg, seed=seed,
            motion_scale=motion_scale, person=person, window=window or None,
            overlap=None if overlap < 0 else overlap, progress=progress, solver=solver,
        )
        return io.NodeOutput(pose, ui={**pose_ui(pose), "embody_timeline": [timeline(audio_features, pose)]})


class EmbodyTrainMotionModel(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyTrainMotionModel",
            display_name="Embody Train Motion Model",
            category=f"{CATEGORY}/audio",
            description="Trains an audio-to-motion model on your own talking videos (a folder of videos with sound, "
            "poses found with the connected pose model) or on one pose sequence + its audio. Saves to "
            "models/embody/motion, resumes from the last checkpoint, and shows the loss curve.",
            is_output_node=True,
            hidden=[io.Hidden.unique_id],
            inputs=[
                io.String.Input("output_name", default="my_motion",
                                tooltip="File name (without .safetensors) in models/embody/motion; sub-folders such "
                                "as people/anna are allowed, names that leave the folder are refused."),
                io.String.Input("videos_folder", default="", optional=True,
                                tooltip="Folder of talking videos with sound (poses found in them are cached in "
                                "output/embody_cache). Leave empty to use pose + audio."),
                EmbodyPose.Input("pose", optional=True, tooltip="A pose sequence of a talking person (with hand "
                                 "clarity if scored), used when no folder is given."),
                io.Audio.Input("audio", optional=True, tooltip="The audio of that pose sequence."),
                EmbodyPoseModel.Input("pose_model", optional=True,
                                      tooltip="Pose detector for the video folder: an Embody DWPose Loader or "
                                      "Embody MediaPipe Loader (not needed when training on pose + audio)."),
                io.Float.Input("fps", default=25.0, min=1.0, max=120.0, tooltip="Training frame rate."),
                io.Int.Input("steps", default=2000, min=1, max=1_000_000, tooltip="Optimiser steps in total."),
                io.Int.Input("batch_size", default=16, min=1, max=1024, tooltip="Clips per step."),
                io.Float.Input("learning_rate", default=2e-4, min=1e-6, max=1e-2, step=1e-5, tooltip="AdamW rate."),
                io.Int.Input("window", default=50, min=8, max=1024, tooltip="Frames per training clip and window."),
                io.Int.Input("overlap", default=25, min=0, max=1023, tooltip="Frames a window inherits (outpainting); "
                             "must be smaller than window."),
                io.Int.Input("d_model", default=128, min=32, max=2048, step=32, tooltip="Transformer width."),
                io.Int.Input("layers", default=4, min=1, max=24, tooltip="Transformer layers (VLOGGER: 4)."),
                io.Float.Input("min_body_confidence", default=CONFIDENCE_GATE, min=0.0, max=1.0,
                               tooltip="Drop frames whose mean body keypoint confidence is lower."),
                io.Float.Input("min_hand_clarity", default=0.0, min=0.0, max=1000.0,
                               tooltip="Drop frames with a blurrier visible hand (0 = keep all)."),
                io.Boolean.Input("resume", default=True, tooltip="Continue from the last checkpoint if one exists."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1, tooltip="Training seed."),
            ],
            outputs=[
                EmbodyMotionModel.Output(display_name="motion_model", tooltip="The trained model."),
                io.Image.Output(display_name="loss_curve", tooltip="Training loss per step."),
                io.String.Output(display_name="path", tooltip="Where the model was saved."),
            ],
        )

    @classmethod
    def execute(cls, output_name, fps, steps, batch_size, learning_rate, window, overlap, d_model, layers,
                min_body_confidence, min_hand_clarity, resume, seed, videos_folder="", pose=None, audio=None,
                pose_model=None) -> io.NodeOutput:
        register_model_folders()
        out_dir = folder_paths.get_folder_paths("embody_motion")[0]
        name = output_name.strip()
        # Checked before any work: the model, its state, loss log and curve all stay inside models/embody/motion.
        resolve_inside(out_dir, name, input_name="output_name")
        out_path, _ = checked_paths(name if name.endswith(".safetensors") else f"{name}.safetensors", out_dir)
        rules = FrameFilter(min_body_confidence, min_hand_clarity)
        # Checked before any extraction: a bad window/overlap pair fails in a second, not after the data is built.
        mc = MotionModelConfig(window=window, overlap=overlap, d_model=d_model, num_layers=layers)
        if videos_folder.strip():
            if not isinstance(pose_model, PoseModel):
                raise ValueError("pose_model: training from a video folder needs a pose detector; connect an Embody "
                                 "DWPose Loader (or Embody MediaPipe Loader) to pose_model")
            backend = pose_model.create()
            # Extractions are keyed by video content + settings, so one cache in output/ serves every folder.
            cache = str(resolve_inside(folder_paths.get_output_directory(), "embody_cache", input_name="cache"))
            try:
                dataset = build_video_dataset(videos_folder.strip(), backend, fps, cache, "median", rules,
                                              progress=lambda n: _interrupt_check())
            finally:
                backend.close()
        elif pose is not None and audio is not None:
            feats = compute_audio_features(audio["waveform"], audio["sample_rate"], pose.fps)
            example = example_from_arrays(pose, feats, "pose input", 0, "median", rules)
            dataset = MotionDataset([example] if example else [], pose.fps, feats.names)
        else:
            raise ValueError("connect either a videos_folder or both a pose and its audio to train a motion model")
        tc = TrainConfig(steps=steps, batch_size=batch_size, lr=learning_rate, seed=seed,
                         cpu=comfy.model_management.get_torch_device().type == "cpu")
        bar = comfy.utils.ProgressBar(steps)
        tracker = TrainingProgress(steps)
        node_id = cls.hidden.unique_id
        last_sent = [0.0]

        def progress(step: int, total: int, log: dict) -> None:
            bar.update_absolute(step, total)
            tracker.update(step, float(log.get("loss", float("nan"))))
            now = time.monotonic()
            if now - last_sent[0] >= 0.5 or step >= total:  # at most two messages a second
                last_sent[0] = now
                send_to_node(node_id, "embody.training", tracker.payload(), tracker.text())

        result = train_motion_model(dataset, out_path, mc, tc, resume=resume, root=out_dir, progress=progress,
                                    check_interrupt=_interrupt_check)
        curve = torch.zeros(1, 64, 64, 3)
        if result.report_png:
            from PIL import Image

            curve = torch.from_numpy(np.asarray(Image.open(result.report_png).convert("RGB"), np.float32) / 255.0)[None]
        return io.NodeOutput(result.model.cpu(), curve, out_path, ui={"embody_training": [tracker.payload()]})


NODES = [EmbodyMotionModelLoader, EmbodyAudioToMotion, EmbodyTrainMotionModel]
