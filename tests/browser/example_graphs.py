"""The example workflows shipped in workflows/, as API-format graphs with the real model file names.

`bash tests/browser/export_examples.sh` turns each into a UI-format workflow plus a thumbnail by loading it into a
real ComfyUI page (so the files are exactly what the frontend writes). Integration tests run the same graphs with
tiny models (tests/workflows/*_api.json); tests/test_workflows.py checks the shipped files stay consistent.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

DWPOSE_FILES = {"detector": "yolox_l.onnx", "pose_model": "dw-ll_ucoco_384.onnx"}
EXTRACT = {"person": "largest", "max_people": 1, "detect_every": 1, "fps": 25.0, "style": "mimicmotion",
           "include_body": True, "include_hands": True, "include_face": True}
RENDER = {"style": "mimicmotion", "width": 0, "height": 0, "include_body": True, "include_hands": True,
          "include_face": True, "person": -1}


def node(class_type: str, title: str, _stage: str = "", _size: tuple[int, int] | None = None, **inputs: object) -> dict:
    """One API-format node; `_stage` names the titled group it is laid out in, `_size` a size (width, height in canvas
    pixels) it is laid out at, e.g. a preview wide enough to read (check_frontend.mjs)."""
    meta = {"title": title, **({"stage": _stage} if _stage else {}), **({"size": list(_size)} if _size else {})}
    return {"class_type": class_type, "inputs": inputs, "_meta": meta}


# The note at the top of each example: which files go where, and which weights each branch needs.
MIMICMOTION_FILES = (
    "- `models/mimicmotion/MimicMotion_1-1.pth` from https://huggingface.co/tencent/MimicMotion\n"
    "- `models/diffusers/stable-video-diffusion-img2vid-xt-1-1/` (vae/, image_encoder/, feature_extractor/, "
    "scheduler/) from https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt-1-1\n"
)
DWPOSE_NOTE = ("- `models/dwpose/yolox_l.onnx` and `models/dwpose/dw-ll_ucoco_384.onnx` from "
                "https://huggingface.co/yzd-v/DWPose\n")
WAN_FILES = (
    "- `models/diffusion_models/wan2.2_animate_14B_bf16.safetensors` and `models/vae/wan_2.1_vae.safetensors` from "
    "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged\n"
    "- `models/text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors` and `models/clip_vision/clip_vision_h.safetensors`"
    " from https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged\n"
)
NOTES = {
    "pose_transfer": "## Pose transfer (MimicMotion)\nPut your picture as `input/reference.png` and the dance as "
    "`input/driving.mp4`, or pick your own files in the two load nodes.\n\n**Weights** (the pack never downloads "
    "them):\n" + DWPOSE_NOTE + MIMICMOTION_FILES + "\nA GPU with 16 GB or more is advised for 72-frame windows.",
    "talking_body": "## Talking body\nPut your picture as `input/reference.png` and the speech as "
    "`input/speech.wav`. One **fps** node sets the motion and the video frame rate, so sound and motion stay in "
    "sync.\n\n**Main branch** (procedural motion, no motion weights):\n" + DWPOSE_NOTE + "\n**Muted: learned "
    "motion** needs `models/embody/motion/my_motion.safetensors` (train it with Embody Train Motion Model).\n"
    "**Muted: talking person** needs the MimicMotion weights:\n" + MIMICMOTION_FILES +
    "\nSelect a muted group's nodes and press Ctrl+M to turn it on.",
    "talking_body_wan_animate": "## Talking body with Wan2.2-Animate (core)\nPut your picture as "
    "`input/reference.png` and the speech as `input/speech.wav`.\n\n**Weights:**\n" + DWPOSE_NOTE + WAN_FILES,
    "pose_transfer_wan_animate": "## Pose transfer with Wan2.2-Animate (core)\nPut your picture as "
    "`input/reference.png` and the dance as `input/dance.mp4`.\n\n**Weights:**\n" + DWPOSE_NOTE + WAN_FILES,
    "talking_body_regions": "## Talking body with a region codebook (hands, face)\nPut your picture as "
    "`input/reference.png` and the speech as `input/speech.wav`.\n\n**Weights:**\n" + DWPOSE_NOTE + MIMICMOTION_FILES +
    "- `models/embody/codebook/my_region_codebook.safetensors`: no public codebook exists; train one with Embody "
    "Train Region Codebook (an untrained one changes nothing).\n",
    "train_region_codebook": "## Train a region codebook (hands, face)\nPut a video of the person as "
    "`input/person.mp4`. Training needs a GPU at real sizes (README: training a region codebook); no public codebook "
    "exists, and the result goes to `models/embody/codebook/my_codebook.safetensors`.\n\n**Weights:**\n" +
    DWPOSE_NOTE + MIMICMOTION_FILES,
    "pose_and_hand_clarity": "## Pose and hand clarity\nPut a video as `input/dance.mp4` (or pick yours in the "
    "load node).\n\n**Weights:**\n" + DWPOSE_NOTE + "\nThe hand clarity plot shows which frames have crisp "
    "hands; the mask keeps only those.",
}


def pose_transfer() -> dict:
    return {
        "1": node("LoadImage", "Reference image", image="reference.png"),
        "2": node("LoadVideo", "Driving video", file="driving.mp4"),
        "3": node("GetVideoComponents", "Driving frames + fps", video=["2", 0]),
        "4": node("EmbodyPoseExtract", "Reference pose", image=["1", 0], pose_model=["15", 0], **EXTRACT),
        "5": node("EmbodyPoseExtract", "Driving poses (detect every 4th frame)", image=["3", 0], pose_model=["15", 0],
                  **{**EXTRACT, "detect_every": 4, "person": "tracked", "fps": ["3", 2]}),
        "6": node("EmbodyPoseAlign", "Fit driving poses to the reference body", driving=["5", 0],
                  reference=["4", 0], mode="official", fallback="largest", reference_person=0),
        "7": node("EmbodyPoseRender", "Driving pose guidance", pose=["6", 0], **RENDER),
        "8": node("EmbodyPoseRender", "Reference pose guidance (frame 0)", pose=["4", 0], **RENDER),
        "9": node("EmbodyVideoModelLoader", "MimicMotion 1.1 + SVD xt 1.1", mimicmotion="MimicMotion_1-1.pth",
                  svd_base="[diffusers] stable-video-diffusion-img2vid-xt-1-1", precision="auto", version="auto",
                  pose_net="(inside the MimicMotion file)"),
        "10": node("EmbodyFusionSchedule", "Progressive latent fusion (model defaults)", window=0, overlap=-1,
                   weighting="triangular", noise="repeated", anchor_reference=True, tail="official"),
        "11": node("EmbodySampler", "Embody Sampler", video_model=["9", 0], reference=["1", 0], poses=["7", 0],
                   reference_pose=["8", 0], fusion=["10", 0], steps=25, seed=42, cfg_min=2.0, cfg_max=2.0,
                   fps_condition=6, motion_bucket=127, noise_aug=0.0, pose_strength=1.0, pose_start=0.0,
                   pose_end=1.0, image_embed_strength=1.0, sigma_schedule="karras"),
        "12": node("EmbodyDecode", "Embody Decode", video_model=["9", 0], latent=["11", 0], chunk_size=8,
                   decode_on_cpu=False, keep_reference_frame=False),
        "13": node("CreateVideo", "Video at the source fps", images=["12", 0], fps=["3", 2]),
        "14": node("SaveVideo", "Save Video", video=["13", 0], filename_prefix="embody/pose_transfer",
                   format="mp4", **{"format.codec": "auto"}),
        "15": node("EmbodyDWPoseLoader", "DWPose models (models/dwpose)", **DWPOSE_FILES),
    }


def talking_body() -> dict:
    g = {
        "1": node("LoadImage", "Reference image", image="reference.png"),
        "2": node("EmbodyPoseExtract", "Reference pose", image=["1", 0], pose_model=["26", 0], **EXTRACT),
        "3": node("LoadAudio", "Speech", audio="speech.wav"),
        "20": node("PrimitiveFloat", "fps (motion and video)", value=25.0),
        "4": node("EmbodyAudioFeatures", "Audio features", audio=["3", 0], fps=["20", 0]),
        "5": node("EmbodyRhythmMotion", "Rhythm Motion (procedural, no weights)", reference=["2", 0],
                  features=["4", 0], seed=0, intensity=1.0, gesture_amount=1.0, nod_amount=1.0, box_enlarge=1.25,
                  person=0),
        "6": node("EmbodyPoseRender", "Pose guidance", pose=["5", 0], **RENDER),
        "7": node("CreateVideo", "Pose video with the speech", images=["6", 0], fps=["20", 0], audio=["3", 0]),
        "8": node("SaveVideo", "Save Video", video=["7", 0], filename_prefix="embody/talking_body", format="mp4",
                  **{"format.codec": "auto"}),
        # Live without any weights: the reference photo itself moved into the talking motion (pose warp).
        "23": node("EmbodyPoseWarp", "Pose Warp: the photo speaking (no weights)", reference_image=["1", 0],
                   reference_pose=["2", 0], driving_pose=["5", 0], person=0, refine_region=True, mesh_spacing=10),
        "24": node("CreateVideo", "Talking photo with the speech", images=["23", 0], fps=["20", 0], audio=["3", 0]),
        "25": node("SaveVideo", "Save the talking photo", video=["24", 0], filename_prefix="embody/talking_photo",
                   format="mp4", **{"format.codec": "auto"}),
        # Muted until you have trained a model (Train Motion Model node or python -m scripts.train_motion).
        "9": node("EmbodyMotionModelLoader", "Optional: your trained motion model", model_name="my_motion.safetensors"),
        "10": node("EmbodyAudioToMotion", "Optional: Audio To Motion (learned)", motion_model=["9", 0],
                   reference=["2", 0], audio_features=["4", 0], seed=0, steps=10, cfg=2.0, motion_scale=1.0,
                   person=0, window=0, overlap=-1),
        "11": node("EmbodyPoseRender", "Optional: learned pose guidance", pose=["10", 0], **RENDER),
        "12": node("CreateVideo", "Optional: learned pose video", images=["11", 0], fps=["20", 0], audio=["3", 0]),
        "13": node("SaveVideo", "Optional: save", video=["12", 0], filename_prefix="embody/talking_body_learned",
                   format="mp4", **{"format.codec": "auto"}),
        # Muted until the MimicMotion and SVD weights are in place: the talking pose drives the video model.
        "14": node("EmbodyVideoModelLoader", "Optional: MimicMotion 1.1 + SVD xt 1.1",
                   mimicmotion="MimicMotion_1-1.pth", svd_base="[diffusers] stable-video-diffusion-img2vid-xt-1-1",
                   precision="auto", version="auto", pose_net="(inside the MimicMotion file)"),
        "15": node("EmbodyPoseRender", "Optional: reference pose guidance (frame 0)", pose=["2", 0], **RENDER),
        "16": node("EmbodySampler", "Optional: Embody Sampler", video_model=["14", 0], reference=["1", 0],
                   poses=["6", 0], reference_pose=["15", 0], steps=25, seed=42, cfg_min=2.0, cfg_max=2.0,
                   fps_condition=6, motion_bucket=127, noise_aug=0.0, pose_strength=1.0, pose_start=0.0,
                   pose_end=1.0, image_embed_strength=1.0, sigma_schedule="karras",
                   # The pose warp guides the video model: sampling starts from the noised warp (SDEdit).
                   warp_init=["23", 0], init_strength=0.6),
        "17": node("EmbodyDecode", "Optional: Embody Decode", video_model=["14", 0], latent=["16", 0], chunk_size=8,
                   decode_on_cpu=False, keep_reference_frame=False),
        "18": node("CreateVideo", "Optional: talking person with the speech", images=["17", 0], fps=["20", 0],
                   audio=["3", 0]),
        "19": node("SaveVideo", "Optional: save the person video", video=["18", 0],
                   filename_prefix="embody/talking_person", format="mp4", **{"format.codec": "auto"}),
        "26": node("EmbodyDWPoseLoader", "DWPose models (models/dwpose)", **DWPOSE_FILES),
    }
    return g


def talking_body_regions() -> dict:
    """Speech -> procedural motion -> pose -> MimicMotion with a region codebook (hands and face) and its conditions."""
    return {
        "1": node("LoadImage", "Reference image", image="reference.png"),
        "2": node("EmbodyPoseExtract", "Reference pose (face and hand crops come from here)", image=["1", 0],
                  pose_model=["20", 0], **EXTRACT),
        "3": node("LoadAudio", "Speech", audio="speech.wav"),
        "4": node("EmbodyAudioFeatures", "Audio features at 25 fps", audio=["3", 0], fps=25.0),
        "5": node("EmbodyRhythmMotion", "Rhythm Motion (procedural, no weights)", reference=["2", 0],
                  features=["4", 0], seed=0, intensity=1.0, gesture_amount=1.0, nod_amount=1.0, box_enlarge=1.25,
                  person=0),
        "6": node("EmbodyPoseRender", "Pose guidance", pose=["5", 0], **RENDER),
        "7": node("EmbodyPoseRender", "Reference pose guidance (frame 0)", pose=["2", 0], **RENDER),
        "8": node("EmbodyBodyMovementMap", "Body movement map (chest box)", pose=["5", 0], mode="fixed size at chest",
                  enlarge=1.25, fixed_width=0.3, fixed_height=0.2, person=0, width=0, height=0),
        "9": node("EmbodyVideoModelLoader", "MimicMotion 1.1 + SVD xt 1.1", mimicmotion="MimicMotion_1-1.pth",
                  svd_base="[diffusers] stable-video-diffusion-img2vid-xt-1-1", precision="auto", version="auto",
                  pose_net="(inside the MimicMotion file)"),
        "10": node("EmbodyRegionCodebookLoader", "Your trained region codebook (hands, face)",
                   codebook="my_region_codebook.safetensors", precision="auto", strength=1.0),
        "11": node("EmbodySampler", "Embody Sampler with the region codebook", video_model=["9", 0],
                   reference=["1", 0], poses=["6", 0], reference_pose=["7", 0], steps=25, seed=42, cfg_min=2.0,
                   cfg_max=2.0, fps_condition=6, motion_bucket=127, noise_aug=0.0, pose_strength=1.0,
                   pose_start=0.0, pose_end=1.0, image_embed_strength=1.0, sigma_schedule="karras",
                   codebook=["10", 0], hand_clarity=-1.0, movement_map=["8", 0], reference_keypoints=["2", 0]),
        "12": node("EmbodyDecode", "Embody Decode", video_model=["9", 0], latent=["11", 0], chunk_size=8,
                   decode_on_cpu=False, keep_reference_frame=False),
        "13": node("CreateVideo", "Talking person with the speech", images=["12", 0], fps=25.0, audio=["3", 0]),
        "14": node("SaveVideo", "Save Video", video=["13", 0], filename_prefix="embody/talking_body_regions",
                   format="mp4", **{"format.codec": "auto"}),
        "20": node("EmbodyDWPoseLoader", "DWPose models (models/dwpose)", **DWPOSE_FILES),
    }


def pose_and_hands() -> dict:
    return {
        "1": node("LoadVideo", "Video", file="dance.mp4"),
        "2": node("GetVideoComponents", "Frames", video=["1", 0]),
        "3": node("EmbodyPoseExtract", "Whole-body pose with confidence", image=["2", 0], pose_model=["11", 0],
                  **{**EXTRACT, "detect_every": 4, "person": "tracked", "fps": ["2", 2]}),
        "4": node("EmbodyPoseSmooth", "Smooth (One Euro, confidence-aware)", pose=["3", 0], min_cutoff=1.0,
                  beta=0.05, d_cutoff=1.0, hold_below=0.3, full_above=0.8),
        "5": node("EmbodyHandClarity", "Hand clarity (std of Laplacian)", image=["2", 0], pose=["4", 0],
                  crop_side=64, threshold=8.0, aggregation="max", keep_frames_without_hands=True),
        "6": node("EmbodyPoseRender", "Confidence-aware pose", pose=["5", 0], **RENDER),
        "7": node("PreviewImage", "Pose", images=["6", 0]),
        # wide enough that the plot's axis labels read at the saved zoom (the default preview shrinks it to ~50 px)
        "8": node("PreviewImage", "Clarity plot", images=["5", 1], _size=(640, 300)),
        "9": node("EmbodyPoseToKeypoints", "POSE_KEYPOINT for controlnet_aux", pose=["5", 0], binarize=True,
                  include_body=True, include_hands=True, include_face=True, include_feet=False),
        "10": node("PreviewAny", "Keypoints JSON", source=["9", 0]),
        "11": node("EmbodyDWPoseLoader", "DWPose models (models/dwpose)", **DWPOSE_FILES),
    }


TRAIN_REGION = {"width": 512, "height": 512, "fps": 15.0, "clip_frames": 16, "steps": 2000, "batch_size": 1,
                "grad_accum": 4, "learning_rate": 1e-4, "dim": 0, "bf16": True, "gradient_checkpointing": True,
                "lora_rank": 0, "region_weight": 1.0, "hand_amplification": 10.0, "min_hand_clarity": 0.0,
                "resume": True, "seed": 0}


def train_region_codebook() -> dict:
    return {
        "1": node("LoadVideo", "Video of the person", file="person.mp4"),
        "2": node("GetVideoComponents", "Frames", video=["1", 0]),
        "3": node("EmbodyPoseExtract", "Whole-body pose", image=["2", 0], pose_model=["9", 0],
                  **{**EXTRACT, "person": "tracked", "fps": ["2", 2]}),
        "4": node("EmbodyHandClarity", "Hand clarity (the clarity condition)", image=["2", 0], pose=["3", 0],
                  crop_side=64, threshold=8.0, aggregation="max", keep_frames_without_hands=True),
        "5": node("EmbodyVideoModelLoader", "MimicMotion 1.1 + SVD xt 1.1 (bf16 for training)",
                  mimicmotion="MimicMotion_1-1.pth", svd_base="[diffusers] stable-video-diffusion-img2vid-xt-1-1",
                  precision="bf16", version="auto", pose_net="(inside the MimicMotion file)"),
        "6": node("EmbodyTrainRegionCodebook", "Train the face / hand codebook", video_model=["5", 0],
                  output_name="my_codebook", frames=["2", 0], pose=["4", 0], **TRAIN_REGION),
        "7": node("PreviewImage", "Loss curve", images=["6", 1]),
        "8": node("PreviewAny", "Saved to", source=["6", 2]),
        "9": node("EmbodyDWPoseLoader", "DWPose models (models/dwpose)", **DWPOSE_FILES),
    }


# Wan2.2-Animate in ComfyUI core (weights: README "Weights"); Embody supplies the pose, face and mask inputs and the
# context windows that let KSampler render clips longer than one Wan window.
WAN_SIZE = {"width": 832, "height": 480}


def _wan_half(g: dict, reference: list, inputs_node: str, length: object, fps: object, audio: list,
              prefix: str) -> dict:
    """Core Wan2.2-Animate sampling from EmbodyWanAnimateInputs' outputs (node ids 30+)."""
    g.update({
        "30": node("UNETLoader", "Wan2.2-Animate 14B", unet_name="wan2.2_animate_14B_bf16.safetensors",
                   weight_dtype="default"),
        "31": node("CLIPLoader", "umT5 text encoder", clip_name="umt5_xxl_fp8_e4m3fn_scaled.safetensors", type="wan",
                   device="default"),
        "32": node("VAELoader", "Wan VAE", vae_name="wan_2.1_vae.safetensors"),
        "33": node("CLIPVisionLoader", "CLIP vision H", clip_name="clip_vision_h.safetensors"),
        "34": node("CLIPVisionEncode", "Reference for CLIP vision", clip_vision=["33", 0], image=reference,
                   crop="none"),
        "35": node("CLIPTextEncode", "Prompt", clip=["31", 0],
                   text="a person moving naturally, steady camera, natural light"),
        "36": node("CLIPTextEncode", "Negative prompt", clip=["31", 0],
                   text="blurry, distorted hands, extra limbs, flicker, low quality"),
        "37": node("WanAnimateToVideo", "Wan Animate to video", positive=["35", 0], negative=["36", 0],
                   vae=["32", 0], **WAN_SIZE, length=length, batch_size=1, clip_vision_output=["34", 0],
                   reference_image=reference, face_video=[inputs_node, 1], pose_video=[inputs_node, 0],
                   continue_motion_max_frames=5, video_frame_offset=0),
        "38": node("ModelSamplingSD3", "Shift 8 (Wan)", model=["30", 0], shift=8.0),
        "39": node("EmbodyFusionSchedule", "Fusion for long clips (77-frame windows)", window=77, overlap=17,
                   weighting="triangular", noise="repeated", anchor_reference=True, tail="official"),
        "40": node("EmbodyContextWindows", "Embody context windows (reference in every window)",
                   model=["38", 0], fusion=["39", 0], dim=-1),
        "41": node("KSampler", "KSampler", model=["40", 0], seed=42, steps=20, cfg=5.0, sampler_name="euler",
                   scheduler="simple", positive=["37", 0], negative=["37", 1], latent_image=["37", 2], denoise=1.0),
        "42": node("TrimVideoLatent", "Drop the reference latent", samples=["41", 0], trim_amount=["37", 3]),
        "43": node("VAEDecode", "Decode", samples=["42", 0], vae=["32", 0]),
        "44": node("CreateVideo", "Video with the audio", images=["43", 0], fps=fps, audio=audio),
        "45": node("SaveVideo", "Save Video", video=["44", 0], filename_prefix=prefix, format="mp4",
                   **{"format.codec": "auto"}),
    })
    return g


