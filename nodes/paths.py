"""Model folders Embody reads from, registered with ComfyUI's folder_paths (explicit extensions, .onnx included).

The pack never downloads anything: users place the files, and a missing file gives an error naming the file,
the folders searched and where to get it.
"""

from __future__ import annotations

import os

import folder_paths

PT_EXTENSIONS = {".safetensors", ".pth", ".pt", ".ckpt", ".bin"}

# folder key -> (sub-folder of models/, extensions)
MODEL_FOLDERS: dict[str, tuple[str, set[str]]] = {
    "dwpose": ("dwpose", {".onnx"}),
    "mimicmotion": ("mimicmotion", {".pth", ".safetensors"}),
    "embody_motion": (os.path.join("embody", "motion"), {".safetensors"}),
    "embody_codebook": (os.path.join("embody", "codebook"), {".safetensors"}),
}

# Where users get each kind of file (shown in missing-file errors).
WHERE_TO_GET = {
    "dwpose": "yolox_l.onnx and dw-ll_ucoco_384.onnx from https://huggingface.co/yzd-v/DWPose",
    "mimicmotion": "MimicMotion_1-1.pth from https://huggingface.co/tencent/MimicMotion",
    "embody_motion": "train one with the Embody Train Motion Model node or `python -m scripts.train_motion`",
    "embody_codebook": "train one with the Embody Train Region Codebook node",
    "diffusers": "stabilityai/stable-video-diffusion-img2vid-xt-1-1 (vae/, image_encoder/, feature_extractor/, "
    "scheduler/) from https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt-1-1",
    "checkpoints": "svd_xt_1_1.safetensors from https://huggingface.co/stabilityai/stable-video-diffusion-img2vid-xt-1-1",
}


def register_model_folders() -> None:
    """Add Embody's folders (idempotent); keeps any paths users added through extra_model_paths.yaml."""
    for key, (sub, exts) in MODEL_FOLDERS.items():
        default = os.path.join(folder_paths.models_dir, sub)
        if key in folder_paths.folder_names_and_paths:
            paths, old_exts = folder_paths.folder_names_and_paths[key]
            if default not in paths:
                paths.append(default)
            folder_paths.folder_names_and_paths[key] = (paths, set(old_exts) | exts)
        else:
            folder_paths.folder_names_and_paths[key] = ([default], set(exts))


def list_files(key: str) -> list[str]:
    register_model_folders()
    return folder_paths.get_filename_list(key)


def resolve(key: str, name: str) -> str:
    """Full path of a model file, or a FileNotFoundError naming the file, the folders searched and the source."""
    register_model_folders()
    path = folder_paths.get_full_path(key, name)
    if path is None:
        folders = folder_paths.get_folder_paths(key)
        raise FileNotFoundError(
            f"Embody could not find the model file {name!r} in {folders}. "
            f"Put it there (get {WHERE_TO_GET.get(key, 'it from its publisher')}), then refresh the node list."
        )
    return path
