"""Damaged weight files say "corrupt or truncated", only a real foreign global says "pickle with code", and every
weight file the pack opens goes through the one placeholder check (issue 7 section 2)."""

from __future__ import annotations

import os
import pickle
import zipfile

import pytest
import torch

from models.audio.learned.model_file import load_motion_model, read_motion_config
from models.audio.learned.train import _load_state
from models.io.checkpoint import load_state_dict, read_keys
from models.io.weight_file import check_weight_file
from models.pose.onnx_runtime import get_session
from models.video.svd_single_file import load_svd_single_file

CORRUPT = "corrupt or truncated"
CODE = "Python objects other than tensors"


def _good(tmp_path) -> bytes:
    path = tmp_path / "good.pth"
    torch.save({"w": torch.arange(4096, dtype=torch.float32)}, path)
    return path.read_bytes()


def _pickle_broken(good: bytes) -> bytes:
    """The same zip archive with its data.pkl cut in half (a mangled GLOBAL name such as 'torch.FloatStorag')."""
    import io

    src = zipfile.ZipFile(io.BytesIO(good))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for name in src.namelist():
            data = src.read(name)
            out.writestr(name, data[: len(data) // 2] if name.endswith("data.pkl") else data)
    return buf.getvalue()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("kind", ["random", "random_pickle_magic", "random_zip_magic", "truncated_half",
                                  "truncated_head", "pickle_cut"])
def test_damaged_pth_is_corrupt_not_code(tmp_path, kind: str) -> None:
    good = _good(tmp_path)
    rng = torch.Generator().manual_seed(0)
    noise = bytes(torch.randint(0, 256, (5000,), generator=rng, dtype=torch.uint8).tolist())
    content = {
        "random": b"\x13" + noise,
        "random_pickle_magic": b"\x80" + noise,
        "random_zip_magic": b"PK\x03\x04" + noise,
        "truncated_half": good[: len(good) // 2],
        "truncated_head": good[:300],
        "pickle_cut": _pickle_broken(good),
    }[kind]
    path = tmp_path / "MimicMotion_1-1.pth"
    path.write_bytes(content)
    with pytest.raises(ValueError) as err:
        load_state_dict(str(path), expected="a MimicMotion checkpoint")
    msg = str(err.value)
    assert CORRUPT in msg and "download it again" in msg and "MimicMotion_1-1.pth" in msg, msg
    assert CODE not in msg


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("global_name", ["builtins.print", "evil_module_not_installed.run", "os.system"])
def test_only_a_real_foreign_global_means_pickle_with_code(tmp_path, global_name: str) -> None:
    module, attr = global_name.rsplit(".", 1)
    path = tmp_path / "evil.pth"
    # Protocol-2 pickle: GLOBAL module attr, then stop. torch.load's weights_only unpickler refuses the GLOBAL.
    path.write_bytes(b"\x80\x02c" + module.encode() + b"\n" + attr.encode() + b"\nq\x00.")
    with pytest.raises(ValueError, match=CODE) as err:
        load_state_dict(str(path))
    assert attr in str(err.value) and CORRUPT not in str(err.value)
    # And a real torch.save file with a foreign object inside a valid archive.
    class_path = tmp_path / "with_object.pth"
    with open(class_path, "wb") as f:
        pickle.dump({"w": torch.zeros(2), "f": print}, f, protocol=2)
    with pytest.raises(ValueError, match=CODE):
        load_state_dict(str(class_path))


PLACEHOLDERS = {
    "lfs": (b"version https://git-lfs.github.com/spec/v1\noid sha256:b812659e\nsize 3050000000\n", "Git LFS pointer"),
    "html": (b"<!DOCTYPE html><html><body>Sign in to continue</body></html>", "web page"),
    "empty": (b"", r"empty \(0 bytes\)"),
}


def _motion_model(path: str) -> None:
    load_motion_model(path)


def _motion_config(path: str) -> None:
    read_motion_config(path)


def _onnx(path: str) -> None:
    pytest.importorskip("onnxruntime")
    get_session(path)


def _train_state(path: str) -> None:
    _load_state(path, None, None)  # type: ignore[arg-type]  # the file check comes before the model is used


def _svd_single_file(path: str) -> None:
    load_svd_single_file(path, torch.float32)


LOADERS = {
    "dw-ll_ucoco_384.onnx": _onnx,
    "MimicMotion_1-1.safetensors": lambda p: load_state_dict(p),
    "MimicMotion_1-1.pth": lambda p: load_state_dict(p),
    "keys.safetensors": lambda p: read_keys(p),
    "svd_xt_1_1.safetensors": _svd_single_file,
    "my_motion.safetensors": _motion_model,
    "other_motion.safetensors": _motion_config,
    "my_motion.state.safetensors": _train_state,
}


@pytest.mark.parametrize("placeholder", list(PLACEHOLDERS))
@pytest.mark.parametrize("file_name", list(LOADERS))
def test_every_weight_file_is_checked_for_placeholders(tmp_path, file_name: str, placeholder: str) -> None:
    content, message = PLACEHOLDERS[placeholder]
    path = tmp_path / file_name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        LOADERS[file_name](str(path))
    assert file_name in str(err.value)


def test_check_weight_file_passes_real_files_and_names_missing_ones(tmp_path) -> None:
    ok = tmp_path / "ok.safetensors"
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(ok))
    assert check_weight_file(ok) == os.fspath(ok)
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        check_weight_file(tmp_path / "nope.onnx")
    with pytest.raises(ValueError, match="is a folder"):
        check_weight_file(tmp_path)