def talking_body_wan_animate() -> dict:
    g = {
        "1": node("LoadImage", "Reference image", image="reference.png"),
        "2": node("EmbodyPoseExtract", "Reference pose", image=["1", 0], pose_model=["20", 0], **EXTRACT),
        "3": node("LoadAudio", "Speech", audio="speech.wav"),
        "4": node("EmbodyAudioFeatures", "Audio features at 16 fps (Wan's rate)", audio=["3", 0], fps=16.0),
        "5": node("EmbodyRhythmMotion", "Rhythm Motion (procedural, no weights)", reference=["2", 0],
                  features=["4", 0], seed=0, intensity=1.0, gesture_amount=1.0, nod_amount=1.0, box_enlarge=1.25,
                  person=0),
        # The photo itself moved into the talking motion (weight-free pose warp): Wan-Animate's face video is cut
        # from these frames, so the face crops show the mouth opening with the speech.
        "8": node("EmbodyPoseWarp", "Pose Warp: the photo speaking (face video source)", reference_image=["1", 0],
                  reference_pose=["2", 0], driving_pose=["5", 0], person=0, refine_region=True, mesh_spacing=10),
        "6": node("EmbodyWanAnimateInputs", "Embody Wan-Animate inputs", pose=["5", 0], **WAN_SIZE, frames=["8", 0],
                  person=0, face_scale=1.3, face_smooth=5, mask_margin=0.08, draw_hands=True, draw_head=True),
        "7": node("PreviewImage", "Pose video", images=["6", 0]),
        "20": node("EmbodyDWPoseLoader", "DWPose models (models/dwpose)", **DWPOSE_FILES),
    }
    return _wan_half(g, ["1", 0], "6", ["4", 1], 16.0, ["3", 0], "embody/talking_body_wan_animate")


