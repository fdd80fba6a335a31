"""Reading the JSON-lines case files the scoreboards replay."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SHARED_HINT = (
    "the reference data lives in shared/reference/ beside the checkout (../shared from the "
    "repository root); pass --cases FILE to score another file"
)


def load_cases(paths: list[Path]) -> list[dict[str, Any]]:
    """Every case of every file, in order; a missing or unreadable file ends the run with
    one line on stderr and exit code 2."""
    cases: list[dict[str, Any]] = []
    for path in paths:
        if not path.is_file():
            _fail(f"cases file {path} not found; {SHARED_HINT}.")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                cases.append(json.loads(line))
            except json.JSONDecodeError as exc:
                _fail(f"{path}:{number} is not JSON ({exc.msg}); one case per line.")
    return cases


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
