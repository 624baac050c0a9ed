"""The MimicMotion sampler node (thin glue over models/video/sampler.py)."""

from __future__ import annotations

import logging

import comfy.model_management as mm
import comfy.utils
import torch

from ..models.video.components import unet_memory_bytes, vae_encode_memory_bytes
from ..models.video.conditioning import encode_reference, prepare_frames, resize_center_crop, to_nchw
from ..models.video.fusion import FusionSchedule, window_indices
from ..models.video.init_latents import encode_frames, init_video_frames, start_step
from ..models.video.progress_text import sampler_text
from ..models.video.region import (
    RegionGuide,
    movement_maps_for_video,
    reference_identity,
    reference_keypoints_of,
    resolve_clarity,
)
from ..models.video.sampler import SamplerSettings, denoise
from ..models.video.sigmas import SCHEDULES
from ._api import CATEGORY, EmbodyFusion, EmbodyPose, EmbodyRegionCodebook, EmbodyVideoModel, io, progress_text

logger = logging.getLogger(__name__)


def _previewer(device: torch.device):
    """ComfyUI's own latent previewer (its --preview-method: latent2rgb, TAESD, or None for no previews), for SVD
    latents in the SD1.5 4-channel format (SVD shares that VAE latent space and scaling)."""
    import comfy.latent_formats
    import latent_preview

    return latent_preview.get_previewer(device, comfy.latent_formats.SD15())


def _pose_frames(poses: torch.Tensor, reference_pose: torch.Tensor | None) -> torch.Tensor:
    frames = to_nchw(poses, "poses")
    if reference_pose is not None:
        ref_pose = to_nchw(reference_pose, "reference_pose")[:1]
        ref_pose = resize_center_crop(ref_pose, tuple(frames.shape[-2:]))
        frames = torch.cat([ref_pose, frames])
    return frames


