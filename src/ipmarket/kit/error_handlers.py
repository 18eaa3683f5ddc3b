"""One place that turns every error into the envelope, framework errors included."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


def _field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part != "body") or "body"


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return JSONResponse(
        error_payload(exc.code, exc.message, exc.details),
        status_code=exc.status,
        headers=exc.headers,
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return JSONResponse(
            error_payload(ErrorCode.VALIDATION_ERROR, "Request body is not valid JSON"),
            status_code=400,
        )
    fields = [
        {
            "field": _field_path(tuple(e.get("loc", ()))),
            "message": e.get("msg", ""),
            "type": e.get("type"),
        }
        for e in errors
    ]
    return JSONResponse(
        error_payload(ErrorCode.VALIDATION_ERROR, "Request validation failed", {"errors": fields}),
        status_code=422,
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODE_BY_STATUS.get(exc.status_code, ErrorCode.INTERNAL_ERROR)
    message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, str(exc.detail))
    details: dict[str, Any] | None = getattr(exc, "details", None)
    return JSONResponse(
        error_payload(code, message, details), status_code=exc.status_code, headers=exc.headers
    )


# SQLSTATEs of text PostgreSQL cannot store (NUL, invalid byte sequences).
_UNSTORABLE_TEXT = {"22P05", "22021"}


def _is_unstorable_text(exc: Exception) -> bool:
    if isinstance(exc, UnicodeEncodeError):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return sqlstate in _UNSTORABLE_TEXT
    return False


async def _storage_error(request: Request, exc: Exception) -> JSONResponse:
    """Query or path text the schema let through but the database cannot hold is the
    client's error; any other database error is ours."""
    if _is_unstorable_text(exc):
        return JSONResponse(
            error_payload(
                ErrorCode.VALIDATION_ERROR, "Text contains characters that cannot be stored"
            ),
            status_code=422,
        )
    return await _unhandled(request, exc)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    headers = {"X-Request-ID": request_id} if request_id else None
    log.error("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
    # This handler runs outside the request-id middleware, so it sets the header itself.
    return JSONResponse(
        error_payload(ErrorCode.INTERNAL_ERROR, "Internal server error"),
        status_code=500,
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _storage_error)
    app.add_exception_handler(UnicodeEncodeError, _storage_error)
    app.add_exception_handler(Exception, _unhandled)
