"""ComfyUI glue. Each feature module exports ``NODES``; a module whose optional dependency is missing fails alone."""

from __future__ import annotations

import importlib
import logging

logger = logging.getLogger(__name__)

# Feature modules, loaded in this order. Each one is thin glue over ``models/``.
FEATURE_MODULES = (
    "pose",
    "pose_tools",
    "pose_file",
    "hands",
    "audio",
    "motion",
    "video",
    "region",
    "fusion",
    "sampler",
    "context_windows",
    "wan_animate",
    "warp",
    "region_train",
)


def load_nodes() -> list[type]:
    """Import every feature module and collect its ``NODES``; log one clear line per module that cannot load."""
    nodes: list[type] = []
    for name in FEATURE_MODULES:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name and (exc.name == f"{__name__}.{name}"):
                continue  # feature not present in this build
            logger.warning(
                "Embody: the %s nodes are disabled because the Python package %r is missing. "
                "Install the pack's requirements into ComfyUI's Python: python -m pip install -r requirements.txt",
                name, exc.name,
            )
            continue
        except Exception:
            logger.exception("Embody: the %s nodes failed to load; the rest of the pack still works.", name)
            continue
        nodes.extend(getattr(module, "NODES", []))
    return nodes
