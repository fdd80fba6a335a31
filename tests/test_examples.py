"""Golden examples (SPEC 11.2): each example profile against its stored sample output.

Exact for the layout and the flags; estimates within a small tolerance. Regenerate with
scripts/update_sample_outputs.py after a deliberate planner change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from vllm_wizard.core.planner import plan
from vllm_wizard.core.profile import load_profile

ROOT = Path(__file__).resolve().parent.parent
PROFILES = sorted((ROOT / "examples" / "profiles").glob("*.yaml"))
REL_TOLERANCE = 0.02
NUMBER = re.compile(r"\d[\d,.]*")


def close(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys(), where
        for key in expected:
            close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list) and expected and isinstance(expected[0], float):
        for a, e in zip(actual, expected, strict=True):
            close(a, e, where)
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=REL_TOLERANCE, abs=0.02), where
    else:
        assert actual == expected, where


@pytest.mark.parametrize("profile", PROFILES, ids=[p.stem for p in PROFILES])
def test_example_matches_sample_output(profile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = plan(load_profile(profile.read_text("utf-8"), str(profile)))
    expected = json.loads((ROOT / "examples/sample_outputs" / f"{profile.stem}.json").read_text())
    actual = result.model_dump(mode="json")
    for section in ("hardware", "vllm_args", "artifacts", "model"):
        assert actual[section] == expected[section], section
    # Warnings and remedies embed estimates: compare their words; figures are checked above.
    for key in ("warnings", "remedies"):
        words = [
            [NUMBER.sub("#", line) for line in f.pop(key)]
            for f in (actual["feasibility"], expected["feasibility"])
        ]
        assert words[0] == words[1], f"feasibility.{key}"
    close(actual["feasibility"], expected["feasibility"], "feasibility")
    close(actual["performance"], expected["performance"], "performance")
