"""Pose files (models/io/pose_file.py): a saved pose loads back exactly; bad files and escaping names are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.io.pose_file import FORMAT, load_pose_file, safe_file, save_pose_file
from models.pose.types import PoseSequence


def _pose(frames: int = 5, people: int = 2, clarity: bool = True) -> PoseSequence:
    rng = np.random.default_rng(0)
    kp = rng.random((frames, people, 133, 3), dtype=np.float32)
    kp[1, 1] = 0.0  # an empty person slot
    hc = rng.random((frames, people, 2), dtype=np.float32) * 80 if clarity else None
    if hc is not None:
        hc[0, 0, 0] = np.nan
    return PoseSequence(kp, (512, 768), 29.97, hand_clarity=hc, meta={"backend": "dwpose", "detect_every": 4})


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    pose = _pose()
    path = save_pose_file(pose, tmp_path / "a" / "dance.npz")
    back = load_pose_file(path)
    np.testing.assert_array_equal(back.keypoints, pose.keypoints)
    np.testing.assert_array_equal(back.hand_clarity, pose.hand_clarity)  # NaN = no hand survives
    assert back.canvas == (512, 768) and back.fps == pytest.approx(29.97)
    assert back.meta["backend"] == "dwpose" and back.meta["detect_every"] == 4


def test_round_trip_without_clarity_and_plain_numpy_reads_it(tmp_path: Path) -> None:
    pose = _pose(clarity=False)
    path = save_pose_file(pose, tmp_path / "p.npz")
    assert load_pose_file(path).hand_clarity is None
    with np.load(path, allow_pickle=False) as data:  # documented format: readable without Embody, no pickle
        assert str(data["format"]) == FORMAT and int(data["version"]) == 1
        assert data["keypoints"].shape == (5, 2, 133, 3) and list(data["canvas"]) == [512, 768]
        assert json.loads(str(data["meta"]))["backend"] == "dwpose"


def _write(path: Path, **arrays: np.ndarray) -> Path:
    np.savez_compressed(path, **arrays)
    return path


def _good(**changes: np.ndarray) -> dict[str, np.ndarray]:
    base = {"format": np.array(FORMAT), "version": np.array(1), "keypoints": np.zeros((2, 1, 133, 3), np.float32),
            "canvas": np.array([64, 64]), "fps": np.array(25.0)}
    base.update(changes)
    return base


@pytest.mark.parametrize(("changes", "message"), [
    ({"format": np.array("something-else")}, "not an Embody pose file"),
    ({"version": np.array(7)}, "newer than this Embody reads"),
    ({"keypoints": np.zeros((2, 1, 17, 3), np.float32)}, r"keypoints must have shape \[frames, people, 133, 3\]"),
    ({"canvas": np.array([64, 0])}, "canvas must be two positive numbers"),
    ({"fps": np.array(-1.0)}, "fps must be a positive number"),
    ({"keypoints": np.full((2, 1, 133, 3), 3.0, np.float32)}, r"confidences must lie in 0\.\.1"),
    ({"hand_clarity": np.zeros((3, 1, 2), np.float32)}, "hand_clarity must have shape"),
])
def test_bad_files_say_what_is_wrong(tmp_path: Path, changes: dict, message: str) -> None:
    path = _write(tmp_path / "bad.npz", **_good(**changes))
    with pytest.raises(ValueError, match=message):
        load_pose_file(path)


def test_missing_fields_and_non_archives(tmp_path: Path) -> None:
    good = _good()
    del good["fps"]
    with pytest.raises(ValueError, match=r"missing \['fps'\]"):
        load_pose_file(_write(tmp_path / "nofps.npz", **good))
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not an Embody pose file"):
        load_pose_file(text)
    with pytest.raises(FileNotFoundError, match="pose file not found"):
        load_pose_file(tmp_path / "nope.npz")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, format=np.array(FORMAT), version=np.array(1), keypoints=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        load_pose_file(pickled)  # object arrays need pickle, which is never allowed


@pytest.mark.parametrize("name", ["../escape", "a/../../escape", "/etc/passwd", "", "  ", "C:\\x"])
def test_names_cannot_leave_their_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="filename"):  # names the input
        safe_file(tmp_path / "out", name)


def test_names_inside_the_folder(tmp_path: Path) -> None:
    root = (tmp_path / "out").resolve()
    assert safe_file(root, "poses/dance") == root / "poses" / "dance.npz"
    assert safe_file(root, "a/../b.npz") == root / "b.npz"
    (tmp_path / "outside").mkdir()
    root.mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(ValueError, match="outside its folder"):
        safe_file(root, "link/x")
