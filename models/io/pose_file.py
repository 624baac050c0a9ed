"""Pose files: an EMBODY_POSE sequence to and from a plain, documented compressed ``.npz`` file.

Format (version 1), one ``numpy.savez_compressed`` archive, readable with ``numpy.load(path)`` (no pickle):

============== =============== ==========================================================================
key            dtype / shape   meaning
============== =============== ==========================================================================
format         str scalar      always ``"embody-pose"``
version        int64 scalar    ``1``
keypoints      float32         [F, P, 133, 3]: COCO-WholeBody order; x, y in 0..1 of the canvas
               [F, P, 133, 3]  (x right, y down), confidence 0..1 (0 = missing point)
canvas         int64 [2]       (width, height) in pixels
fps            float64 scalar  frames per second
hand_clarity   float32         optional: std of the Laplacian of each hand crop (left, right); NaN = no hand
               [F, P, 2]
meta           str scalar      JSON object: provenance (backend, model names, ...); never needed to read the arrays
============== =============== ==========================================================================

Loading checks every field and says what is wrong with a bad file. File names given by users never leave their folder.
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..pose.layout import NUM_KEYPOINTS
from ..pose.types import PoseSequence
from .safe_paths import resolve_inside

logger = logging.getLogger(__name__)

FORMAT = "embody-pose"
VERSION = 1
EXTENSION = ".npz"


def safe_file(folder: str | Path, name: str, *, extension: str = EXTENSION, input_name: str = "filename") -> Path:
    """``folder/name`` (``extension`` added when missing), refusing any name that would leave ``folder``
    (models/io/safe_paths.py: absolute paths, ``..`` and links pointing outside are refused, sub-folders allowed)."""
    text = str(name).strip()
    if text and not text.lower().endswith(extension):
        text += extension
    return resolve_inside(folder, text, input_name=input_name)


def _meta_json(meta: dict[str, Any]) -> str:
    try:
        return json.dumps(meta, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))
    except (TypeError, ValueError):
        logger.warning("pose file: the pose's provenance could not be stored as JSON; it was dropped")
        return "{}"


def save_pose_file(pose: PoseSequence, path: str | Path) -> Path:
    """Write ``pose`` to ``path`` (a compressed .npz, format above); returns the path written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "version": np.array(VERSION, dtype=np.int64),
        "keypoints": np.ascontiguousarray(pose.keypoints, dtype=np.float32),
        "canvas": np.array(pose.canvas, dtype=np.int64),
        "fps": np.array(pose.fps, dtype=np.float64),
        "meta": np.array(_meta_json(pose.meta)),
    }
    if pose.hand_clarity is not None:
        arrays["hand_clarity"] = np.ascontiguousarray(pose.hand_clarity, dtype=np.float32)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)
    return path


def _scalar(data: Any, key: str, path: Path) -> Any:
    value = data[key]
    if value.shape != ():
        raise ValueError(f"pose file {path.name}: '{key}' must be a single value, got shape {value.shape}")
    return value.item()


def load_pose_file(path: str | Path) -> PoseSequence:
    """Read a pose file written by :func:`save_pose_file`; a bad file gives an error saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pose file not found: {path}")
    try:
        data = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValueError(f"{path.name} is not an Embody pose file (a .npz archive written by Embody Pose Save): "
                         f"{exc}") from exc
    with data:
        keys = set(data.files)
        if "format" not in keys or str(_scalar(data, "format", path)) != FORMAT:
            raise ValueError(f"{path.name} is a .npz archive but not an Embody pose file (no format='{FORMAT}' "
                             f"entry; it holds {sorted(keys)}). Save poses with Embody Pose Save.")
        missing = {"version", "keypoints", "canvas", "fps"} - keys
        if missing:
            raise ValueError(f"pose file {path.name} is missing {sorted(missing)}; it is damaged or was written by "
                             f"another program. Save it again with Embody Pose Save.")
        version = int(_scalar(data, "version", path))
        if version > VERSION:
            raise ValueError(f"pose file {path.name} has format version {version}, newer than this Embody reads "
                             f"({VERSION}); update Embody.")
        kp = data["keypoints"]
        if kp.ndim != 4 or kp.shape[2] != NUM_KEYPOINTS or kp.shape[3] != 3:
            raise ValueError(f"pose file {path.name}: keypoints must have shape [frames, people, {NUM_KEYPOINTS}, 3], "
                             f"got {kp.shape}")
        if not np.issubdtype(kp.dtype, np.floating):
            raise ValueError(f"pose file {path.name}: keypoints must be floating point, got {kp.dtype}")
        canvas = data["canvas"]
        if canvas.shape != (2,) or not np.issubdtype(canvas.dtype, np.number) or (canvas < 1).any():
            raise ValueError(f"pose file {path.name}: canvas must be two positive numbers (width, height), "
                             f"got {canvas.tolist()}")
        fps = float(_scalar(data, "fps", path))
        if not np.isfinite(fps) or fps <= 0:
            raise ValueError(f"pose file {path.name}: fps must be a positive number, got {fps}")
        conf = kp[..., 2]
        if np.isfinite(conf).all() and ((conf < 0).any() or (conf > 1).any()):
            raise ValueError(f"pose file {path.name}: confidences must lie in 0..1, found "
                             f"{float(np.nanmin(conf)):.3g}..{float(np.nanmax(conf)):.3g}")
        hand_clarity = data["hand_clarity"] if "hand_clarity" in keys else None
        if hand_clarity is not None and hand_clarity.shape != (kp.shape[0], kp.shape[1], 2):
            raise ValueError(f"pose file {path.name}: hand_clarity must have shape [frames, people, 2] = "
                             f"{(kp.shape[0], kp.shape[1], 2)}, got {hand_clarity.shape}")
        meta: dict[str, Any] = {}
        if "meta" in keys:
            try:
                loaded = json.loads(str(_scalar(data, "meta", path)))
                meta = loaded if isinstance(loaded, dict) else {}
            except json.JSONDecodeError:
                logger.warning("pose file %s: its provenance (meta) is not valid JSON and was ignored", path.name)
        width, height = (int(v) for v in canvas.tolist())
        return PoseSequence(kp.astype(np.float32), (width, height), fps, hand_clarity=hand_clarity,
                            meta={**meta, "loaded_from": path.name})