def pose_transfer_wan_animate() -> dict:
    g = {
        "1": node("LoadImage", "Reference image", image="reference.png"),
        "2": node("LoadVideo", "Driving video", file="dance.mp4"),
        "3": node("GetVideoComponents", "Driving frames + fps", video=["2", 0]),
        "4": node("EmbodyPoseExtract", "Reference pose", image=["1", 0], pose_model=["20", 0], **EXTRACT),
        "5": node("EmbodyPoseExtract", "Driving poses (detect every 4th frame)", image=["3", 0], pose_model=["20", 0],
                  **{**EXTRACT, "detect_every": 4, "person": "tracked", "fps": ["3", 2]}),
        "6": node("EmbodyPoseSmooth", "Smooth (One Euro, confidence-aware)", pose=["5", 0], min_cutoff=1.0,
                  beta=0.05, d_cutoff=1.0, hold_below=0.3, full_above=0.8),
        "7": node("EmbodyPoseAlign", "Retarget to the reference body (bone lengths)", driving=["6", 0],
                  reference=["4", 0], mode="retarget", fallback="largest", reference_person=0),
        "8": node("EmbodyWanAnimateInputs", "Embody Wan-Animate inputs", pose=["7", 0], **WAN_SIZE,
                  frames=["3", 0], person=0, face_scale=1.3, face_smooth=5, mask_margin=0.08, draw_hands=True,
                  draw_head=True),
        "9": node("PreviewImage", "Pose video", images=["8", 0]),
        "10": node("PreviewImage", "Face crops", images=["8", 1]),
        "11": node("GetImageSize", "Driving length", image=["3", 0]),
        "20": node("EmbodyDWPoseLoader", "DWPose models (models/dwpose)", **DWPOSE_FILES),
    }
    return _wan_half(g, ["1", 0], "8", ["11", 2], ["3", 2], ["3", 1], "embody/pose_transfer_wan_animate")


