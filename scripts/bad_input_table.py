"""Render docs/bad-input.md: each bad-input class, the message the CLI prints, and its test.

Runs every case in tests/bad_inputs.py through the real CLI (in-process) and writes the
table. Usage: python scripts/bad_input_table.py
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bad_inputs import CASES  # noqa: E402

from vllm_wizard.cli.app import main  # noqa: E402

HEADER = """# Bad input: what each class gets

Every row was produced by `python scripts/bad_input_table.py`, which runs the command through
the CLI and records what it printed on stderr. Each row is checked by
`tests/cli/test_bad_input.py::test_bad_input_gets_one_clear_line[<case>]`: exit code 2, nothing on
stdout, exactly one line on stderr, no traceback, and the listed words in the message.
Paths below are temporary folders the test creates.

| case | input class | exit | message |
|---|---|---|---|
"""


def run_case(argv: list[str]) -> tuple[int, str]:
    """Exit code and stderr of one CLI run."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue().strip()


def main_table() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            code, message = run_case(case.argv(Path(tmp)))
            message = message.replace(tmp, "<tmp>").replace("|", "\\|")
            rows.append(f"| `{case.id}` | {case.kind} | {code} | {message} |")
    (ROOT / "docs" / "bad-input.md").write_text(HEADER + "\n".join(rows) + "\n")
    print(f"wrote docs/bad-input.md with {len(rows)} rows")


if __name__ == "__main__":
    main_table()
