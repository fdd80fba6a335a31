"""Every API failure as `{"error": {"field", "value", "message", "fix"}}` with one status.

422 for input the user fixes, 413 for an over-size body, 404/405 for unknown routes,
503 when the server's environment fails.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from vllm_wizard.errors import (
    GpuNotDetectedError,
    HubUnavailableError,
    UserInputError,
    WizardError,
    error_document,
)

logger = logging.getLogger(__name__)

LOCATION_PREFIXES = ("body", "query", "path", "header")


def error_response(
    status: int,
    message: str,
    *,
    field: str | None,
    value: object = None,
    fix: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON error answer in the shared shape."""
    document = error_document(message, field=field, value=_jsonable(value), fix=fix)
    return JSONResponse(document, status_code=status, headers=headers)


def validation_error_response(errors: list[Any]) -> JSONResponse:
    """422 for the first of pydantic's or FastAPI's validation errors."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ())]
    if loc and loc[0] in LOCATION_PREFIXES:
        loc = loc[1:]
    field = ".".join(loc) or "body"
    if first.get("type") == "json_invalid":
        field = "body"
    message = f"{field}: {first.get('msg', 'invalid value')}"
    return error_response(
        422,
        message,
        field=field,
        value=first.get("input"),
        fix=f"Change {field} and send the request again.",
    )


def wizard_error_response(exc: WizardError, values: dict[str, Any] | None = None) -> JSONResponse:
    """422 for input errors, 503 for a failing server environment.

    A model id the server cannot fetch (the Hub unreachable, nothing cached) is 422: the
    user fixes it by choosing a catalog model or a folder, not by waiting.
    """
    field = exc.field
    value = (values or {}).get(field) if field else None
    if isinstance(exc, UserInputError | GpuNotDetectedError | HubUnavailableError):
        return error_response(422, exc.message, field=field, value=value)
    return error_response(503, exc.message, field=field, value=value)


def install_error_handlers(app: FastAPI) -> None:
    """Route FastAPI's, Starlette's and our own exceptions to the one error shape."""

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error_response(list(exc.errors()))

    @app.exception_handler(ValidationError)
    async def _validation(_: Request, exc: ValidationError) -> JSONResponse:
        return validation_error_response(list(exc.errors()))

    @app.exception_handler(WizardError)
    async def _wizard(_: Request, exc: WizardError) -> JSONResponse:
        return wizard_error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not decode the body (not UTF-8 JSON)
            return error_response(
                422,
                f"body: {exc.detail}",
                field="body",
                fix="Send a JSON object encoded as UTF-8 (see /docs for its fields).",
            )
        return error_response(
            exc.status_code,
            str(exc.detail),
            field=None,
            fix="Check the URL and method in /docs.",
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("internal failure")
        return error_response(
            500,
            f"internal failure ({type(exc).__name__})",
            field=None,
            fix="Report it with the request body; the server log has the traceback.",
        )


def _jsonable(value: object) -> object:
    try:
        return jsonable_encoder(value)
    except (TypeError, ValueError):
        return repr(value)
