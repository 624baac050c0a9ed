"""MediaPipe backend: mapping tables and conversion always; real images when mediapipe is importable."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
from skimage import data

from models.pose import mediapipe_backend as mpb
from models.pose.backend import PoseBackend
from models.pose.layout import FACE, LEFT_HAND, LEFT_SHOULDER, NOSE, RIGHT_HAND, RIGHT_SHOULDER
from models.pose.mediapipe_maps import FACE_MESH_TO_DLIB68, FACE_MESH_TO_DLIB68_MATRIX, POSE_TO_COCO_BODY


def test_tables_are_well_formed() -> None:
    assert len(POSE_TO_COCO_BODY) == 23
    assert all(-1 <= i < 33 for i in POSE_TO_COCO_BODY)
    used = [i for i in POSE_TO_COCO_BODY if i >= 0]
    assert len(used) == len(set(used))
    assert len(FACE_MESH_TO_DLIB68) == 68
    flat = [v for verts in FACE_MESH_TO_DLIB68 for v in verts]
    assert all(0 <= v < 468 for v in flat) and len(flat) == len(set(flat))
    np.testing.assert_allclose(FACE_MESH_TO_DLIB68_MATRIX.sum(axis=1), 1.0)


def test_conversion_places_points_in_pixels_with_confidences() -> None:
    rng = np.random.default_rng(1)
    pose = np.zeros((33, 4), np.float32)
    pose[:, :2] = rng.uniform(0, 1, (33, 2))
    pose[:, 3] = np.linspace(0.0, 1.2, 33)  # visibility > 1 must be clipped
    face = rng.uniform(0, 1, (468, 3)).astype(np.float32)
    left = rng.uniform(0, 1, (21, 3)).astype(np.float32)
    out = mpb.landmarks_to_wholebody(pose, face, left, None, 200, 100)
    assert out.shape == (1, 133, 3) and out.dtype == np.float32
    person = out[0]
    np.testing.assert_allclose(person[NOSE, :2], pose[0, :2] * [200, 100], rtol=1e-6)
    np.testing.assert_allclose(person[LEFT_SHOULDER, :2], pose[11, :2] * [200, 100], rtol=1e-6)
    np.testing.assert_allclose(person[RIGHT_SHOULDER, 2], pose[12, 3], rtol=1e-6)
    assert person[:, 2].max() <= 1.0
    assert person[18, 2] == 0.0 and person[21, 2] == 0.0  # small toes have no MediaPipe equivalent
    np.testing.assert_allclose(person[FACE][2, :2], (face[93, :2] + face[132, :2]) / 2 * [200, 100], rtol=1e-5)
    np.testing.assert_allclose(person[FACE][8, :2], face[152, :2] * [200, 100], rtol=1e-6)
    np.testing.assert_allclose(person[FACE, 2], pose[:11, 3].mean(), rtol=1e-6)
    np.testing.assert_allclose(person[LEFT_HAND, :2], left[:, :2] * [200, 100], rtol=1e-6)
    np.testing.assert_allclose(person[LEFT_HAND, 2], pose[[15, 17, 19, 21], 3].max(), rtol=1e-6)
    assert (person[RIGHT_HAND] == 0).all()
    assert mpb.landmarks_to_wholebody(None, None, None, None, 10, 10).shape == (0, 133, 3)


def test_missing_mediapipe_gives_an_actionable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object):
        if name == "mediapipe" or name.startswith("mediapipe."):
            raise ImportError("No module named 'mediapipe'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(RuntimeError) as info:
        mpb.MediaPipeBackend()
    message = str(info.value)
    assert 'pip install mediapipe==0.10.14 "protobuf<5"' in message
    assert "3.12" in message


MEDIAPIPE_PROBLEM = mpb.mediapipe_problem()
needs_mediapipe = pytest.mark.skipif(MEDIAPIPE_PROBLEM is not None,
                                     reason=f"real-image mediapipe test: {MEDIAPIPE_PROBLEM}")


@pytest.fixture(scope="module")
def detections() -> list[np.ndarray]:
    grey = np.repeat(data.camera()[..., None], 3, axis=-1)
    backend = mpb.MediaPipeBackend(static_image_mode=True)
    try:
        return backend.detect(np.stack([data.astronaut(), grey]))
    finally:
        backend.close()


@needs_mediapipe
def test_astronaut_nose_in_face_and_left_shoulder_on_image_right(detections: list[np.ndarray]) -> None:
    backend_type = mpb.MediaPipeBackend
    assert isinstance(backend_type.__new__(backend_type), PoseBackend)
    people = detections[0]
    assert people.shape == (1, 133, 3) and people.dtype == np.float32
    p = people[0]
    nx, ny, nconf = p[NOSE]
    assert 180 <= nx <= 270 and 60 <= ny <= 170 and nconf > 0.5
    assert p[LEFT_SHOULDER, 1] > ny and p[RIGHT_SHOULDER, 1] > ny
    assert p[LEFT_SHOULDER, 0] > p[RIGHT_SHOULDER, 0]  # subject's left is on the image right
    face = p[FACE]
    assert face[:, 2].min() > 0.5
    # dlib layout sanity: jaw runs image-left to image-right via the chin, eyes above the mouth, nose between
    assert face[0, 0] < face[8, 0] < face[16, 0] and face[8, 1] > face[57, 1] > face[33, 1] > face[39, 1]
    assert face[36, 0] < face[39, 0] < face[42, 0] < face[45, 0]
    xs, ys = face[:, 0], face[:, 1]
    assert xs.min() <= nx <= xs.max() and ys.min() <= ny <= ys.max()


@needs_mediapipe
def test_camera_man_is_found(detections: list[np.ndarray]) -> None:
    people = detections[1]
    assert people.shape == (1, 133, 3)
    p = people[0]
    assert 160 <= p[NOSE, 0] <= 290 and 60 <= p[NOSE, 1] <= 210
    assert p[LEFT_SHOULDER, 2] > 0.5 and p[RIGHT_SHOULDER, 2] > 0.5


@needs_mediapipe
def test_static_mode_does_not_depend_on_batching() -> None:
    frame = data.astronaut()
    backend = mpb.MediaPipeBackend()
    try:
        single = backend.detect(frame[None])[0]
        batched = backend.detect(np.stack([frame, frame]))
    finally:
        backend.close()
    for res in batched:
        np.testing.assert_allclose(res, single, atol=1e-3)


def _pose_with_arms() -> np.ndarray:
    pose = np.zeros((33, 4), np.float32)
    pose[0, :2] = (0.5, 0.2)  # nose
    pose[13, :2], pose[15, :2] = (0.6, 0.5), (0.7, 0.6)  # subject's left elbow, wrist (image right)
    pose[14, :2], pose[16, :2] = (0.4, 0.5), (0.3, 0.6)
    return pose


def _hand_at(x: float, y: float) -> np.ndarray:
    hand = np.zeros((21, 3), np.float32)
    hand[:, :2] = (x, y)
    hand[9, :2] = (x, y + 0.04)  # middle knuckle
    return hand


def test_hands_go_to_the_nearest_wrist_within_the_gate() -> None:
    pose = _pose_with_arms()
    near_right, near_left, far = _hand_at(0.31, 0.61), _hand_at(0.69, 0.62), _hand_at(0.5, 0.95)
    left, right = mpb.assign_hands(pose, [near_right, far, near_left])
    assert left is near_left and right is near_right
    left, right = mpb.assign_hands(pose, [far])
    assert left is None and right is None
    # two hands near the same wrist: the nearer wins, the other may still go to the other wrist only if in its gate
    left, right = mpb.assign_hands(pose, [_hand_at(0.71, 0.6), _hand_at(0.7, 0.6)])
    assert left is not None and right is None and left[0, 0] == pytest.approx(0.7)


def test_face_must_hold_the_nose() -> None:
    pose = _pose_with_arms()
    face_here = np.zeros((468, 3), np.float32)
    face_here[:, :2] = np.random.default_rng(0).uniform((0.42, 0.1), (0.58, 0.3), (468, 2))
    face_elsewhere = face_here.copy()
    face_elsewhere[:, 0] += 0.4
    assert mpb.pick_face(pose, [face_elsewhere, face_here]) is face_here
    assert mpb.pick_face(pose, [face_elsewhere]) is None
