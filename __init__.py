"""Embody: ComfyUI entry point. Importing this module does nothing but define the entry point."""

from __future__ import annotations

WEB_DIRECTORY = "./web/js"


async def comfy_entrypoint():  # -> ComfyExtension; the return type needs ComfyUI, so it is not imported here
    from .nodes import load_nodes
    from .nodes._api import ComfyExtension

    class EmbodyExtension(ComfyExtension):
        async def on_load(self) -> None:
            from .nodes.paths import register_model_folders

            register_model_folders()

        async def get_node_list(self) -> list[type]:
            return load_nodes()

    return EmbodyExtension()
