"""MimicMotion model loading and decoding nodes (thin glue over models/video)."""

from __future__ import annotations

import logging
import os

import comfy.model_management as mm
import comfy.model_patcher
import comfy.utils
import folder_paths
import torch

from ..models.video.components import MODULE_GROUPS, VideoModel, vae_decode_memory_bytes
from ..models.video.decode import check_video_latent, decode_latents
from ..models.video.loader import auto_weight_dtype, load_video_model
from ..models.video.progress_text import frames_text
from ._api import CATEGORY, EmbodyVideoModel, io, progress_text
from .paths import WHERE_TO_GET, list_files, resolve

logger = logging.getLogger(__name__)

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
POSE_NET_IN_FILE = "(inside the MimicMotion file)"
DIFFUSERS_TAG, CHECKPOINT_TAG = "[diffusers] ", "[checkpoints] "
NONE_FOUND = "(no SVD base found)"


def _svd_folders() -> list[str]:
    """Diffusers folders (one or two levels deep, e.g. org/name) under models/diffusers with vae/ + image_encoder/.

    Symlinked folders are followed (models kept on another drive are often linked in); the depth limit keeps a
    link loop finite."""
    found = []
    for root in folder_paths.get_folder_paths("diffusers"):
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, _ in os.walk(root, followlinks=True):
            depth = os.path.relpath(dirpath, root).count(os.sep)
            if {"vae", "image_encoder"} <= set(dirnames):
                found.append(os.path.relpath(dirpath, root))
                dirnames.clear()
            elif depth >= 1:
                dirnames.clear()
    return sorted(set(found))


def _svd_choices() -> list[str]:
    folders = [DIFFUSERS_TAG + f for f in _svd_folders()]
    ckpts = list_files("checkpoints")
    # SVD-looking single files first; any checkpoint can be picked and is checked on load.
    ckpts.sort(key=lambda n: (not any(s in n.lower() for s in ("svd", "stable-video", "stable_video")), n))
    return folders + [CHECKPOINT_TAG + c for c in ckpts] or [NONE_FOUND]


def _resolve_svd(choice: str) -> str:
    if choice.startswith(DIFFUSERS_TAG):
        name = choice[len(DIFFUSERS_TAG):]
        for root in folder_paths.get_folder_paths("diffusers"):
            path = os.path.join(root, name)
            if os.path.isdir(path):
                return path
        raise FileNotFoundError(
            f"Embody could not find the diffusers folder {name!r} in {folder_paths.get_folder_paths('diffusers')}. "
            f"Get {WHERE_TO_GET['diffusers']}."
        )
    if choice.startswith(CHECKPOINT_TAG):
        return resolve("checkpoints", choice[len(CHECKPOINT_TAG):])
    raise FileNotFoundError(
        f"No SVD base selected ({choice!r}). Put {WHERE_TO_GET['diffusers']} into models/diffusers, or "
        f"{WHERE_TO_GET['checkpoints']} into models/checkpoints, then refresh."
    )


def _size_in_use(module: torch.nn.Module, dtype: torch.dtype) -> int:
    """Bytes of ``module``'s state dict with its floating tensors in the compute ``dtype``."""
    item = torch.finfo(dtype).bits // 8
    return sum(t.numel() * (item if t.is_floating_point() else t.element_size()) for t in module.state_dict().values())


def _attach_model_management(vm: VideoModel) -> VideoModel:
    """One ModelPatcher per module group so ComfyUI offloads the video model like a core model."""
    c = vm.components
    load = mm.get_torch_device()
    # Plain containers: ModelPatcher assigns ``.device`` on its model, which diffusers/transformers make read-only.
    groups = {g: torch.nn.ModuleDict({n: c.module(n) for n in names}) for g, names in MODULE_GROUPS.items()}
    offload = {"unet": mm.unet_offload_device(), "vae": mm.vae_offload_device(),
               "image_encoder": mm.unet_offload_device()}
    # Size = the group's weights in the compute dtype, i.e. while in use (idle modules may be stored in fp16 and
    # are cast when prepared; ModelPatcher would otherwise cache the idle size when first asked).
    vm.patchers = {g: comfy.model_patcher.ModelPatcher(groups[g], load, offload[g],
                                                       size=_size_in_use(groups[g], c.dtype)) for g in MODULE_GROUPS}

    def load_fn(names: list[str], memory_required: int = 0) -> torch.device:
        # Full loads: diffusers/transformers modules do not use comfy.ops, so partial (lowvram) loads cannot run.
        # memory_required (activations) makes ComfyUI unload other models, e.g. the CLIP encoder before sampling.
        mm.load_models_gpu([vm.patchers[n] for n in names], memory_required=memory_required, force_full_load=True)
        return load

    vm.load_fn = load_fn
    vm.device = load
    return vm


class EmbodyVideoModelLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyVideoModelLoader",
            display_name="Embody Video Model Loader (MimicMotion)",
            category=f"{CATEGORY}/video",
            description="Loads MimicMotion (official .pth or a .safetensors conversion) on top of Stable Video "
            "Diffusion img2vid xt 1.1 (its VAE and CLIP image encoder). The model is offloaded and reloaded by "
            "ComfyUI like any core model.",
            inputs=[
                io.Combo.Input("mimicmotion", options=list_files("mimicmotion") or ["(put MimicMotion_1-1.pth in "
                               "models/mimicmotion)"], tooltip="MimicMotion weights from models/mimicmotion: "
                               "MimicMotion_1-1.pth (72-frame model) or MimicMotion_1.pth (16-frame model), or a "
                               "safetensors conversion."),
                io.Combo.Input("svd_base", options=_svd_choices(), tooltip="Stable Video Diffusion img2vid xt 1.1: a "
                               "diffusers folder in models/diffusers (vae/, image_encoder/, feature_extractor/, "
                               "scheduler/; its unet/ is not needed) or the single file svd_xt_1_1.safetensors in "
                               "models/checkpoints."),
                io.Combo.Input("precision", options=["auto", *DTYPES], default="auto", tooltip="Weight precision. "
                               "auto: fp16 (the official choice) where the device runs it well, else fp32 (e.g. "
                               "on a CPU). bf16 suits recent GPUs; fp32 needs twice the memory."),
                io.Combo.Input("version", options=["auto", "1.1", "1.0"], default="auto", tooltip="MimicMotion "
                               "version; sets the default fusion window (1.1: 72 frames, overlap 6; 1.0: 16/4). "
                               "auto reads it from the file name (1-1 / 1.1), else assumes 1.1."),
                io.Combo.Input("pose_net", options=[POSE_NET_IN_FILE, *list_files("mimicmotion")],
                               default=POSE_NET_IN_FILE, tooltip="Only for UNet-only files (e.g. kijai's "
                               "MimicMotionMergedUnet): the separate PoseNet file. Official .pth files hold both."),
            ],
            outputs=[EmbodyVideoModel.Output(display_name="video_model", tooltip="MimicMotion UNet + PoseNet, SVD "
                                             "VAE and CLIP image encoder, scheduler config and version defaults.")],
        )

    @classmethod
    def execute(cls, mimicmotion, svd_base, precision, version, pose_net) -> io.NodeOutput:
        mm_path = resolve("mimicmotion", mimicmotion)
        pose_path = None if pose_net == POSE_NET_IN_FILE else resolve("mimicmotion", pose_net)
        device = mm.get_torch_device()
        if precision == "auto":
            dtype, why = auto_weight_dtype(device, mm.should_use_fp16(device))
            logger.info("Embody Video Model Loader: precision auto -> %s", why)
        else:
            dtype = DTYPES[precision]
        # On a CPU with fp32 compute, idle modules stay in their files' fp16 and are cast only while in use.
        vm = load_video_model(mm_path, _resolve_svd(svd_base), dtype, None if version == "auto" else version,
                              pose_path, idle_storage=device.type == "cpu" and dtype == torch.float32)
        return io.NodeOutput(_attach_model_management(vm))


def _cpu_vae(vm: VideoModel) -> torch.nn.Module:
    vm.components.set_in_use(["vae"])  # fp32 while decoding when idle modules are kept in fp16
    vae = vm.components.vae
    patcher = vm.patchers.get("vae")
    if patcher is not None and next(vae.parameters()).device.type != "cpu":
        unload = getattr(mm, "unload_model_and_clones", None)
        if unload is not None:
            unload(patcher)
    if next(vae.parameters()).device.type != "cpu":  # offload device is not the CPU (e.g. --gpu-only)
        copy = type(vae).from_config(vae.config)
        copy.load_state_dict({k: v.to("cpu") for k, v in vae.state_dict().items()})
        vae = copy.to(vm.dtype).eval()
    return vae


class EmbodyDecode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyDecode",
            display_name="Embody Decode (MimicMotion)",
            category=f"{CATEGORY}/video",
            description="Decodes MimicMotion latents to frames with SVD's temporal VAE decoder, a few frames at a "
            "time. Drops the reference frame (frame 0) like the official pipeline unless asked to keep it.",
            inputs=[
                EmbodyVideoModel.Input("video_model", tooltip="From Embody Video Model Loader."),
                io.Latent.Input("latent", tooltip="Video latents from Embody Sampler (frame 0 = reference frame)."),
                io.Int.Input("chunk_size", default=8, min=1, max=128, tooltip="Frames decoded together (official 8). "
                             "Lower it if decoding runs out of memory; it halves itself on out-of-memory."),
                io.Boolean.Input("decode_on_cpu", default=False, tooltip="Decode on the CPU: slow, but needs no "
                                 "GPU memory (the official tip for 8 GB cards)."),
                io.Boolean.Input("keep_reference_frame", default=False, tooltip="Keep frame 0 (the generated "
                                 "reference frame) in the output; the official pipeline drops it."),
            ],
            hidden=[io.Hidden.unique_id],
            outputs=[io.Image.Output(display_name="images", tooltip="Decoded frames [F, H, W, 3], 0..1.")],
        )

    @classmethod
    def execute(cls, video_model, latent, chunk_size, decode_on_cpu, keep_reference_frame) -> io.NodeOutput:
        samples = check_video_latent(latent, "latent")  # names a wrong latent before the VAE is loaded
        total = samples.shape[0]
        if decode_on_cpu:
            vae = _cpu_vae(video_model)
        else:
            lh, lw = samples.shape[-2:]
            video_model.prepare(["vae"], vae_decode_memory_bytes(min(chunk_size, total), lh, lw, video_model.dtype))
            vae = video_model.components.vae
        pbar = comfy.utils.ProgressBar(total)

        node_id = cls.hidden.unique_id

        def progress(done: int, frames: int) -> None:
            pbar.update_absolute(done, frames)
            progress_text(node_id, frames_text("decoding", done, frames), final=done >= frames)
            mm.throw_exception_if_processing_interrupted()

        images = decode_latents(vae, samples, chunk_size=chunk_size, keep_reference_frame=keep_reference_frame,
                                output_device=mm.intermediate_device(), progress=progress)
        return io.NodeOutput(images)


NODES = [EmbodyVideoModelLoader, EmbodyDecode]
