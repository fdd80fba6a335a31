"""Every bad-input class ends in one line naming the field, the value and the fix; exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bad_inputs import CASES, BadInput
from tests.cli.test_plan_cli import run_cli

DOC = Path(__file__).parents[2] / "docs" / "bad-input.md"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_clear_line(
    case: BadInput, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(capsys, *case.argv(tmp_path))

    assert code == case.code, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err and "internal failure" not in err
    for words in case.expect:
        assert words in lines[0], (words, lines[0])


def test_the_docs_table_lists_every_case() -> None:
    text = DOC.read_text()
    missing = [case.id for case in CASES if f"`{case.id}`" not in text]
    assert not missing, f"docs/bad-input.md lacks {missing}; run scripts/bad_input_table.py"


def test_json_errors_carry_the_given_value_and_the_fix(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, err = run_cli(
        capsys, "plan", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu=H300", "--json"
    )

    assert code == 2 and out == ""
    error = json.loads(err)["error"]
    assert (error["field"], error["value"]) == ("gpu", "H300")
    assert error["fix"].startswith("Use one of these names")
