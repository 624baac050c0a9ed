"""MimicMotion video stage: components, PoseNet, UNet pose hook, loading and decoding."""
