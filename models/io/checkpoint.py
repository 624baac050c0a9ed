"""Safe loading of weight files and a coarse guess of which model family a state dict belongs to.

Pickled files (.pth/.pt/.ckpt/.bin) load only with ``torch.load(weights_only=True)``; safetensors load lazily and can be
filtered by key prefix so a 4.8 GB single-file checkpoint does not have to be read whole. Every failure becomes a
ValueError / FileNotFoundError that names the file and says what was expected.
"""

from __future__ import annotations

import logging
import os
import pickle
import zipfile
from collections.abc import Iterable, Mapping

import torch

logger = logging.getLogger(__name__)

SAFETENSORS_EXTS = (".safetensors", ".sft")
PICKLE_EXTS = (".pth", ".pt", ".ckpt", ".bin")

# Human names for the families ``sniff_family`` returns (used in "this looks like X, not Y" errors).
FAMILY_NAMES: dict[str, str] = {
    "mimicmotion": "a MimicMotion checkpoint (unet.* + pose_net.*)",
    "svd_unet": "a spatio-temporal (SVD / MimicMotion) UNet in diffusers layout",
    "posenet": "a MimicMotion PoseNet",
    "svd": "a Stable Video Diffusion single-file checkpoint",
    "sd15": "a Stable Diffusion 1.x checkpoint",
    "sd2": "a Stable Diffusion 2.x checkpoint",
    "sdxl": "an SDXL checkpoint",
    "sd3": "a Stable Diffusion 3 checkpoint",
    "flux": "a Flux model",
    "unet2d": "an image (2-D) diffusers UNet",
    "vae": "a VAE on its own",
    "clip_vision": "a CLIP vision encoder on its own",
    "unknown": "an unrecognised model",
}


def _expectation(expected: str | None) -> str:
    return f" Expected {expected}." if expected else ""


def _check_file(path: str | os.PathLike, expected: str | None) -> str:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Model file not found: {path!r}.{_expectation(expected)}")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a folder, not a weight file.{_expectation(expected)}")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path!r} is empty (0 bytes): the download did not finish. Download it again.")
    _check_not_placeholder(path, expected)
    return path


def _check_not_placeholder(path: str, expected: str | None) -> None:
    """Name the two most common non-weight files saved under a weight file's name: Git LFS pointers (a repository
    cloned without git-lfs) and HTML pages (a download that needed a login or failed)."""
    with open(path, "rb") as f:
        head = f.read(512)
    size = os.path.getsize(path)
    if head.startswith(b"version https://git-lfs"):
        raise ValueError(
            f"{path!r} is a Git LFS pointer ({size} bytes), not the weights: the repository was cloned without "
            f"git-lfs. Download the file itself (git lfs pull, or the download button on the model page)."
            f"{_expectation(expected)}"
        )
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        raise ValueError(
            f"{path!r} is a web page ({size} bytes of HTML), not the weights: the download failed or needed a "
            f"login. Download the file again from the model page.{_expectation(expected)}"
        )


def _load_safetensors(path: str, prefixes: tuple[str, ...] | None, expected: str | None) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    try:
        out: dict[str, torch.Tensor] = {}
        with safe_open(path, framework="pt", device="cpu") as f:
            for key in f.keys():
                if prefixes is None or key.startswith(prefixes):
                    out[key] = f.get_tensor(key)
        return out
    except Exception as exc:  # safetensors raises its own SafetensorError / OSError types
        raise ValueError(
            f"Could not read {path!r} as safetensors ({exc}). The file is truncated or not a safetensors file; "
            f"download it again.{_expectation(expected)}"
        ) from exc


def _load_pickle(path: str, expected: str | None) -> object:
    with open(path, "rb") as f:
        head = f.read(4)
    # torch.save writes a zip archive ("PK\x03\x04"); the legacy format starts with a pickle protocol opcode 0x80.
    if not head.startswith(b"PK\x03\x04") and head[:1] != b"\x80":
        raise ValueError(
            f"{path!r} is not a PyTorch weight file (it starts with {head!r}, neither a zip archive nor a pickle); "
            f"it is corrupt or another kind of file. Download it again.{_expectation(expected)}"
        )
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc).lower():
                raise
            return torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower():  # e.g. "invalid load key": not a pickle at all
            raise ValueError(
                f"{path!r} is not a PyTorch weight file ({exc}); it is corrupt or another kind of file. Download it "
                f"again.{_expectation(expected)}"
            ) from exc
        raise ValueError(
            f"{path!r} contains Python objects other than tensors, so Embody will not load it (pickles can run "
            f"code; only weights_only loading is allowed). Use a plain state-dict file or a .safetensors "
            f"conversion.{_expectation(expected)}"
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise ValueError(
            f"Could not read {path!r} as a PyTorch weight file ({exc}). The file is probably truncated or "
            f"corrupt; download it again.{_expectation(expected)}"
        ) from exc


def _unwrap(obj: object, path: str, expected: str | None) -> dict[str, torch.Tensor]:
    # Lightning / training checkpoints wrap the weights; take the wrapped dict.
    if isinstance(obj, Mapping):
        for wrapper in ("state_dict", "module", "model"):
            inner = obj.get(wrapper)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not obj:
        kind = type(obj).__name__ if not isinstance(obj, Mapping) else "an empty dict"
        raise ValueError(f"{path!r} holds {kind}, not a state dict of tensors.{_expectation(expected)}")
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"{path!r} is a dict without tensors, not a state dict.{_expectation(expected)}")
    skipped = len(obj) - len(tensors)
    if skipped:
        logger.info("%s: ignored %d non-tensor entries", path, skipped)
    return tensors


