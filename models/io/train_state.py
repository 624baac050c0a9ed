"""What every Embody trainer shares: side-file names, resumable state (weights + optimiser, safetensors + JSON
metadata), the loss curve PNG and the loss log.

A training run writing ``X.safetensors`` keeps ``X.state.safetensors`` (trainable weights + AdamW state + step,
written atomically), ``X.loss.json`` (the loss log and the training settings) and ``X.loss.png`` beside it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence

import torch
from safetensors import safe_open
from safetensors.torch import save_file

logger = logging.getLogger(__name__)


def side_paths(out_path: str) -> dict[str, str]:
    """{"state", "log", "png"} paths beside ``out_path`` (its .safetensors suffix dropped)."""
    stem = out_path[: -len(".safetensors")] if out_path.endswith(".safetensors") else out_path
    return {"state": f"{stem}.state.safetensors", "log": f"{stem}.loss.json", "png": f"{stem}.loss.png"}


def output_inside(folder: str, name: str, default: str = "my_codebook") -> str:
    """``name``.safetensors inside ``folder`` (sub-folders allowed), through the pack's ``resolve_inside``; the side
    files (state, log, curve and their .tmp) must resolve inside too. Errors name the ``output_name`` input."""
    from .safe_paths import resolve_inside

    name = name.strip() or default
    if not name.endswith(".safetensors"):
        name += ".safetensors"
    path = str(resolve_inside(folder, name, input_name="output_name"))
    check_side_files_inside(folder, path, "output_name")
    return path


def check_side_files_inside(folder: str, path: str, input_name: str) -> dict[str, str]:
    """The side files of ``path`` (see :func:`side_paths`); each, with ``path`` and their .tmp files, must resolve
    inside ``folder`` (a symbolic link out of it is refused too), else a ValueError naming ``input_name``."""
    from .safe_paths import resolve_inside

    root = os.path.realpath(folder)
    sides = side_paths(path)
    for side in (path, *sides.values()):
        for candidate in (side, f"{side}.tmp"):
            resolve_inside(root, os.path.relpath(candidate, root), input_name=input_name)
    return sides


def save_state(path: str, weights: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer, step: int,
               config_json: str) -> None:
    """Trainable weights (``model.*``), optimiser state (``opt.<param index>.<name>``), step and config, atomically."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in weights.items()}
    opt = optimizer.state_dict()
    for idx, state in opt["state"].items():
        for name, value in state.items():
            tensors[f"opt.{idx}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    meta = {"config": config_json, "step": str(step), "param_groups": json.dumps(opt["param_groups"])}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file(tensors, f"{path}.tmp", metadata=meta)
    os.replace(f"{path}.tmp", path)


def load_state(path: str, optimizer: torch.optim.Optimizer,
               check_config: Callable[[str], None] | None = None) -> tuple[dict[str, torch.Tensor], str, int]:
    """Read a state file: (weights without the ``model.`` prefix, config JSON, step); loads the optimiser state.

    The caller compares the config with its own and loads the weights (so it can name what differs); pass
    ``check_config`` to do that before the optimiser state is touched (a different model would fail there first)."""
    from .weight_file import check_weight_file

    check_weight_file(path, "an Embody training state; delete it to start over")
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise ValueError(f"training state {path} is unreadable ({exc}); delete it to start over") from exc
    if "config" not in meta or "step" not in meta:
        raise ValueError(f"training state {path} has no config/step metadata; delete it to start over")
    if check_config is not None:
        check_config(meta["config"])
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(meta["param_groups"])})
    weights = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    return weights, meta["config"], int(meta["step"])


def read_loss_log(path: str, up_to_step: int) -> list[dict]:
    """Entries of a loss log up to ``up_to_step`` (a resumed run continues the curve); [] if there is none."""
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [e for e in json.load(f)["losses"] if e["step"] <= up_to_step]


def write_loss_log(path: str, losses: list[dict], settings: dict) -> None:
    with open(f"{path}.tmp", "w") as f:
        json.dump({"losses": losses, "train": settings}, f)
    os.replace(f"{path}.tmp", path)


def plot_losses(losses: list[dict], path: str, keys: Sequence[str], title: str) -> str | None:
    """Loss curve PNG (``keys[0]`` bold, the others thin; log scale); None if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed; no loss curve written")
        return None
    steps = [e["step"] for e in losses]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for i, key in enumerate(keys):
        values = [e.get(key) for e in losses]
        if all(v is None for v in values):
            continue
        ax.plot(steps, [float("nan") if v is None else max(v, 1e-12) for v in values], label=key,
                linewidth=2 if i == 0 else 1)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def image_tensor(png: str | None) -> torch.Tensor:
    """A PNG as a ComfyUI IMAGE [1, H, W, 3] (a black 64x64 image when there is none)."""
    if not png:
        return torch.zeros(1, 64, 64, 3)
    import numpy as np
    from PIL import Image

    with Image.open(png) as img:
        return torch.from_numpy(np.asarray(img.convert("RGB"), np.float32) / 255.0)[None]
