"""Learned motion from audio (VLOGGER stage 1): the network, its diffusion, generation, training data, training
and the model file (safetensors + JSON config)."""