def load_state_dict(
    path: str | os.PathLike, prefixes: Iterable[str] | None = None, expected: str | None = None
) -> dict[str, torch.Tensor]:
    """Load a weight file into a CPU state dict.

    Args:
        path: .safetensors (lazy) or .pth/.pt/.ckpt/.bin (``torch.load(weights_only=True)``, memory-mapped if possible).
        prefixes: keep only keys starting with one of these (read selectively for safetensors).
        expected: what the caller expects, appended to error messages ("a MimicMotion checkpoint").
    Returns:
        {key: tensor} on CPU, in the file's dtypes.
    Raises:
        FileNotFoundError for a missing file; ValueError for a truncated/corrupt file, a pickle with non-tensor
        objects, or a file that is not a state dict.
    """
    path = _check_file(path, expected)
    prefix_tuple = tuple(prefixes) if prefixes is not None else None
    if path.lower().endswith(SAFETENSORS_EXTS):
        sd = _load_safetensors(path, prefix_tuple, expected)
    else:
        sd = _unwrap(_load_pickle(path, expected), path, expected)
        if prefix_tuple is not None:
            sd = {k: v for k, v in sd.items() if k.startswith(prefix_tuple)}
    if not sd:
        what = f" with keys starting {list(prefix_tuple)}" if prefix_tuple else ""
        raise ValueError(f"{path!r} holds no tensors{what}.{_expectation(expected)}")
    return sd


def read_keys(path: str | os.PathLike, expected: str | None = None) -> list[str]:
    """Key names of a weight file; cheap for safetensors (header only), a full memory-mapped load for pickles."""
    path = _check_file(path, expected)
    if path.lower().endswith(SAFETENSORS_EXTS):
        from safetensors import safe_open

        try:
            with safe_open(path, framework="pt", device="cpu") as f:
                return list(f.keys())
        except Exception as exc:
            raise ValueError(
                f"Could not read {path!r} as safetensors ({exc}). The file is truncated or not a safetensors "
                f"file; download it again.{_expectation(expected)}"
            ) from exc
    return list(load_state_dict(path, expected=expected))


def strip_prefix(sd: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keys under ``prefix`` with the prefix removed."""
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def sniff_family(keys: Iterable[str]) -> str:
    """Guess the model family of a state dict from its key names (a key in ``FAMILY_NAMES``).

    The signatures are key names every checkpoint of that family has (SGM/ldm, diffusers and BFL layouts).
    """
    ks = set(keys)

    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in ks)

    def contains(part: str) -> bool:
        return any(part in k for k in ks)

    if has("unet.") and has("pose_net."):
        return "mimicmotion"
    if {"conv_layers.0.weight", "final_proj.weight", "scale"} <= ks or "pose_net.final_proj.weight" in ks:
        return "posenet"
    if "conv_in.weight" in ks and contains("spatial_res_block") or has("unet.") and contains("spatial_res_block"):
        return "svd_unet"
    if has("double_blocks.") or has("model.diffusion_model.double_blocks.") or contains("img_in.weight"):
        return "flux"
    if contains("joint_blocks.0."):
        return "sd3"
    if has("model.diffusion_model.") and contains(".time_stack.") and contains("time_mixer"):
        return "svd"
    if has("conditioner.embedders.1.model.") or has("model.diffusion_model.label_emb.") and has("conditioner."):
        return "sdxl"
    if has("cond_stage_model.model."):
        return "sd2"
    if has("cond_stage_model.transformer.") or has("model.diffusion_model.input_blocks."):
        return "sd15"
    if "conv_in.weight" in ks and has("down_blocks.") and has("up_blocks."):
        return "unet2d"
    if has("encoder.conv_in.") and has("decoder.conv_in."):
        return "vae"
    if has("vision_model.embeddings.") or has("visual.conv1."):
        return "clip_vision"
    return "unknown"


def describe_family(keys: Iterable[str]) -> str:
    return FAMILY_NAMES[sniff_family(keys)]