class EmbodySampler(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodySampler",
            display_name="Embody Sampler (MimicMotion)",
            category=f"{CATEGORY}/video",
            description="Animates the reference image along the pose frames with MimicMotion (official maths: "
            "EDM Euler, v-prediction, per-video guidance ramp, progressive latent fusion). The first pose frame must "
            "be the reference image's own pose, or connect it to reference_pose. Output latents keep that frame; "
            "Embody Decode drops it.",
            inputs=[
                EmbodyVideoModel.Input("video_model", tooltip="From Embody Video Model Loader."),
                io.Image.Input("reference", tooltip="The person to animate (one image). Its size, rounded down to "
                               "multiples of 64, is the video size (official: 576x1024)."),
                io.Image.Input("poses", tooltip="Rendered poses (Embody Pose Render, mimicmotion style), one per "
                               "frame. Frame 0 must be the reference's pose unless reference_pose is connected. "
                               "Resized and centre-cropped to the video size if needed."),
                io.Image.Input("reference_pose", optional=True, tooltip="The reference image's rendered pose; "
                               "prepended to the poses as frame 0."),
                EmbodyFusion.Input("fusion", optional=True, tooltip="From Embody Fusion Schedule; default: the "
                                   "official schedule for the model version."),
                io.Int.Input("steps", default=25, min=1, max=200, tooltip="Denoising steps (official 25; 10-15 "
                             "with the ays schedule)."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Same seed, same video (on the same device and precision)."),
                io.Float.Input("cfg_min", default=2.0, min=0.0, max=20.0, step=0.05, tooltip="Guidance at the "
                               "first frame; ramps linearly to cfg_max at the last frame of the whole video."),
                io.Float.Input("cfg_max", default=2.0, min=0.0, max=20.0, step=0.05, tooltip="Guidance at the "
                               "last frame (official 2.0). At 1 or below a single pass is run (twice as fast)."),
                io.Int.Input("fps_condition", default=6, min=1, max=60, tooltip="SVD's frame-rate condition "
                             "(official 6; not the export frame rate)."),
                io.Int.Input("motion_bucket", default=127, min=1, max=255, tooltip="SVD's motion amount "
                             "condition (official 127)."),
                io.Float.Input("noise_aug", default=0.0, min=0.0, max=1.0, step=0.005, tooltip="Noise added to "
                               "the reference before encoding (official 0). More = looser likeness, more motion."),
                io.Float.Input("pose_strength", default=1.0, min=0.0, max=3.0, step=0.05, tooltip="How strongly "
                               "the poses steer the motion (1 = official)."),
                io.Float.Input("pose_start", default=0.0, min=0.0, max=1.0, step=0.01, tooltip="Fraction of the "
                               "steps after which pose guidance starts."),
                io.Float.Input("pose_end", default=1.0, min=0.0, max=1.0, step=0.01, tooltip="Fraction of the "
                               "steps after which pose guidance stops."),
                io.Float.Input("image_embed_strength", default=1.0, min=0.0, max=3.0, step=0.05, tooltip="Weight "
                               "of the reference's CLIP embedding (1 = official)."),
                io.Combo.Input("sigma_schedule", options=list(SCHEDULES), default="karras", tooltip="karras = "
                               "official (700 -> 0.002); ays = Align Your Steps for SVD, good at 10 steps."),
                EmbodyRegionCodebook.Input("codebook", optional=True, tooltip="From Embody Region Codebook Loader: "
                                           "hand and face region modules (CyberHost). No public codebook exists; "
                                           "an untrained one changes nothing."),
                io.Float.Input("hand_clarity", default=-1.0, min=-1.0, max=1000.0, step=0.5, optional=True,
                               tooltip="Hand clarity asked of the codebook (Embody Hand Clarity units; higher = "
                               "sharper hands, as CyberHost does at inference). -1 = the codebook's own high value, "
                               "0 = off. Needs a codebook."),
                io.Mask.Input("movement_map", optional=True, tooltip="Body movement map (Embody Body Movement "
                              "Map): the box the chest should stay in, one per pose frame or one for all. Needs a "
                              "codebook with a movement encoder."),
                EmbodyPose.Input("reference_keypoints", optional=True, tooltip="The reference image's pose "
                                 "(Embody Pose Extract on the reference): the codebook crops the face and hands "
                                 "from the reference there. Without it, or with hands not visible, the codebook "
                                 "uses its learned stand-in for the missing crops."),
                io.Image.Input("warp_init", optional=True, tooltip="Frames to start from instead of pure noise: "
                               "Embody Pose Warp driven by the same poses (one frame per pose frame). They are "
                               "VAE-encoded and noised to the sigma of the first step run (SDEdit; VLOGGER feeds "
                               "its video model a partial warp, MimicMotion has no such input). Frame 0 (the "
                               "reference slot) starts from the reference image itself. Used when init_strength > 0."),
                io.Float.Input("init_strength", default=0.0, min=0.0, max=1.0, step=0.05, optional=True,
                               tooltip="How much of warp_init to keep: the fraction of the steps skipped (0 = "
                               "pure noise, today's output; 1 = only the last step runs: essentially the warp). "
                               "Start sigma with 25 karras steps: 0.5 -> 10, 0.6 -> 3.9, 0.7 -> 0.7 (the latents' "
                               "std is about 1), so below about 0.5 little of the warp is left. Skipped steps do not "
                               "run, so it is also faster."),
                io.Float.Input("guidance_sigma_min", default=0.0, min=0.0, max=1000.0, step=0.01, optional=True,
                               tooltip="Guidance interval, lower end (noise level sigma; SVD runs from 700 down "
                               "to 0.002): cfg is applied only on steps whose sigma lies in [min, max], the other "
                               "steps run the conditional pass alone (half the UNet work). Kynkaanniemi et al. "
                               "2024. 0 with max 1000 = every step (official)."),
                io.Float.Input("guidance_sigma_max", default=1000.0, min=0.0, max=1000.0, step=0.01, optional=True,
                               tooltip="Guidance interval, upper end (sigma). Lowering it skips the uncond pass on "
                               "the first, noisiest steps. 1000 with min 0 = every step (official)."),
                io.Int.Input("feature_reuse_interval", default=1, min=1, max=10, optional=True,
                             tooltip="Feature reuse (DeepCache, Ma et al. 2024): the whole UNet runs every n-th "
                             "step; the steps between run only its outer level, on the deep features kept from "
                             "the last whole step, at about 0.3x (small sizes) to 0.4x (576x1024) of a whole "
                             "step's work. 1 = off, the official sampler; 2-3 = faster (0.52-0.61x the sampling "
                             "time measured at full size, 128x128, 4 steps), an approximation whose effect on "
                             "quality is unmeasured for MimicMotion (DeepCache reports small losses on image "
                             "models). Kept features cost about 810 MiB per window and pass at 576x1024 x 72 "
                             "frames in fp16."),
                io.Combo.Input("solver", options=["euler", "dpmpp_2m"], default="euler", optional=True,
                               tooltip="euler: MimicMotion's own solver (official output). dpmpp_2m: "
                               "DPM-Solver++(2M), second order with one UNet pass per step like euler, so fewer "
                               "steps reach the same accuracy (on an ODE with a known solution, 16 steps beat "
                               "euler's 25); with real weights the step count that keeps quality is yours to "
                               "judge."),
            ],
            hidden=[io.Hidden.unique_id],
            outputs=[io.Latent.Output(display_name="latent", tooltip="Video latents [frames, 4, H/8, W/8] "
                                      "including the reference frame 0; decode with Embody Decode.")],
        )

    @classmethod
    def execute(cls, video_model, reference, poses, steps, seed, cfg_min, cfg_max, fps_condition, motion_bucket,
                noise_aug, pose_strength, pose_start, pose_end, image_embed_strength, sigma_schedule,
                reference_pose=None, fusion=None, codebook=None, hand_clarity=-1.0, movement_map=None,
                reference_keypoints=None, warp_init=None, init_strength=0.0, guidance_sigma_min=0.0,
                guidance_sigma_max=1000.0, feature_reuse_interval=1, solver="euler") -> io.NodeOutput:
        settings = SamplerSettings(
            steps=steps, seed=seed, cfg_min=cfg_min, cfg_max=cfg_max, fps_condition=fps_condition,
            motion_bucket=motion_bucket, noise_aug=noise_aug, pose_strength=pose_strength, pose_start=pose_start,
            pose_end=pose_end, image_embed_strength=image_embed_strength, schedule=sigma_schedule,
            init_strength=init_strength,
            guidance_sigma_min=guidance_sigma_min, guidance_sigma_max=guidance_sigma_max,
            feature_reuse_interval=feature_reuse_interval, solver=solver,
        )
        settings.validate()
        original_ref = to_nchw(reference, "reference")
        ref, frames = prepare_frames(original_ref, _pose_frames(poses, reference_pose))
        start = start_step(init_strength, steps) if warp_init is not None else 0
        init_pixels = None
        if start > 0:
            init_pixels = init_video_frames(ref, to_nchw(warp_init, "warp_init"), int(poses.shape[0]),
                                            reference_pose is not None)
        elif warp_init is not None:
            logger.info("Embody Sampler: init_strength %.2f skips no step; warp_init is not used.", init_strength)
        elif init_strength > 0:
            logger.warning("Embody Sampler: init_strength is used with warp_init only; connect Embody Pose Warp "
                           "to warp_init, or the sampler starts from pure noise.")
        if codebook is not None:
            codebook.codebook.check_unet(video_model.components.unet, codebook.name)
            maps = movement_maps_for_video(movement_map, frames.shape[0], tuple(frames.shape[-2:]),
                                           reference_pose is not None)
            ref_kp = reference_keypoints_of(reference_keypoints)
        elif movement_map is not None or reference_keypoints is not None:
            logger.warning("Embody Sampler: movement_map / reference_keypoints are used by a region codebook only; "
                           "connect one to the codebook input, or they are ignored.")
        schedule = (fusion or FusionSchedule()).resolved(video_model.version).fitted(frames.shape[0])
        official = FusionSchedule().resolved(video_model.version).window
        if video_model.version == "1.1" and schedule.window != official and frames.shape[0] >= official:
            logger.warning("MimicMotion 1.1 was trained on %d-frame windows; window %d may give artifacts.",
                           official, schedule.window)
        windows = window_indices(frames.shape[0], schedule)
        total = (steps - start) * len(windows)  # steps skipped by warp_init do not run
        pbar = comfy.utils.ProgressBar(total)
        state = {"done": 0}

        node_id = cls.hidden.unique_id

        def progress(done: int, total_: int) -> None:
            state["done"] = done
            pbar.update_absolute(done, total_)
            progress_text(node_id, sampler_text(done, steps - start, len(windows)), final=done >= total_)

        previewer = _previewer(mm.get_torch_device())

        def preview(step: int, x0: torch.Tensor) -> None:
            first = min(1, x0.shape[0] - 1)  # the first generated frame (frame 0 is the reference)
            image = previewer.decode_latent_to_preview_image("JPEG", x0[first : first + 1])
            pbar.update_absolute(state["done"], total, image)

        generator = torch.Generator().manual_seed(int(seed))
        dtype = video_model.dtype
        device = video_model.prepare(["image_encoder", "vae"], vae_encode_memory_bytes(*ref.shape[-2:], dtype))
        cond = encode_reference(video_model.components, ref, generator, device, noise_aug, image_embed_strength,
                                fps_condition, motion_bucket)
        init_latents = None
        if init_pixels is not None:
            chunk = 4
            device = video_model.prepare(["vae"], vae_encode_memory_bytes(*ref.shape[-2:], dtype) * chunk)
            init_latents = encode_frames(video_model.components, init_pixels, device, chunk)
            init_pixels = None
        regions = None
        if codebook is not None:
            if init_latents is not None:
                device = video_model.prepare(["image_encoder"])  # the VAE-only prepare above may have idled it
            identity = reference_identity(video_model.components, codebook.codebook, original_ref, ref_kp, device)
            regions = RegionGuide(codebook.codebook, identity, resolve_clarity(codebook.codebook, hand_clarity), maps,
                                  codebook.strength, codebook.name)
        h, w = frames.shape[-2] // 8, frames.shape[-1] // 8
        # Room for one UNet call (the two-call path); cond + uncond are batched only if free memory allows it.
        memory = unet_memory_bytes(max(map(len, windows)), h, w, dtype)
        if codebook is not None and codebook.patcher is not None and video_model.patchers:
            # The codebook is loaded (and later offloaded) together with the UNet by ComfyUI's model management.
            mm.load_models_gpu([video_model.patchers["unet"], codebook.patcher], memory_required=memory,
                               force_full_load=True)
            video_model.components.set_in_use(["unet"])  # fp32 while it runs when idle modules are kept in fp16
            device = video_model.device
        else:
            device = video_model.prepare(["unet"], memory)
            if codebook is not None:
                codebook.codebook.to(device)
        settings.free_memory = int(mm.get_free_memory(device) - mm.minimum_inference_memory())
        if feature_reuse_interval > 1:
            # Kept deep features share the device with the activations (two calls' worth if cfg gets batched);
            # the rest go to the CPU (models/video/feature_reuse.py).
            settings.feature_cache_bytes = max(0, settings.free_memory - 2 * memory)
        latents = denoise(video_model.components, cond, frames, schedule, settings, generator, device,
                          progress=progress, interrupt=mm.throw_exception_if_processing_interrupted,
                          preview=preview if previewer is not None else None, regions=regions,
                          init_latents=init_latents)
        return io.NodeOutput({"samples": latents.to(mm.intermediate_device())})


NODES = [EmbodySampler]