def staged(graph: dict, stages: dict[str, list[str]]) -> dict:
    """Name the titled group (stage) of each node; stages whose name starts with 'Optional' are laid out apart."""
    for stage, ids in stages.items():
        for i in ids:
            graph[i]["_meta"]["stage"] = stage
    return graph


STAGES = {
    "pose_transfer": {"1 · Reference picture": ["1", "15", "4", "8"],
                      "2 · Driving video → aligned poses": ["2", "3", "5", "6", "7"],
                      "3 · MimicMotion": ["9", "10", "11"], "4 · Video": ["12", "13", "14"]},
    "talking_body": {"1 · Reference picture": ["1", "26", "2"], "2 · Speech": ["3", "20", "4"],
                     "3 · Motion (procedural)": ["5", "6"], "4 · Pose video with sound": ["7", "8"],
                     "5 · The photo speaking (pose warp, no weights)": ["23", "24", "25"],
                     "Optional (muted): learned motion": ["9", "10", "11", "12", "13"],
                     "Optional (muted): talking person with MimicMotion": ["14", "15", "16", "17", "18", "19"]},
    "talking_body_regions": {"1 · Reference picture": ["20", "1", "2", "7"],
                             "2 · Speech → motion": ["3", "4", "5", "6", "8"],
                             "3 · MimicMotion + region codebook": ["9", "10", "11"], "4 · Video": ["12", "13", "14"]},
    "pose_and_hand_clarity": {"1 · Video": ["1", "2"], "2 · Pose": ["11", "3", "4", "6", "7"], "3 · Hands": ["5", "8"],
                              "4 · Export": ["9", "10"]},
}
_GRAPHS = {"pose_transfer": pose_transfer, "talking_body": talking_body, "pose_and_hand_clarity": pose_and_hands,
           "talking_body_wan_animate": talking_body_wan_animate,
           "pose_transfer_wan_animate": pose_transfer_wan_animate, "talking_body_regions": talking_body_regions,
           "train_region_codebook": train_region_codebook}


def _example(name: str):
    def make() -> dict:
        graph = _GRAPHS[name]()
        return staged(graph, {k: [i for i in v if i in graph] for k, v in STAGES.get(name, {}).items()})
    return make


EXAMPLES = {name: _example(name) for name in _GRAPHS}

if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, make in EXAMPLES.items():
        graph = make()
        if name in NOTES:
            graph["_note"] = NOTES[name]
        (out / f"{name}_api.json").write_text(json.dumps(graph, indent=1))
