"""One place that turns every error into the envelope, framework errors included.

Requests for web pages get the same decision drawn as a page instead: the app passes a
`PageRenderer` (from `ipmarket.web`) that says which requests are pages and renders them.
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ipmarket.kit.envelope import error_payload
from ipmarket.kit.errors import AppError, ErrorCode

log = structlog.get_logger(__name__)

_CODE_BY_STATUS = {
    400: ErrorCode.VALIDATION_ERROR,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.VALIDATION_ERROR,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.VALIDATION_ERROR,
    415: ErrorCode.VALIDATION_ERROR,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMITED,
}

# SQLSTATEs of text PostgreSQL cannot store (NUL, invalid byte sequences).
_UNSTORABLE_TEXT = {"22P05", "22021"}


class PageRenderer(Protocol):
    """Draws an error as a web page, for the requests that are pages."""

    def handles(self, request: Request) -> bool: ...

    async def render_error(self, request: Request, error: AppError) -> Response: ...


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


def _is_unstorable_text(exc: Exception) -> bool:
    if isinstance(exc, UnicodeEncodeError):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return sqlstate in _UNSTORABLE_TEXT
    return False


class _Decided(AppError):
    """An error decided here (framework or unexpected), carried to the one responder."""

    def __init__(self, code: ErrorCode, status: int, message: str, **kwargs: Any) -> None:
        super().__init__(message, status_code=status, **kwargs)
        self.code = code


def _validation_error(exc: RequestValidationError) -> AppError:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return _Decided(ErrorCode.VALIDATION_ERROR, 400, "Request body is not valid JSON")
    fields = [
        {
            "field": _field_path(tuple(e.get("loc", ()))),
            "message": e.get("msg", ""),
            "type": e.get("type"),
        }
        for e in errors
    ]
    return _Decided(
        ErrorCode.VALIDATION_ERROR, 422, "Request validation failed", details={"errors": fields}
    )


def _http_error(exc: StarletteHTTPException) -> AppError:
    code = _CODE_BY_STATUS.get(exc.status_code, ErrorCode.INTERNAL_ERROR)
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
    details: dict[str, Any] | None = getattr(exc, "details", None)
    return _Decided(code, exc.status_code, message, details=details, headers=exc.headers)


def _internal_error(request: Request, exc: Exception) -> AppError:
    log.error("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
    request_id = getattr(request.state, "request_id", None)
    # This runs outside the request-id middleware, so the response sets the header itself.
    headers = {"X-Request-ID": request_id} if request_id else None
    return _Decided(ErrorCode.INTERNAL_ERROR, 500, "Internal server error", headers=headers)


def _storage_error(request: Request, exc: Exception) -> AppError:
    """Query or path text the schema let through but the database cannot hold is the
    client's error; any other database error is ours."""
    if _is_unstorable_text(exc):
        return _Decided(
            ErrorCode.VALIDATION_ERROR, 422, "Text contains characters that cannot be stored"
        )
    return _internal_error(request, exc)


def decide(request: Request, exc: Exception) -> AppError:
    """The client-facing error for any exception: its code, status, message and details."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, RequestValidationError):
        return _validation_error(exc)
    if isinstance(exc, StarletteHTTPException):
        return _http_error(exc)
    if isinstance(exc, DBAPIError | UnicodeEncodeError):
        return _storage_error(request, exc)
    return _internal_error(request, exc)


def install_error_handlers(app: FastAPI, pages: PageRenderer | None = None) -> None:
    async def respond(request: Request, exc: Exception) -> Response:
        error = decide(request, exc)
        if pages is not None and pages.handles(request):
            return await pages.render_error(request, error)
        return JSONResponse(
            error_payload(error.code, error.message, error.details or None),
            status_code=error.status,
            headers=error.headers or None,
        )

    for kind in (
        AppError,
        RequestValidationError,
        StarletteHTTPException,
        DBAPIError,
        UnicodeEncodeError,
        Exception,
    ):
        app.add_exception_handler(kind, respond)
