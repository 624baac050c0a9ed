"""The one check every weight file goes through before a loader parses it (issue 7 section 2).

.pth/.pt, .safetensors, .onnx, motion models, training states and future codebooks all call
:func:`check_weight_file`, so a zero-byte file, a Git LFS pointer or a saved HTML page gets the same clear error
(naming the file and the fix) whatever reads it next. No torch import: the ONNX path uses it too.
"""

from __future__ import annotations

import os


def expectation(expected: str | None) -> str:
    return f" Expected {expected}." if expected else ""


def check_weight_file(path: str | os.PathLike, expected: str | None = None) -> str:
    """Refuse what is not a weight file before any loader parses it; returns the path as a str.

    The one check every weight file Embody opens goes through (.pth, .safetensors, .onnx, motion models, training
    states, codebooks): a missing file or a folder, a zero-byte file (an unfinished download), a Git LFS pointer
    (a repository cloned without git-lfs) and an HTML page (a failed or login-only download) each get an error that
    names the file and says what to do. expected ("a MimicMotion checkpoint") is appended to the message.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Model file not found: {path!r}.{expectation(expected)}")
    if os.path.isdir(path):
        raise ValueError(f"{path!r} is a folder, not a weight file.{expectation(expected)}")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path!r} is empty (0 bytes): the download did not finish. Download it again."
                         f"{expectation(expected)}")
    _check_not_placeholder(path, expected)
    return path


def _check_not_placeholder(path: str, expected: str | None) -> None:
    """Name the two most common non-weight files saved under a weight file's name: Git LFS pointers (a repository
    cloned without git-lfs) and HTML pages (a download that needed a login or failed)."""
    with open(path, "rb") as f:
        head = f.read(512)
    size = os.path.getsize(path)
    if head.startswith(b"version https://git-lfs"):
        raise ValueError(
            f"{path!r} is a Git LFS pointer ({size} bytes), not the weights: the repository was cloned without "
            f"git-lfs. Download the file itself (git lfs pull, or the download button on the model page)."
            f"{expectation(expected)}"
        )
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html", b"<?xml", b"<head")):
        raise ValueError(
            f"{path!r} is a web page ({size} bytes of HTML), not the weights: the download failed or needed a "
            f"login. Download the file again from the model page.{expectation(expected)}"
        )
