"""The one place Embody imports ComfyUI's node API.

ComfyUI's V3 schema API lives in ``comfy_api.latest`` today; when a stable version is pinned, only this file changes.
Custom data types are declared here so every node file shares the same type objects.
"""

from typing import Any

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


def pose_ui(pose: Any) -> dict[str, list[dict[str, Any]]]:
    """ui data for the frontend's pose scrubber: a compact, thinned preview of an EMBODY_POSE (models/pose/preview)."""
    from ..models.pose.preview import pose_preview

    return {"embody_pose": [pose_preview(pose)]}


_LAST_TEXT: dict[str, float] = {}


def progress_text(node_id: str | None, text: str, every_s: float = 0.25, final: bool = False) -> None:
    """Show a line of progress text on a running node (at most every ``every_s`` seconds unless ``final``)."""
    import time

    if node_id is None:
        return
    now = time.monotonic()
    if not final and now - _LAST_TEXT.get(str(node_id), 0.0) < every_s:
        return
    _LAST_TEXT[str(node_id)] = now
    send_to_node(node_id, None, {}, text)


def send_to_node(node_id: str | None, event: str | None, data: dict[str, Any], text: str | None = None) -> None:
    """Progress for one node while it runs: a custom event for its widget, and a line of text ComfyUI shows on the
    node (send_progress_text). Without a server (tests, scripts) or a node id it does nothing."""
    if node_id is None:
        return
    try:
        from server import PromptServer
    except ImportError:
        return
    server = getattr(PromptServer, "instance", None)
    if server is None:
        return
    if event is not None:
        server.send_sync(event, {"node": str(node_id), **data})
    if text is not None and hasattr(server, "send_progress_text"):
        server.send_progress_text(text, str(node_id))
