"""The whole exception hierarchy.

Every error the user can cause is a `UserInputError` (the CLI exits 2); every failure of
the environment (missing tool, unreadable file system, no network) is an
`EnvironmentFailureError` (exit 1). Messages follow one shape: what failed, the observed
value, and the fix.
"""

from __future__ import annotations


class WizardError(Exception):
    """Base class of every error vllm-wizard raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class UserInputError(WizardError, ValueError):
    """Input the user fixes by changing the command (exit code 2)."""

    exit_code = 2


class InvalidParameterError(UserInputError):
    """A flag or request field has a value outside its allowed range."""


class MissingConfigFieldError(UserInputError):
    """A model config lacks a field the memory math needs."""


class UnsupportedModelError(UserInputError):
    """vLLM does not serve this model, or the tool cannot read its config."""


class ModelNotFoundError(UserInputError, LookupError):
    """The model id or path resolves to nothing (not local, not in the catalog, not cached)."""


class UnknownGpuError(UserInputError, LookupError):
    """The GPU name matches no catalog entry and no --vram-gb was given."""


class InvalidLayoutError(UserInputError):
    """The requested tensor/pipeline parallel layout cannot shard this model."""


class EnvironmentFailureError(WizardError):
    """The environment failed: a tool, a file system or the network (exit code 1)."""

    exit_code = 1


class GpuNotDetectedError(EnvironmentFailureError):
    """No GPU could be detected on this machine."""


class HubUnavailableError(EnvironmentFailureError):
    """The Hugging Face Hub could not be reached and nothing was cached."""


class ServerUnreachableError(EnvironmentFailureError):
    """The benchmark URL does not answer (refused, timed out, unknown host)."""


class NotOpenAICompatibleError(EnvironmentFailureError):
    """The benchmark URL answers, but not as an OpenAI-compatible completions server."""


def error_document(
    message: str, *, field: str | None, value: object = None, fix: str | None = None
) -> dict[str, dict[str, object]]:
    """The JSON error shape shared by the web API and `--json` on the CLI.

    `{"error": {"field", "value", "message", "fix"}}`; `fix` defaults to the part of the
    message after its last "; " (messages end with their fix), else a generic hint.
    """
    if fix is None:
        head, sep, tail = message.rpartition("; ")
        if not (sep and head):  # else the last sentence, when the message has several
            head, sep, tail = message.rstrip(".").rpartition(". ")
        fix = tail if sep and head else f"Change {field or 'the input'} and try again."
    return {"error": {"field": field, "value": value, "message": message, "fix": fix}}
