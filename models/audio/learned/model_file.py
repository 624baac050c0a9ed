"""Save and load motion models as safetensors with the JSON config in the file's metadata.

Metadata keys: "format" = "embody_motion", "config" = MotionModelConfig JSON, optional "training" = JSON of how it
was trained. Loading checks the format, the keypoint layout, and every tensor name and shape against the model the
config describes, so a mismatched or corrupt file fails with an error naming the file rather than deep in torch.
"""

from __future__ import annotations

import json
import logging
import os

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ...io.weight_file import check_weight_file
from .motion_model import MotionModelConfig, MotionTransformer

logger = logging.getLogger(__name__)

FORMAT = "embody_motion"


def save_motion_model(model: MotionTransformer, path: str, training: dict | None = None) -> str:
    """Write weights + config to ``path`` (.safetensors); returns the path. Writes atomically (temp file + rename)."""
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "config": model.config.to_json()}
    if training:
        meta["training"] = json.dumps(training, sort_keys=True, default=str)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp"
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, path)
    return path


def read_motion_config(path: str) -> tuple[MotionModelConfig, dict]:
    """Config and training info of a motion model file, without loading weights."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"motion model file not found: {path}")
    check_weight_file(path, "an Embody motion model (.safetensors)")
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a readable safetensors file ({exc}); it may be truncated or corrupt. "
            "Copy it again or retrain it."
        ) from exc
    if meta.get("format") != FORMAT or "config" not in meta:
        raise ValueError(
            f"{path} is not an Embody motion model (its safetensors metadata has no format={FORMAT!r} config). "
            "Pick a file written by the Embody Train Motion Model node or `python -m scripts.train_motion`."
        )
    try:
        config = MotionModelConfig.from_json(meta["config"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: the motion model config is not valid: {exc}") from exc
    training = json.loads(meta["training"]) if "training" in meta else {}
    return config, training


def load_motion_model(
    path: str, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> MotionTransformer:
    """Load a motion model in eval mode; a clear ValueError when the file does not match its config."""
    config, training = read_motion_config(path)
    model = MotionTransformer(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    try:
        with safe_open(path, framework="pt") as f:
            names = set(f.keys())
            missing, extra = sorted(set(expected) - names), sorted(names - set(expected))
            if missing or extra:
                raise ValueError(
                    f"{path}: the weights do not match the model its config describes "
                    f"(missing {missing[:5]}, unexpected {extra[:5]}). The file is damaged or from another model."
                )
            state = {}
            for name in names:
                tensor = f.get_tensor(name)
                if tuple(tensor.shape) != expected[name]:
                    raise ValueError(
                        f"{path}: tensor {name!r} has shape {tuple(tensor.shape)} but the config "
                        f"(feature_dim={config.feature_dim}, d_model={config.d_model}) needs {expected[name]}"
                    )
                state[name] = tensor
    except SafetensorError as exc:
        raise ValueError(f"{path} could not be read ({exc}); it may be truncated or corrupt.") from exc
    model.load_state_dict(state)
    model.training_info = training
    logger.info("loaded motion model %s (d_model %d, %d layers)", path, config.d_model, config.num_layers)
    return model.to(device=device, dtype=dtype).eval()
