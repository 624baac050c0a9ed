"""Optional pose backend: MediaPipe Pose + Face Mesh + Hands (legacy ``mp.solutions``) on the COCO-WholeBody layout.

Only mediapipe 0.10.14-era wheels work offline: they bundle these graphs and the model_complexity=1 pose model
(complexity 0 and 2 are downloaded at run time, so we never use them) and need protobuf 4.x (measured with 0.10.14:
protobuf 5.29 loads Pose but fails to parse the Hands graph; 6.33 and 7.36 fail on import of the graphs). Newer
releases (mediapipe 1.x, no protobuf dependency) drop ``mp.solutions`` and ship no models: their Tasks API wants
.task files that users would have to place, so they are no weight-free backend. mediapipe is therefore imported
lazily, never listed in requirements.txt, and a missing or broken install raises a RuntimeError that says how to
enable it.

Why three solutions and not Holistic: Holistic's face sub-graph keeps state even in static_image_mode (the same
image gives face points up to 2 px apart on repeated calls, measured), while static Pose, Face Mesh and Hands
re-detect every frame, so results do not depend on batching. MediaPipe Pose finds at most one person (the most
prominent); the face whose box holds that person's nose and the hands whose wrists lie nearest the pose wrists are
attached to it (Hands' own left/right label assumes a mirrored selfie, so we ignore it).

Confidences: body points carry MediaPipe's visibility; hand and face landmarks have none, so a found hand gets the
highest visibility of that side's wrist/pinky/index/thumb pose points and a found face the mean visibility of the
pose's face points (nose, eyes, ears, mouth). COCO's small toes have no MediaPipe equivalent: they sit on the big
toe with confidence 0.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

import numpy as np

from .layout import FACE, LEFT_HAND, NUM_KEYPOINTS, RIGHT_HAND
from .mediapipe_maps import (
    FACE_MESH_TO_DLIB68_MATRIX,
    NUM_FACE_MESH,
    POSE_FACE_POINTS,
    POSE_LEFT_HAND_POINTS,
    POSE_RIGHT_HAND_POINTS,
    POSE_TO_COCO_BODY,
)

logger = logging.getLogger(__name__)

ENABLE_HINT = (
    "The mediapipe pose backend needs the optional package mediapipe 0.10.14 (the last release that bundles the "
    "pose, face and hand models and still has mp.solutions; later releases ship no models and want .task files) on "
    "Python 3.12 or older, next to protobuf 4.x: its graphs fail to load with protobuf 5, 6 and 7 (measured). "
    "A ComfyUI environment whose protobuf is 5 or newer cannot run it: use the Embody DWPose Loader instead "
    "(yolox_l.onnx and dw-ll_ucoco_384.onnx in models/dwpose). Where protobuf 4 is acceptable, enable it with "
    'that Python: python -m pip install mediapipe==0.10.14 "protobuf<5" '
    "(keep onnx<=1.22 if onnx is installed: onnx 1.23+ needs protobuf 6)."
)


def mediapipe_available() -> bool:
    """True when a ``mediapipe`` package is installed (cheap: does not import it)."""
    return importlib.util.find_spec("mediapipe") is not None


def _import_solutions() -> Any:
    """Import ``mediapipe.solutions``, or raise RuntimeError(ENABLE_HINT) with the reason."""
    try:
        import google.protobuf
        import mediapipe as mp
        solutions = mp.solutions
        _ = (solutions.pose.Pose, solutions.face_mesh.FaceMesh, solutions.hands.Hands)
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(f"{ENABLE_HINT} (import failed: {exc})") from exc
    major = int(str(google.protobuf.__version__).split(".")[0])
    if major >= 5:
        raise RuntimeError(
            f"{ENABLE_HINT} (found protobuf {google.protobuf.__version__}; mediapipe's graphs fail to load with "
            "protobuf 5 or newer)"
        )
    return solutions


def mediapipe_problem() -> str | None:
    """None when the mediapipe backend can run here, else why not (for test skips and loader errors)."""
    if not mediapipe_available():
        return "mediapipe is not installed (optional; needs mediapipe 0.10.14 with protobuf 4)"
    try:
        _import_solutions()
    except RuntimeError as exc:
        reason = str(exc).replace(ENABLE_HINT, "").strip(" ()")
        return f"mediapipe cannot run here: {reason or exc}"
    return None


def _landmarks(result_field: Any, count: int) -> np.ndarray | None:
    """float32 [count, 4] (x, y normalised; z; visibility) from a NormalizedLandmarkList, or None."""
    if result_field is None:
        return None
    lms = result_field.landmark
    if len(lms) < count:
        return None
    return np.array([[lm.x, lm.y, lm.z, lm.visibility] for lm in lms[:count]], dtype=np.float32)


def landmarks_to_wholebody(
    pose: np.ndarray | None,
    face: np.ndarray | None,
    left_hand: np.ndarray | None,
    right_hand: np.ndarray | None,
    width: int,
    height: int,
) -> np.ndarray:
    """Map one person's MediaPipe landmarks onto COCO-WholeBody.

    pose: [33, 4] (x, y normalised to 0..1 of the image, may exceed it; z; visibility) or None.
    face: [468, >=2] or None. left_hand / right_hand: [21, >=2] or None (subject's left / right).
    width, height: image size in pixels. Returns float32 [P, 133, 3] with x, y in pixels and confidence 0..1;
    P = 0 when there is no pose (a face or hand alone is not attached to anyone).
    """
    if pose is None:
        return np.zeros((0, NUM_KEYPOINTS, 3), dtype=np.float32)
    pose = np.asarray(pose, dtype=np.float32)
    scale = np.array([width, height], dtype=np.float32)
    vis = np.clip(pose[:, 3], 0.0, 1.0)
    out = np.zeros((NUM_KEYPOINTS, 3), dtype=np.float32)
    for coco, mp_index in enumerate(POSE_TO_COCO_BODY):
        if mp_index >= 0:
            out[coco, :2] = pose[mp_index, :2] * scale
            out[coco, 2] = vis[mp_index]
    out[18, :2] = out[17, :2]  # small toes: placed on the big toe, confidence 0 (no MediaPipe equivalent)
    out[21, :2] = out[20, :2]
    if face is not None:
        face = np.asarray(face, dtype=np.float32)
        if face.shape[0] < NUM_FACE_MESH:
            raise ValueError(f"face landmarks must hold {NUM_FACE_MESH} points, got {face.shape[0]}")
        out[FACE, :2] = (FACE_MESH_TO_DLIB68_MATRIX @ face[:NUM_FACE_MESH, :2]) * scale
        out[FACE, 2] = float(vis[list(POSE_FACE_POINTS)].mean())
    for hand, region, support in ((left_hand, LEFT_HAND, POSE_LEFT_HAND_POINTS),
                                  (right_hand, RIGHT_HAND, POSE_RIGHT_HAND_POINTS)):
        if hand is not None:
            out[region, :2] = np.asarray(hand, dtype=np.float32)[:21, :2] * scale
            out[region, 2] = float(vis[list(support)].max())
    return out[None]

def pick_face(pose: np.ndarray, faces: list[np.ndarray]) -> np.ndarray | None:
    """The face (of [468, >=2] normalised meshes) whose box, grown 25%, holds the pose's nose; nearest centre wins."""
    nose = np.asarray(pose, dtype=np.float32)[0, :2]
    best, best_dist = None, np.inf
    for face in faces:
        lo, hi = face[:, :2].min(axis=0), face[:, :2].max(axis=0)
        pad = 0.25 * (hi - lo)
        if np.all(nose >= lo - pad) and np.all(nose <= hi + pad):
            dist = float(np.linalg.norm((lo + hi) / 2 - nose))
            if dist < best_dist:
                best, best_dist = face, dist
    return best


def assign_hands(
    pose: np.ndarray, hands: list[np.ndarray], aspect: float = 1.0
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(left, right) hands for the pose's subject-left and subject-right wrists.

    pose: [33, >=2] normalised; hands: [21, >=2] normalised; aspect: width / height (distances are measured in
    pixel proportions). A hand goes to the wrist nearest its own wrist point if that distance is under the gate
    max(|elbow - wrist|, 2 * hand wrist-to-middle-knuckle); each wrist gets at most one hand, nearest first.
    """
    pose = np.asarray(pose, dtype=np.float32)
    scale = np.array([aspect, 1.0], dtype=np.float32)
    wrists = {0: (15, 13), 1: (16, 14)}  # side -> (pose wrist, pose elbow); 0 = subject's left
    pairs = []
    for h, hand in enumerate(hands):
        hand_size = float(np.linalg.norm((hand[0, :2] - hand[9, :2]) * scale))
        for side, (w, e) in wrists.items():
            dist = float(np.linalg.norm((hand[0, :2] - pose[w, :2]) * scale))
            gate = max(float(np.linalg.norm((pose[e, :2] - pose[w, :2]) * scale)), 2.0 * hand_size)
            if dist < gate:
                pairs.append((dist, h, side))
    chosen: dict[int, np.ndarray] = {}
    used: set[int] = set()
    for _, h, side in sorted(pairs):
        if side not in chosen and h not in used:
            chosen[side] = hands[h]
            used.add(h)
    return chosen.get(0), chosen.get(1)


class MediaPipeBackend:
    """PoseBackend over MediaPipe Pose (model_complexity 1, the only bundled pose model), Face Mesh and Hands.

    static_image_mode=True (default) treats every frame on its own, so results do not depend on batching.
    static_image_mode=False tracks across calls (smoother, a little faster): use one backend per clip, or call
    ``reset()`` between clips. min_detection_confidence: MediaPipe's detection threshold (0..1) for all three.
    """

    name = "mediapipe"

    def __init__(self, static_image_mode: bool = True, min_detection_confidence: float = 0.5) -> None:
        if not 0.0 <= float(min_detection_confidence) <= 1.0:
            raise ValueError(f"min_detection_confidence must be in 0..1, got {min_detection_confidence}")
        self.static_image_mode = bool(static_image_mode)
        self.min_detection_confidence = float(min_detection_confidence)
        self._solutions = _import_solutions()
        self._graphs: tuple[Any, Any, Any] | None = None

    def _ensure_graphs(self) -> tuple[Any, Any, Any]:
        if self._graphs is None:
            sol, static, conf = self._solutions, self.static_image_mode, self.min_detection_confidence
            try:
                self._graphs = (
                    sol.pose.Pose(static_image_mode=static, model_complexity=1, smooth_landmarks=not static,
                                  enable_segmentation=False, min_detection_confidence=conf),
                    sol.face_mesh.FaceMesh(static_image_mode=static, max_num_faces=4, refine_landmarks=False,
                                           min_detection_confidence=conf),
                    sol.hands.Hands(static_image_mode=static, max_num_hands=4, model_complexity=1,
                                    min_detection_confidence=conf),
                )
            except Exception as exc:  # broken installs fail here (protobuf mismatch, missing model files)
                raise RuntimeError(f"{ENABLE_HINT} (creating the MediaPipe graphs failed: {exc!r})") from exc
        return self._graphs

    def detect(self, frames: np.ndarray) -> list[np.ndarray]:
        """frames: uint8 [B, H, W, 3] RGB -> one float32 [P_i, 133, 3] per frame (pixels, confidence 0..1)."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 [batch, height, width, 3] RGB, got {frames.dtype} {frames.shape}")
        pose_graph, face_graph, hand_graph = self._ensure_graphs()
        height, width = frames.shape[1:3]
        results = []
        for frame in frames:
            frame = np.ascontiguousarray(frame)
            pose = _landmarks(pose_graph.process(frame).pose_landmarks, 33)
            face = left = right = None
            if pose is not None:
                faces = [_landmarks(f, NUM_FACE_MESH) for f in (face_graph.process(frame).multi_face_landmarks or [])]
                face = pick_face(pose, [f for f in faces if f is not None])
                hands = [_landmarks(h, 21) for h in (hand_graph.process(frame).multi_hand_landmarks or [])]
                left, right = assign_hands(pose, [h for h in hands if h is not None], width / height)
            results.append(landmarks_to_wholebody(pose, face, left, right, width, height))
        return results

    def reset(self) -> None:
        """Forget tracking state; a no-op in static_image_mode, where there is none (the graphs are kept)."""
        if not self.static_image_mode:
            self.close()

    def close(self) -> None:
        if self._graphs is not None:
            for graph in self._graphs:
                graph.close()
            self._graphs = None

    def __enter__(self) -> MediaPipeBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
