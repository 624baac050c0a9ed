"""CI's own configuration works in a clone with any folder name (the README installs the pack as ComfyUI-Embody)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_config_accepts_a_pack_folder_that_is_no_valid_module_name(tmp_path) -> None:
    pytest.importorskip("mypy")
    pack = tmp_path / "ComfyUI-Embody"  # has __init__.py, like the real pack folder; "-" is no identifier character
    (pack / "models" / "sub").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", pack / "pyproject.toml")
    (pack / "__init__.py").write_text("")
    (pack / "models" / "__init__.py").write_text("")
    (pack / "scripts").mkdir()
    (pack / "scripts" / "__init__.py").write_text("")
    (pack / "models" / "sub" / "__init__.py").write_text("")
    (pack / "models" / "sub" / "a.py").write_text("def f(x: int) -> int:\n    return x + 1\n")
    (pack / "models" / "b.py").write_text("from .sub.a import f\n\n\ndef g() -> int:\n    return f(1)\n")
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=pack, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success" in run.stdout
    # and it still type-checks: a real error in such a clone is reported
    (pack / "models" / "b.py").write_text("from .sub.a import f\n\n\ndef g() -> str:\n    return f(1)\n")
    run = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=pack, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 1 and "Incompatible return value" in run.stdout, run.stdout + run.stderr
