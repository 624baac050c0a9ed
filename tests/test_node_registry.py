"""The node registry isolates failures: a feature module that cannot import logs one line and the rest still load."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_registry():
    """The pack as a package (so ``nodes/`` can import ``..models``), then its ``nodes`` registry."""
    name = "embody_pack_registry_under_test"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "__init__.py",
                                                      submodule_search_locations=[str(ROOT)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"{name}.nodes")


def test_every_feature_module_exists() -> None:
    registry = _load_registry()
    for feature in registry.FEATURE_MODULES:
        assert (ROOT / "nodes" / f"{feature}.py").is_file(), feature


def test_missing_dependency_disables_only_that_family(caplog: pytest.LogCaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ComfyUI every family fails to import; each says which package is missing and nothing raises."""
    if importlib.util.find_spec("comfy_api") is not None:
        pytest.skip("ComfyUI is importable here; this test checks the behaviour without it")
    registry = _load_registry()
    with caplog.at_level(logging.WARNING):
        nodes = registry.load_nodes()
    assert nodes == []
    lines = [r.getMessage() for r in caplog.records]
    for feature in registry.FEATURE_MODULES:
        hits = [line for line in lines if f"the {feature} nodes are disabled" in line]
        assert len(hits) == 1, (feature, lines)
        assert "'comfy" in hits[0] and "pip install" in hits[0]
