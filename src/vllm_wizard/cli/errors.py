"""One mapping from exceptions to one-line messages and exit codes."""

from __future__ import annotations

import os
import sys
import traceback

from pydantic import ValidationError

from vllm_wizard.errors import WizardError

EXIT_USER = 2
EXIT_ENVIRONMENT = 1


def format_validation_error(exc: ValidationError) -> str:
    """'--gpus -1: Input should be greater than or equal to 1' for the first bad field."""
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "input"
    flag = "--" + field.replace("_", "-")
    value = first.get("input")
    return f"{flag} {value!r}: {first['msg'].lower()}; change {flag} and run again."


def report_error(exc: BaseException) -> int:
    """Print one line for `exc` on stderr and return the exit code to use."""
    if os.environ.get("VLLM_WIZARD_DEBUG") == "1":
        traceback.print_exception(exc)
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
