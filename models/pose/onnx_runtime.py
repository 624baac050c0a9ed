"""Lazily created, cached onnxruntime sessions with the execution provider actually used logged.

Sessions are expensive to create (seconds for yolox_l; eager creation at import cost
~10 s in comfyui_controlnet_aux), so they are built on first use and cached module-level, keyed by
(path, mtime, providers): replacing a file on disk gives a fresh session. onnxruntime is imported only inside
functions so the pack loads without it.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from ..io.weight_file import check_weight_file

logger = logging.getLogger(__name__)

CUDA_EP = "CUDAExecutionProvider"
CPU_EP = "CPUExecutionProvider"

_SESSIONS: dict[tuple[str, float, tuple[str, ...]], Any] = {}
_LOCK = threading.Lock()


def _import_ort() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(
            "Embody's DWPose backend needs the Python package 'onnxruntime' (CPU) or 'onnxruntime-gpu' (CUDA). "
            "Install one of them into ComfyUI's Python: python -m pip install onnxruntime-gpu"
        ) from exc
    return onnxruntime


def default_providers() -> tuple[str, ...]:
    """CUDA first when this onnxruntime build offers it, then CPU."""
    available = _import_ort().get_available_providers()
    if CUDA_EP in available:
        return (CUDA_EP, CPU_EP)
    return (CPU_EP,)


def describe_file(path: str) -> str:
    """"'name' in folder '...'" for error messages."""
    folder, name = os.path.split(os.path.abspath(path))
    return f"{name!r} in folder {folder!r}"


def get_session(path: str, providers: tuple[str, ...] | list[str] | None = None) -> Any:
    """An onnxruntime.InferenceSession for ``path``, created once and cached.

    providers: execution providers in order of preference; None = :func:`default_providers`.
    Raises FileNotFoundError (missing file) or ValueError (not a loadable ONNX model), both naming file and folder.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"ONNX model file {describe_file(path)} does not exist. Place the file there "
            "(DWPose: yolox_l.onnx and dw-ll_ucoco_384.onnx from https://huggingface.co/yzd-v/DWPose)."
        )
    check_weight_file(path, "an ONNX model (DWPose: yolox_l.onnx or dw-ll_ucoco_384.onnx from "
                      "https://huggingface.co/yzd-v/DWPose)")
    ort = _import_ort()
    wanted = tuple(providers) if providers is not None else default_providers()
    key = (os.path.abspath(path), os.path.getmtime(path), wanted)
    with _LOCK:
        session = _SESSIONS.get(key)
        if session is not None:
            return session
        # A replaced file (new mtime) must not keep the old session alive.
        for old in [k for k in _SESSIONS if k[0] == key[0] and k[1] != key[1]]:
            del _SESSIONS[old]
        try:
            session = ort.InferenceSession(path, providers=list(wanted))
        except Exception as exc:  # onnxruntime raises its own pybind exception types (InvalidProtobuf, Fail, ...)
            raise ValueError(
                f"Could not load the ONNX model {describe_file(path)}: {exc}. "
                "The file is probably truncated or not an ONNX model; download it again."
            ) from exc
        used = list(session.get_providers())
        name = os.path.basename(path)
        if CUDA_EP in wanted and CUDA_EP not in used:
            # onnxruntime: CUDA EP load failures silently fall back to CPU (10-100x slower).
            logger.warning(
                "Embody: %s asked for %s but onnxruntime fell back to %s; pose extraction will be slow. "
                "Check that onnxruntime-gpu matches your CUDA version and that the CPU-only 'onnxruntime' package "
                "is not installed next to it.", name, CUDA_EP, used,
            )
        elif CUDA_EP not in used:
            logger.info(
                "Embody: %s runs on %s (install onnxruntime-gpu for CUDA).", name, used,
            )
        else:
            logger.info("Embody: %s runs on %s", name, used)
        _SESSIONS[key] = session
        return session


def clear_sessions() -> None:
    """Drop every cached session (frees their memory)."""
    with _LOCK:
        _SESSIONS.clear()


def static_dim(value: Any) -> int | None:
    """An ONNX shape entry as an int, or None when it is symbolic ("N", "batch", None) or not positive."""
    if isinstance(value, int) and value > 0:
        return value
    return None
