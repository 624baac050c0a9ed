"""What the README (and the code's docstrings) tell a new user must be true of the repository as it is."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CONTRACT = json.loads((ROOT / "tests" / "data" / "node_contract.json").read_text())
TOP_LEVEL = {p.name for p in ROOT.iterdir() if not p.name.startswith(".") or p.name == ".ci"}
SOURCES = [p for ext in ("py", "sh", "mjs", "js") for p in ROOT.rglob(f"*.{ext}")
           if not any(part in {"node_modules", "__pycache__"} or part.startswith(".venv") for part in p.parts)]


def _node_rows() -> dict[str, tuple[list[str], list[str]]]:
    """node id -> (inputs, output types) from the README's node tables."""
    rows = {}
    for line in README.splitlines():
        m = re.match(r"\| [^|]*\(`(Embody\w+)`\) \|[^|]*\| ([^|]*) \| ([^|]*) \|$", line)
        if m:
            inputs = [n.strip() for n in re.sub(r"[()]|optional:", ",", m.group(2)).split(",") if n.strip()]
            outputs = re.findall(r"`([A-Z_]+)`", m.group(3))
            rows[m.group(1)] = (inputs, outputs)
    return rows


def test_every_node_is_in_the_readme_with_its_current_sockets() -> None:
    rows = _node_rows()
    assert sorted(rows) == sorted(CONTRACT), "README node tables and tests/data/node_contract.json disagree"
    for node_id, (inputs, outputs) in rows.items():
        assert sorted(inputs) == sorted(CONTRACT[node_id]["inputs"]), node_id
        assert outputs == CONTRACT[node_id]["outputs"], node_id


def test_test_command_installs_the_dev_requirements_first() -> None:
    install = README.find("pip install -r requirements.txt -r requirements-dev.txt")
    assert 0 <= install < README.find("python -m pytest -q"), "the README's test command needs requirements-dev.txt"


def test_readme_names_every_output_the_demo_writes() -> None:
    from scripts.demo import OUTPUTS

    for name in OUTPUTS:
        assert f"`{name}`" in README, name


def test_paths_the_readme_names_exist_in_the_repo() -> None:
    named = set(re.findall(r"`([\w.<>/-]+)`", README)) | set(re.findall(r"\]\(([\w./-]+)\)", README))
    checked = 0
    for path in sorted(named):
        if path.split("/")[0] not in TOP_LEVEL or path.startswith(("models/embody", "models/dwpose")):
            continue  # not a repo path (ComfyUI folders, outputs, commands)
        pattern = re.sub(r"<[^>]+>", "*", path.rstrip("/"))
        assert list(ROOT.glob(pattern)), f"README names {path}, which is not in the repository"
        checked += 1
    assert checked >= 5  # the check really ran (tests/data/speech.wav, workflows/, ...)


def test_no_file_points_at_notes_or_tools_outside_the_repo() -> None:
    markdown = {p.name for p in ROOT.rglob("*.md") if "node_modules" not in p.parts}
    problems = []
    for source in [ROOT / "README.md", *SOURCES]:
        if source == Path(__file__).resolve():
            continue  # this file names the patterns it looks for
        text = source.read_text(errors="replace")
        for m in re.finditer(r"shared/|\.\./tools/|/work/|\b([\w-]+\.md)\b", text):
            name = m.group(1)
            if name is None or name not in markdown:
                line = text.count("\n", 0, m.start()) + 1
                problems.append(f"{source.relative_to(ROOT)}:{line}: {m.group(0)}")
    assert not problems, "references to files that are not in the repository:\n" + "\n".join(problems)


@pytest.mark.parametrize("flag", ["--image", "--audio", "--dwpose-dir", "--motion-model", "--out"])
def test_demo_options_the_readme_names_exist(flag: str) -> None:
    from scripts import demo

    if flag in README:
        assert flag in Path(demo.__file__).read_text(), flag
