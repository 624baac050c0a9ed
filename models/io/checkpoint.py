"""Safe loading of weight files and a coarse guess of which model family a state dict belongs to.

Pickled files (.pth/.pt/.ckpt/.bin) load only with ``torch.load(weights_only=True)``; safetensors load lazily and can be
filtered by key prefix so a 4.8 GB single-file checkpoint does not have to be read whole. Every failure becomes a
ValueError / FileNotFoundError that names the file and says what was expected.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import sys
import zipfile
from collections.abc import Iterable, Mapping

import torch

from .weight_file import check_weight_file, expectation

__all__ = ["check_weight_file", "describe_family", "load_state_dict", "read_keys", "sniff_family", "strip_prefix"]

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
            f"download it again.{expectation(expected)}"
        ) from exc


# safetensors dtype names (the format's header) -> torch dtypes, for ``_read_safetensors``.
_ST_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
              "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
              "BOOL": torch.bool}


_ST_MAX_HEADER = 100_000_000


def _read_safetensors(path: str, prefixes: tuple[str, ...] | None, expected: str | None) -> dict[str, torch.Tensor]:
    """Read each tensor into its own ordinary memory (no memory map), so each is freed on its own when dropped.

    A memory-mapped file stays resident as long as any tensor from it lives, so a loader that casts tensor by
    tensor would hold the whole file next to the cast model. Falls back to the mapped reader for dtypes not listed.
    """
    try:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if size > _ST_MAX_HEADER:  # the safetensors library's own bound: a bigger "header" is not one
                raise ValueError(f"header of {size} bytes is larger than safetensors allows")
            header = json.loads(f.read(size))
            base = 8 + size
            if any(v["dtype"] not in _ST_DTYPES for k, v in header.items() if k != "__metadata__"):
                return _load_safetensors(path, prefixes, expected)
            out: dict[str, torch.Tensor] = {}
            for key, info in header.items():
                if key == "__metadata__" or (prefixes is not None and not key.startswith(prefixes)):
                    continue
                start, end = info["data_offsets"]
                raw = torch.empty(end - start, dtype=torch.uint8)
                f.seek(base + start)
                if f.readinto(raw.numpy().data) != end - start:
                    raise EOFError(f"tensor {key!r} is cut off")
                out[key] = raw.view(_ST_DTYPES[info["dtype"]]).reshape(info["shape"])
            return out
    except (ValueError, KeyError, TypeError, EOFError, RuntimeError) as exc:
        raise ValueError(
            f"Could not read {path!r} as safetensors ({exc}). The file is truncated or not a safetensors file; "
            f"download it again.{expectation(expected)}"
        ) from exc


def _corrupt(path: str, detail: str, expected: str | None) -> ValueError:
    """The one wording for a damaged weight file (random bytes, cut-off download): it is not the user's format."""
    return ValueError(f"{path!r} is corrupt or truncated ({detail}): download it again.{expectation(expected)}")


# torch words it "Unsupported global: GLOBAL a.b ..." or "... unsupported GLOBAL os.system whose module os is blocked".
_FOREIGN_GLOBAL = re.compile(r"unsupported (?:global: )?GLOBAL ([\w.]+)", re.IGNORECASE)


def _foreign_global(message: str) -> str | None:
    """The dotted name of a real foreign global in a weights_only UnpicklingError, else None.

    A truncated or bit-flipped pickle can also fail on a GLOBAL opcode, with a mangled name such as
    "torch.FloatStorag": a name under an already imported module that has no such attribute is damage, not code.
    """
    match = _FOREIGN_GLOBAL.search(message)
    if not match:
        return None
    name = match.group(1)
    module_name, _, attr = name.rpartition(".")
    module = sys.modules.get(module_name)
    if module is not None and attr and not hasattr(module, attr):
        return None
    return name


_SAFE_GLOBALS = ("collections.OrderedDict", "_codecs.encode")
_DOTTED = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")  # random bytes rarely spell a module.attr
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}


def _scan_for_foreign_global(path: str) -> str | None:
    """The first non-torch global the pickle(s) in ``path`` name, read with pickletools (nothing is executed).

    torch's weights_only unpickler stops at opcodes it does not know (protocol 4/5 FRAME) before it reaches a global,
    so its message alone cannot tell "pickle with code" from "damaged bytes". None when no foreign global is found
    (including when the bytes do not parse: that is damage).
    """
    import io
    import pickletools

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                streams = [zf.read(n) for n in zf.namelist() if n.endswith(".pkl")]
        else:
            with open(path, "rb") as f:
                streams = [f.read()]
    except (OSError, zipfile.BadZipFile, RuntimeError):
        return None
    for data in streams:
        buf = io.BytesIO(data)
        while buf.tell() < len(data):  # legacy torch files are several pickles in a row
            strings: list[str] = []
            try:
                for op, arg, _ in pickletools.genops(buf):
                    if op.name in _STRING_OPS and isinstance(arg, str | bytes):
                        strings.append(arg.decode("latin-1") if isinstance(arg, bytes) else arg)
                    name = None
                    if op.name == "GLOBAL" and isinstance(arg, str):
                        name = arg.replace(" ", ".")
                    elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                        name = f"{strings[-2]}.{strings[-1]}"
                    if name and _DOTTED.match(name) and not (name.startswith("torch.") or name in _SAFE_GLOBALS):
                        return name
            except Exception:  # noqa: BLE001  # unknown opcode / cut off: the remaining bytes are damage
                return None
    return None


