"""The seed's APIResponse envelope, used by every response."""

from __future__ import annotations

import math
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from ipmarket.kit.schemas import ReadSchema

T = TypeVar("T")


class ErrorBody(ReadSchema):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class Pagination(ReadSchema):
    page: int
    limit: int
    total: int
    total_pages: int

    @classmethod
    def of(cls, *, page: int, limit: int, total: int) -> Pagination:
        return cls(page=page, limit=limit, total=total, total_pages=math.ceil(total / limit))


class APIResponse(ReadSchema, Generic[T]):
    success: bool = True
    data: T | None = None
    error: ErrorBody | None = None
    pagination: Pagination | None = None
    meta: dict[str, Any] | None = None


class ErrorResponse(ReadSchema):
    """The envelope of a failed request, as documented in OpenAPI."""

    success: bool = False
    data: None = None
    error: ErrorBody
    pagination: None = None
    meta: dict[str, Any] | None = None


def ok(data: T, *, meta: dict[str, Any] | None = None) -> APIResponse[T]:
    return APIResponse[T](data=data, meta=meta)


def paged(items: list[T], *, page: int, limit: int, total: int) -> APIResponse[list[T]]:
    return APIResponse[list[T]](
        data=items, pagination=Pagination.of(page=page, limit=limit, total=total)
    )


def error_payload(
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = ErrorResponse(
        error=ErrorBody(code=code, message=message, details=details or {}), meta=meta
    )
    return body.model_dump(mode="json", by_alias=True)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting error envelopes for the given statuses."""
    descriptions = {
        400: "Body is not valid JSON",
        401: "Missing, invalid or expired credentials",
        402: "Payment failed",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict with the current state",
        413: "Body too large",
        422: "Validation error",
        429: "Rate limited",
        500: "Internal error",
    }
    return {s: {"model": ErrorResponse, "description": descriptions[s]} for s in statuses}


class Empty(BaseModel):
    """No data: the envelope's `data` is null."""
