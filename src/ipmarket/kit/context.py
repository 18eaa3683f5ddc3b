"""Who and where a request comes from, for the audit trail and logs."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None


_EMPTY = RequestContext()
_current: ContextVar[RequestContext] = ContextVar("request_context", default=_EMPTY)


def current_request() -> RequestContext:
    return _current.get()


def set_request_context(ctx: RequestContext) -> None:
    _current.set(ctx)
