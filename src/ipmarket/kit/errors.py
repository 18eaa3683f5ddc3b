"""Typed application errors. One handler (kit.error_handlers) renders them into the envelope."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    LICENSE_EXPIRED = "LICENSE_EXPIRED"
    VERIFICATION_FAILED = "VERIFICATION_FAILED"


STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.PAYMENT_FAILED: 402,
    ErrorCode.LICENSE_EXPIRED: 409,
    ErrorCode.VERIFICATION_FAILED: 422,
}


class AppError(Exception):
    """An error a client may see: a code from the seed's ErrorCodes, a message and details."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    status_code: int | None = None

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}
        if status_code is not None:
            self.status_code = status_code

    @property
    def status(self) -> int:
        return self.status_code or STATUS_BY_CODE[self.code]


class ValidationFailed(AppError):
    code = ErrorCode.VALIDATION_ERROR

    @classmethod
    def for_field(
        cls, message: str, *, field: str, problem: str, **details: Any
    ) -> ValidationFailed:
        """`message`, naming one input `field` and its `problem` in `details.errors` the way
        request validation does; `details` adds keys beside `errors`."""
        return cls(message, details={**details, "errors": [{"field": field, "message": problem}]})


class Unauthorized(AppError):
    code = ErrorCode.UNAUTHORIZED

    def __init__(self, message: str = "Authentication required", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(AppError):
    code = ErrorCode.FORBIDDEN


class NotFound(AppError):
    code = ErrorCode.NOT_FOUND


class Conflict(AppError):
    code = ErrorCode.CONFLICT


class RateLimited(AppError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any) -> None:
        details = {"retryAfter": retry_after, **kwargs.pop("details", {})}
        headers = {"Retry-After": str(retry_after), **kwargs.pop("headers", {})}
        super().__init__(message, details=details, headers=headers, **kwargs)
        self.retry_after = retry_after


class PaymentFailed(AppError):
    code = ErrorCode.PAYMENT_FAILED


class LicenseExpired(AppError):
    code = ErrorCode.LICENSE_EXPIRED


class VerificationFailed(AppError):
    code = ErrorCode.VERIFICATION_FAILED
