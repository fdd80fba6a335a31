"""Request bodies over a size limit get 413 before any handler reads them."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vllm_wizard.errors import error_document

MAX_BODY_BYTES = 64 * 1024  # a plan request is well under 2 KiB


class BodyTooLargeError(Exception):
    """Raised inside the app when a streamed body passes the limit."""


class BodySizeLimitMiddleware:
    """Pure ASGI middleware: checks Content-Length, then counts streamed chunks."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._reject(send, declared)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            if not started:
                await self._reject(send, received)

    async def _reject(self, send: Send, size: int) -> None:
        document = error_document(
            f"request body of {size} bytes is over the {self.max_body_bytes}-byte limit",
            field="body",
            value=size,
            fix=f"Send a body under {self.max_body_bytes} bytes; a plan request needs about 1 KiB.",
        )
        payload = json.dumps(document).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def _content_length(scope: Scope) -> int | None:
    headers: list[tuple[bytes, Any]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
