"""Region codebook loading: CyberHost's Region Attention Modules for hands and face (glue over models/video/region)."""

from __future__ import annotations

import logging
import os

import comfy.model_management as mm
import comfy.model_patcher
import torch

from ..models.video.region import RegionCodebookModel, load_region_codebook
from ._api import CATEGORY, EmbodyRegionCodebook, io
from .paths import list_files, resolve

logger = logging.getLogger(__name__)

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
NO_FILE = "(train one: put it in models/embody/codebook)"
# What the trainer writes beside a codebook (its LoRA, its resume state): not codebooks themselves.
SIDE_FILES = (".lora.safetensors", ".state.safetensors")


def codebook_files() -> list[str]:
    """Codebooks in models/embody/codebook, without the trainer's side files."""
    return [f for f in list_files("embody_codebook") if not f.endswith(SIDE_FILES)]


def attach_model_management(model: RegionCodebookModel) -> RegionCodebookModel:
    """A ModelPatcher for the codebook, loaded together with the UNet (Embody Sampler loads both in one call)."""
    model.patcher = comfy.model_patcher.ModelPatcher(torch.nn.ModuleDict({"codebook": model.codebook}),
                                                     mm.get_torch_device(), mm.unet_offload_device())
    return model


class EmbodyRegionCodebookLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="EmbodyRegionCodebookLoader",
            display_name="Embody Region Codebook Loader",
            category=f"{CATEGORY}/video",
            description="Loads a region codebook (CyberHost's Region Attention Modules for hands and face, with the "
            "hand-clarity and body-movement conditions) from models/embody/codebook, for the codebook input of "
            "Embody Sampler. No public codebook exists: train one on your own footage with Embody Train Region "
            "Codebook. An untrained codebook changes nothing (its output layers start at zero), so the video equals "
            "the one without it. A UNet LoRA trained with it (<name>.lora.safetensors beside it, needs peft) is "
            "loaded too and applied only while Embody Sampler runs.",
            inputs=[
                io.Combo.Input("codebook", options=codebook_files() or [NO_FILE], tooltip="A "
                               ".safetensors codebook (with its .json config beside it or inside) from "
                               "models/embody/codebook, trained for the same MimicMotion UNet."),
                io.Combo.Input("precision", options=["auto", *DTYPES], default="auto", tooltip="Weight precision. "
                               "auto: fp16 where the device runs it well, else fp32. fp32 keeps an untrained "
                               "codebook bit-exact with an fp32 video model."),
                io.Float.Input("strength", default=1.0, min=0.0, max=3.0, step=0.05, tooltip="Multiplier of what "
                               "the region modules add inside the hand and face masks (1 = as trained, 0 = off)."),
            ],
            outputs=[EmbodyRegionCodebook.Output(display_name="codebook", tooltip="For Embody Sampler's codebook "
                                                 "input.")],
        )

    @classmethod
    def execute(cls, codebook, precision, strength) -> io.NodeOutput:
        path = resolve("embody_codebook", codebook)
        if precision == "auto":
            precision = "fp16" if mm.should_use_fp16(mm.get_torch_device()) else "fp32"
        cb = load_region_codebook(path, "cpu", DTYPES[precision])
        model = RegionCodebookModel(cb, os.path.basename(path), strength=float(strength))
        cfg = cb.config
        logger.info("Embody region codebook %s: regions %s at stages %s, %d parameters%s.", model.name,
                    list(cfg.regions), list(cfg.stages), sum(p.numel() for p in cb.parameters()),
                    f", with its rank-{cb.lora.rank} UNet LoRA" if cb.lora is not None else "")
        return io.NodeOutput(attach_model_management(model))


NODES = [EmbodyRegionCodebookLoader]
