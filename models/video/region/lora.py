"""The optional UNet LoRA a region codebook may come with (``X.lora.safetensors`` beside ``X.safetensors``).

The trainer (models/video/region_train/trainer.py, ``lora_rank`` > 0) trains it with ``peft`` on the UNet's attention
projections (to_q, to_k, to_v, to_out.0; rank r, lora_alpha = r) and saves peft's parameter names, e.g.
``down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.embody_region.weight``, with the rank and the
targets in the file's metadata. Applying it goes through peft as well (``inject_adapter_in_model`` +
``set_peft_model_state_dict``, the path diffusers' own LoRA loading uses), never a hand-written LoRA, and only for
the duration of a ``with`` block: on exit the peft wrappers are replaced by their base layers again, so the shared
UNet is exactly what it was (same modules, same parameters, bit-identical outputs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

ADAPTER = "embody_region"
LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")


@dataclass
class RegionLora:
    """A loaded LoRA: peft parameter names -> tensors (CPU), its rank r (lora_alpha = r: scale 1), the target
    module names and the file it came from."""

    state: dict[str, torch.Tensor]
    rank: int
    targets: tuple[str, ...]
    path: str


def lora_path_for(codebook_path: str | os.PathLike) -> str:
    """``X.safetensors`` -> ``X.lora.safetensors`` (where the trainer writes the LoRA)."""
    path = os.fspath(codebook_path)
    stem = path[: -len(".safetensors")] if path.endswith(".safetensors") else path
    return stem + ".lora.safetensors"


def _need_peft(what: str) -> None:
    try:
        import peft  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{what} needs the optional package peft: pip install peft (or move the .lora.safetensors "
                          "file away to use the codebook without its LoRA).") from exc


def read_region_lora(codebook_path: str | os.PathLike) -> RegionLora | None:
    """The LoRA saved beside a codebook, or None when there is none. Raises ValueError for a file that is not a
    trainer-written LoRA, ImportError when peft (needed to apply it) is missing."""
    from safetensors import safe_open

    path = lora_path_for(codebook_path)
    if not os.path.isfile(path):
        return None
    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a Mapping)
    except Exception as e:  # safetensors raises its own error types
        raise ValueError(f"{path} is not a safetensors file ({e}); it should be the LoRA Embody Train Region "
                         "Codebook wrote beside the codebook.") from e
    bad = sorted(k for k in state if "lora_" not in k or f".{ADAPTER}." not in k)
    if not state or bad:
        raise ValueError(f"{path} does not hold an Embody region LoRA (peft '{ADAPTER}' adapter weights); "
                         f"unexpected keys {bad[:3]}. Delete or rename it.")
    try:
        rank = int(meta["lora_rank"])
    except (KeyError, ValueError) as e:
        raise ValueError(f"{path} has no lora_rank in its metadata; it was not written by Embody Train Region "
                         "Codebook. Delete or rename it.") from e
    targets = tuple(t for t in meta.get("targets", ",".join(LORA_TARGETS)).split(",") if t)
    _need_peft(f"The codebook's LoRA {os.path.basename(path)}")
    return RegionLora(state, rank, targets, path)


def remove_lora_layers(unet: nn.Module) -> None:
    """Replace every peft LoRA wrapper in ``unet`` by its base layer (undoes ``inject_adapter_in_model``)."""
    from peft.tuners.lora import LoraLayer

    for name, module in list(unet.named_modules()):
        if isinstance(module, LoraLayer):
            parent_name, _, child = name.rpartition(".")
            parent = unet.get_submodule(parent_name) if parent_name else unet
            setattr(parent, child, module.get_base_layer())


@contextmanager
def lora_adapter(unet: nn.Module, rank: int, targets: tuple[str, ...] = LORA_TARGETS,
                 state: dict[str, torch.Tensor] | None = None) -> Iterator[list[nn.Parameter]]:
    """Inject a peft LoRA adapter (rank, lora_alpha = rank) into ``unet`` for the block and yield its parameters.

    state: trained weights (peft names with the adapter name, as ``lora_state`` returns them) loaded with peft's
    ``set_peft_model_state_dict``; None keeps peft's init (B = 0: the adapter adds nothing until trained).
    On exit the adapter is removed (``remove_lora_layers``), also on exceptions.
    """
    _need_peft("A UNet LoRA")
    from peft import LoraConfig, inject_adapter_in_model
    from peft.utils import set_peft_model_state_dict

    config = LoraConfig(r=rank, lora_alpha=rank, init_lora_weights=True, target_modules=list(targets))
    # peft freezes the base parameters; put the flags back afterwards: on the CPU a Linear with requires_grad
    # False takes another kernel path whose float rounding differs, and the UNet must come back bit-identical.
    flags = [(p, p.requires_grad) for p in unet.parameters()]
    inject_adapter_in_model(config, unet, adapter_name=ADAPTER)
    try:
        if state is not None:
            # peft's loader expects names without the adapter name and inserts it itself.
            plain = {k.replace(f".{ADAPTER}.", "."): v for k, v in state.items()}
            result = set_peft_model_state_dict(unet, plain, adapter_name=ADAPTER)
            unexpected = list(getattr(result, "unexpected_keys", []) or [])
            have = {n for n, _ in unet.named_parameters() if f".{ADAPTER}." in n}
            missing = sorted(have - set(state))
            if unexpected or missing:
                raise ValueError(f"The region LoRA does not fit this UNet (unexpected {unexpected[:3]}, missing "
                                 f"{missing[:3]}); it was trained for another video model.")
        yield [p for n, p in unet.named_parameters() if f".{ADAPTER}." in n]
    finally:
        remove_lora_layers(unet)
        configs = getattr(unet, "peft_config", None)
        if isinstance(configs, dict):
            configs.pop(ADAPTER, None)  # else peft warns about "multiple adapters" on the next injection
            if not configs:
                delattr(unet, "peft_config")
        for p, flag in flags:
            if not p.is_inference():
                p.requires_grad_(flag)


def lora_state(unet: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter's parameters by peft name (what the trainer saves)."""
    return {n: p.detach() for n, p in unet.named_parameters() if "lora_" in n}
