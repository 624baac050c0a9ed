"""Command-line entry points, run from the pack folder: ``python -m scripts.demo``, ``python -m scripts.train_motion``.

ComfyUI never imports this folder; the scripts import the pack's ``models`` package by its absolute name."""
