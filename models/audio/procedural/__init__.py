"""Procedural (non-learned) motion from audio: the rhythm driver and its spring-damper shaping. No weights."""
