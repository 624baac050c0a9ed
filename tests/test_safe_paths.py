"""Names that become paths stay inside their folder (issue 7 section 1): models.io.safe_paths and the motion trainer."""

from __future__ import annotations

import os

import pytest
import torch

from models.audio.learned.dataset import MotionDataset, example_from_arrays
from models.audio.learned.train import TrainConfig, checked_paths, train_motion_model
from models.io.safe_paths import resolve_inside
from tests.helpers.tiny_motion import FEATURE_NAMES, synthetic_talk, tiny_config

torch.set_num_threads(1)


@pytest.mark.parametrize("name", ["../../x", "a/../../x", "..", "a/b/../../..", "a\\..\\..\\x", "./../x"])
def test_relative_escape_is_refused(tmp_path, name: str) -> None:
    root = tmp_path / "models" / "motion"
    root.mkdir(parents=True)
    with pytest.raises(ValueError, match=r"output_name .* points outside its folder"):
        resolve_inside(root, name, input_name="output_name")


@pytest.mark.parametrize("name", ["/tmp/x", "C:\\x", "c:/x", "C:x", "\\\\server\\share\\x", "\\x", "//srv/x"])
def test_absolute_paths_are_refused_on_every_os(tmp_path, name: str) -> None:
    with pytest.raises(ValueError, match=r"output_name .* is an absolute path"):
        resolve_inside(tmp_path, name, input_name="output_name")


@pytest.mark.parametrize("name", ["", "   ", "."])
def test_empty_name_is_refused(tmp_path, name: str) -> None:
    with pytest.raises(ValueError, match="output_name"):
        resolve_inside(tmp_path, name, input_name="output_name")


def test_nul_byte_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="NUL"):
        resolve_inside(tmp_path, "a\x00b", input_name="name")


def test_symlink_escape_is_refused(tmp_path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "file_link").symlink_to(outside / "victim")
    with pytest.raises(ValueError, match="points outside"):
        resolve_inside(root, "link/x", input_name="output_name")
    with pytest.raises(ValueError, match="points outside"):
        resolve_inside(root, "file_link", input_name="output_name")


def test_names_inside_stay_allowed(tmp_path) -> None:
    root = tmp_path / "root"
    (root / "people").mkdir(parents=True)
    assert resolve_inside(root, "people/anna", input_name="n") == (root / "people" / "anna").resolve()
    assert resolve_inside(root, " my_model ", input_name="n") == (root / "my_model").resolve()
    assert resolve_inside(root, "a/../b", input_name="n") == (root / "b").resolve()
    assert resolve_inside(root, "new/sub/dir/x", input_name="n") == (root / "new/sub/dir/x").resolve()
    # A symlink that stays inside the folder is fine.
    (root / "alias").symlink_to(root / "people", target_is_directory=True)
    assert resolve_inside(root, "alias/anna", input_name="n") == (root / "people" / "anna").resolve()


def test_trainer_side_files_are_checked(tmp_path) -> None:
    root = tmp_path / "motion"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    model, sides = checked_paths("people/anna.safetensors", str(root))
    assert model == str((root / "people" / "anna.safetensors").resolve())
    assert sides["state"].endswith("anna.state.safetensors")
    with pytest.raises(ValueError, match="output_name"):
        checked_paths("../x.safetensors", str(root))
    with pytest.raises(ValueError, match="output_name"):
        checked_paths(str(outside / "x.safetensors"), str(root))
    # The model name is inside, but its resume state is a symlink out of the folder: refused.
    (root / "m.state.safetensors").symlink_to(outside / "stolen.safetensors")
    with pytest.raises(ValueError, match="points outside"):
        checked_paths("m.safetensors", str(root))


def test_trainer_with_root_refuses_escape_before_work_and_writes_subfolders(tmp_path) -> None:
    root = tmp_path / "motion"
    root.mkdir()
    pose, feats = synthetic_talk(3.0, 0)
    ds = MotionDataset([example_from_arrays(pose, feats, "clip")], 25.0, FEATURE_NAMES)
    tc = TrainConfig(steps=2, batch_size=2, lr=1e-3, warmup=1, log_every=1, cpu=True)
    for bad in ("../../escape.safetensors", "/tmp/embody_escape_test.safetensors"):
        with pytest.raises(ValueError, match="output_name"):
            train_motion_model(ds, bad, tiny_config(), tc, root=str(root))
    assert sorted(os.listdir(tmp_path)) == ["motion"] and os.listdir(root) == []
    assert not os.path.exists("/tmp/embody_escape_test.safetensors")
    result = train_motion_model(ds, "people/anna.safetensors", tiny_config(), tc, root=str(root))
    written = sorted(os.listdir(root / "people"))
    assert result.path == str((root / "people" / "anna.safetensors").resolve())
    assert {"anna.safetensors", "anna.state.safetensors", "anna.loss.json"} <= set(written)
