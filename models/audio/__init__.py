"""Audio: frame-aligned features and the procedural (non-learned) rhythm motion driver."""
