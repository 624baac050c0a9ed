"""Pose stage: keypoint layouts, detectors, rendering, alignment, smoothing and interop."""

from .types import PoseSequence

__all__ = ["PoseSequence"]
