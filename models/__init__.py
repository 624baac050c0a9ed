"""Embody's compute code: importable and testable without ComfyUI.

Nothing here imports ``comfy``, ``comfy_api``, ``folder_paths`` or ``server``; device and dtype are passed in.
Inside the pack every import is relative, so the folder name ``models`` never resolves to another package.
"""
