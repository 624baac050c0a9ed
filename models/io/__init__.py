"""Safe checkpoint loading (safetensors, weights-only pickles) with clear errors and model-family sniffing."""