def _load_pickle(path: str, expected: str | None, mmap: bool = True) -> object:
    with open(path, "rb") as f:
        head = f.read(4)
    # torch.save writes a zip archive ("PK\x03\x04"); the legacy format starts with a pickle protocol opcode 0x80.
    if not head.startswith(b"PK\x03\x04") and head[:1] != b"\x80":
        detail = f"not a PyTorch weight file: it starts with {head!r}, neither a zip nor a pickle"
        raise _corrupt(path, detail, expected)
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
        except RuntimeError as exc:
            if "mmap" not in str(exc).lower():
                raise
            return torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except pickle.UnpicklingError as exc:
        name = _foreign_global(f"{exc} {exc.__context__ or ''}") or _scan_for_foreign_global(path)
        if name is None:  # "Unsupported operand", a mangled name, EOF inside the pickle: the bytes are damaged
            detail = str(exc.__context__ or exc).strip().splitlines()[0][:120]
            raise _corrupt(path, f"unreadable pickle: {detail}", expected) from exc
        raise ValueError(
            f"{path!r} contains Python objects other than tensors ({name}), so Embody will not load it (pickles can "
            f"run code; only weights_only loading is allowed). Use a plain state-dict file or a .safetensors "
            f"conversion.{expectation(expected)}"
        ) from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as exc:
        raise _corrupt(path, f"{type(exc).__name__}: {str(exc).strip()[:120]}", expected) from exc


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
        raise ValueError(f"{path!r} holds {kind}, not a state dict of tensors.{expectation(expected)}")
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise ValueError(f"{path!r} is a dict without tensors, not a state dict.{expectation(expected)}")
    skipped = len(obj) - len(tensors)
    if skipped:
        logger.info("%s: ignored %d non-tensor entries", path, skipped)
    return tensors


def load_state_dict(
    path: str | os.PathLike, prefixes: Iterable[str] | None = None, expected: str | None = None, mmap: bool = True
) -> dict[str, torch.Tensor]:
    """Load a weight file into a CPU state dict.

    Args:
        path: .safetensors (lazy) or .pth/.pt/.ckpt/.bin (``torch.load(weights_only=True)``, memory-mapped if possible).
        prefixes: keep only keys starting with one of these (read selectively for safetensors).
        expected: what the caller expects, appended to error messages ("a MimicMotion checkpoint").
        mmap: map the file (tensors read lazily, shared with the page cache; best when used as stored). False reads
            each tensor into its own memory, for callers that cast and drop tensors one by one (a mapping stays
            resident until its last tensor is gone).
    Returns:
        {key: tensor} on CPU, in the file's dtypes.
    Raises:
        FileNotFoundError for a missing file; ValueError for a truncated/corrupt file, a pickle with non-tensor
        objects, or a file that is not a state dict.
    """
    path = check_weight_file(path, expected)
    prefix_tuple = tuple(prefixes) if prefixes is not None else None
    if path.lower().endswith(SAFETENSORS_EXTS):
        reader = _load_safetensors if mmap else _read_safetensors
        sd = reader(path, prefix_tuple, expected)
    else:
        sd = _unwrap(_load_pickle(path, expected, mmap), path, expected)
        if prefix_tuple is not None:
            sd = {k: v for k, v in sd.items() if k.startswith(prefix_tuple)}
    if not sd:
        what = f" with keys starting {list(prefix_tuple)}" if prefix_tuple else ""
        raise ValueError(f"{path!r} holds no tensors{what}.{expectation(expected)}")
    return sd


def read_keys(path: str | os.PathLike, expected: str | None = None) -> list[str]:
    """Key names of a weight file; cheap for safetensors (header only), a full memory-mapped load for pickles."""
    path = check_weight_file(path, expected)
    if path.lower().endswith(SAFETENSORS_EXTS):
        from safetensors import safe_open

        try:
            with safe_open(path, framework="pt", device="cpu") as f:
                return list(f.keys())
        except Exception as exc:
            raise ValueError(
                f"Could not read {path!r} as safetensors ({exc}). The file is truncated or not a safetensors "
                f"file; download it again.{expectation(expected)}"
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
