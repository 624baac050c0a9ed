"""The one place Embody imports ComfyUI's node API.

ComfyUI's V3 schema API lives in ``comfy_api.latest`` today; when a stable version is pinned, only this file changes.
Custom data types are declared here so every node file shares the same type objects.
"""

from comfy_api.latest import ComfyExtension, io, ui  # noqa: F401  (re-exported)

# Embody data types (the README's node tables say what flows through each).
EmbodyPose = io.Custom("EMBODY_POSE")
EmbodyPoseModel = io.Custom("EMBODY_POSE_MODEL")  # models.pose.backend.PoseModel: a backend and its files
EmbodyAudioFeatures = io.Custom("EMBODY_AUDIO_FEATURES")
EmbodyMotionModel = io.Custom("EMBODY_MOTION_MODEL")
EmbodyVideoModel = io.Custom("EMBODY_VIDEO_MODEL")
EmbodyFusion = io.Custom("EMBODY_FUSION")
EmbodyRegionCodebook = io.Custom("EMBODY_REGION_CODEBOOK")
# comfyui_controlnet_aux's OpenPose-style JSON list, for interop both ways.
PoseKeypoint = io.Custom("POSE_KEYPOINT")

CATEGORY = "Embody"
