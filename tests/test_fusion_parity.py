"""The web preview (web/js/lib/fusion.js) and the sampler (models/video/fusion.py) must agree on windows and weights.

tests/data/fusion_parity.json holds cases computed by the Python code; this test recomputes them (so the file cannot
go stale) and `node --test web/js/lib/` checks the JavaScript against the same file.
Regenerate deliberately with: EMBODY_UPDATE_PARITY=1 python -m pytest tests/test_fusion_parity.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from models.video.fusion import FusionSchedule, window_indices, window_weights

FIXTURE = Path(__file__).parent / "data" / "fusion_parity.json"
# Widget values (window 0 / overlap -1 = the model default) -> the schedule the sampler resolves them to.
OPTIONS_FIXTURE = Path(__file__).parent / "data" / "fusion_options_parity.json"
OPTION_CASES = [(0, -1, "1.1"), (0, -1, "1.0"), (0, 3, "1.1"), (16, -1, "1.1"), (4, -1, "1.1"), (3, -1, "1.0"),
                (24, 10, "1.0"), (5, -1, "1.1")]
CASES = [
    (20, dict(window=8, overlap=3)),
    (73, dict(window=72, overlap=6)),
    (138, dict(window=72, overlap=6)),
    (40, dict(window=16, overlap=4, weighting="pyramid")),
    (41, dict(window=16, overlap=6, weighting="overlap-linear")),
    (41, dict(window=16, overlap=6, weighting="overlap-linear", tail="shrink")),
    (30, dict(window=10, overlap=3, weighting="gaussian", anchor_reference=False)),
    (30, dict(window=10, overlap=0, weighting="flat", anchor_reference=False, tail="shrink")),
    (5, dict(window=16, overlap=4)),
]


def compute() -> list[dict]:
    out = []
    for frames, kwargs in CASES:
        sch = FusionSchedule(**kwargs)
        wins = window_indices(frames, sch)
        weights = window_weights(wins, sch.fitted(frames))
        js = {"window": sch.window, "overlap": sch.overlap, "weighting": sch.weighting,
              "anchor": sch.anchor_reference, "tail": sch.tail}
        out.append({"frames": frames, "schedule": js, "windows": wins,
                    "weights": [np.round(w.numpy().astype(float), 6).tolist() for w in weights]})
    return out


def test_fixture_matches_the_python_fusion() -> None:
    cases = compute()
    if os.environ.get("EMBODY_UPDATE_PARITY") == "1":
        FIXTURE.write_text(json.dumps(cases, indent=0) + "\n")
    stored = json.loads(FIXTURE.read_text())
    assert [c["windows"] for c in stored] == [c["windows"] for c in cases]
    for a, b in zip(stored, cases, strict=True):
        for wa, wb in zip(a["weights"], b["weights"], strict=True):
            assert np.allclose(wa, wb, atol=1e-6)


def compute_options() -> list[dict]:
    out = []
    for window, overlap, version in OPTION_CASES:
        sch = FusionSchedule(window=window, overlap=overlap, anchor_reference=False).resolved(version)
        out.append({"window": window, "overlap": overlap, "version": version,
                    "resolved": {"window": sch.window, "overlap": sch.overlap}})
    return out


def test_options_fixture_matches_the_python_defaults() -> None:
    """What the Fusion Schedule widget draws for window 0 / overlap -1 is what the sampler will use."""
    cases = compute_options()
    if os.environ.get("EMBODY_UPDATE_PARITY") == "1":
        OPTIONS_FIXTURE.write_text(json.dumps(cases, indent=0) + "\n")
    assert json.loads(OPTIONS_FIXTURE.read_text()) == cases
