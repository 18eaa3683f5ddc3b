"""Pure-ASGI middleware: request ids and the request body size limit."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ipmarket.kit.context import RequestContext, set_request_context
from ipmarket.kit.envelope import error_payload
from ipmarket.kit.errors import ErrorCode

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class RequestIdMiddleware:
    """Gives every request an id (the client's X-Request-ID if well formed) and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        client = scope.get("client")
        set_request_context(
            RequestContext(
                request_id=request_id,
                ip_address=client[0] if client else None,
                user_agent=_header(scope, b"user-agent"),
            )
        )
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyTooLarge(HTTPException):
    """A streamed request body went over the limit (rendered as 413 in the envelope)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"Request body is larger than {max_bytes} bytes")
        self.details = {"maxBytes": max_bytes}


class BodySizeLimitMiddleware:
    """Refuses request bodies above `max_bytes` with 413, declared or streamed.

    A declared Content-Length over the limit is refused before the app runs. A streamed
    (chunked) body is counted as it is read: the read that crosses the limit raises
    `BodyTooLarge`, an HTTPException(413). FastAPI lets HTTPExceptions out of its body
    parsing (any other error there becomes a 400), and the error handlers render it in the
    envelope.

    `overrides` maps path prefixes to their own limit (e.g. file uploads); a prefix matches
    the path itself and everything below it, and the longest matching prefix wins.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, overrides: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = sorted(
            ((prefix.rstrip("/"), limit) for prefix, limit in (overrides or {}).items()),
            key=lambda item: len(item[0]),
            reverse=True,
        )

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides:
            if path == prefix or path.startswith(prefix + "/"):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope.get("path", ""))
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(scope, send, max_bytes)
            return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            # Raised where no error handler runs (a body read outside a route): answer here.
            if response_started:
                raise
            await self._refuse(scope, send, max_bytes)

    async def _refuse(self, scope: Scope, send: Send, max_bytes: int) -> None:
        refusal = BodyTooLarge(max_bytes)
        body = json.dumps(
            error_payload(ErrorCode.VALIDATION_ERROR, refusal.detail, refusal.details)
        ).encode()
        request_id = scope.get("state", {}).get("request_id", "")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
