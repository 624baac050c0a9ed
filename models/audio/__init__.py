"""Audio: frame-aligned features (features.py) and the two ways to turn speech into motion.

- ``procedural/``: the rhythm driver, no learned weights (loudness and onsets shaped by springs).
- ``learned/``: VLOGGER stage 1, an audio-to-motion diffusion model you train on your own videos (network, diffusion,
  generation, training, dataset, model file).
"""
