"""One mapping from exceptions to one-line messages and exit codes."""

from __future__ import annotations

import itertools
import json
import os
import sys
import traceback

from pydantic import ValidationError

from vllm_wizard.errors import WizardError, error_document

EXIT_USER = 2
EXIT_ENVIRONMENT = 1


def format_validation_error(exc: ValidationError) -> str:
    """'--gpus -1: Input should be greater than or equal to 1' for the first bad field."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "input"
    flag = "--" + field.replace("_", "-")
    value = first.get("input")
    return f"{flag} {value!r}: {first['msg'].lower()}; change {flag} and run again."


def wants_json(argv: list[str]) -> bool:
    """True when the command line asked for JSON output (--json or --format json)."""
    return (
        "--json" in argv
        or "--format=json" in argv
        or any(a == "--format" and b == "json" for a, b in itertools.pairwise(argv))
    )


def _given_value(field: str | None, argv: list[str]) -> str | None:
    """What the command line gave for `field` (`--gpu H300` or `--gpu=H300`), if anything."""
    if not field:
        return None
    flag = "--" + field.replace("_", "-")
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def error_json(exc: BaseException, argv: list[str] | None = None) -> dict[str, dict[str, object]]:
    """The web API's error shape for `exc`, for `--json` on stderr."""
    if isinstance(exc, WizardError):
        return error_document(
            exc.message, field=exc.field, value=_given_value(exc.field, argv or [])
        )
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "input"
        flag = "--" + field.replace("_", "-")
        return error_document(
            format_validation_error(exc),
            field=field,
            value=first.get("input"),
            fix=f"Change {flag} and run again.",
        )
    return error_document(
        f"internal failure ({type(exc).__name__}: {exc})",
        field=None,
        fix="Rerun with VLLM_WIZARD_DEBUG=1 for the traceback and report it.",
    )


def report_error(
    exc: BaseException, *, as_json: bool = False, argv: list[str] | None = None
) -> int:
    """Print `exc` on stderr (one line, or the JSON error shape) and return the exit code."""
    if os.environ.get("VLLM_WIZARD_DEBUG") == "1":
        traceback.print_exception(exc)
    if as_json:
        print(json.dumps(error_json(exc, argv), default=repr), file=sys.stderr)
        return (
            exc.exit_code
            if isinstance(exc, WizardError)
            else (EXIT_USER if isinstance(exc, ValidationError) else EXIT_ENVIRONMENT)
        )
    if isinstance(exc, WizardError):
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    if isinstance(exc, ValidationError):
        print(f"error: {format_validation_error(exc)}", file=sys.stderr)
        return EXIT_USER
    print(
        f"error: internal failure ({type(exc).__name__}: {exc}); rerun with "
        "VLLM_WIZARD_DEBUG=1 for the traceback and report it.",
        file=sys.stderr,
    )
    return EXIT_ENVIRONMENT
