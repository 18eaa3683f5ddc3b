"""Fixed-window rate limits: per client IP on the auth endpoints, per user per hour elsewhere.

Counters live in the cache port, so they are shared between processes when Redis is used.
Every limited response carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset;
a refused one is 429 with Retry-After and the envelope.

When the cache cannot count (Redis is down or slow), requests go through uncounted rather
than failing: the limiter protects the service, it must not take it down. One warning is
logged when such an outage starts and one line when counting works again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ipmarket.kit.cache import Cache
from ipmarket.kit.envelope import error_payload
from ipmarket.kit.errors import ErrorCode

# Reads the caller's user id from the request (a verified bearer token), or None.
SubjectResolver = Callable[[Scope], str | None]

log = structlog.get_logger(__name__)

# Set in the request state, to the seconds to wait, when a web form over its limit is let
# through for the app to refuse as a page (`ipmarket.web` raises RateLimited on it).
RATE_LIMITED_STATE = "rate_limited_retry_after"


@dataclass(frozen=True)
class Limit:
    key: str
    limit: int
    window_seconds: int


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        cache: Cache,
        user_per_hour: int,
        auth_per_minute: int,
        resolve_subject: SubjectResolver,
        auth_prefix: str = "/v1/auth/",
        limited_prefix: str = "/v1/",
        auth_form_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.cache = cache
        self.user_per_hour = user_per_hour
        self.auth_per_minute = auth_per_minute
        self.resolve_subject = resolve_subject
        self.auth_prefix = auth_prefix
        self.limited_prefix = limited_prefix
        # Web forms that sign in or set credentials share the per-client auth limit.
        self.auth_form_paths = auth_form_paths
        # True from the first failed count until one succeeds again (one warning per outage).
        self._cache_failing = False

    def _limit_for(self, scope: Scope) -> Limit | None:
        path: str = scope["path"]
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        if path.startswith(self.auth_prefix) or (
            scope.get("method") == "POST" and path in self.auth_form_paths
        ):
            return Limit(f"rl:auth:{ip}", self.auth_per_minute, 60)
        if not path.startswith(self.limited_prefix):
            return None
        subject = self.resolve_subject(scope)
        key = f"rl:user:{subject}" if subject else f"rl:ip:{ip}"
        return Limit(key, self.user_per_hour, 3600)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope)
        if limit is None:
            await self.app(scope, receive, send)
            return
        counted = await self._count(limit)
        if counted is None:  # the cache is unavailable: fail open
            await self.app(scope, receive, send)
            return
        count, reset = counted
        remaining = max(0, limit.limit - count)
        headers = [
            (b"ratelimit-limit", str(limit.limit).encode()),
            (b"ratelimit-remaining", str(remaining).encode()),
            (b"ratelimit-reset", str(reset).encode()),
        ]
        if count > limit.limit:
            if scope["path"] in self.auth_form_paths:
                # A page: the app draws the refusal in its layout (see RATE_LIMITED_STATE).
                scope.setdefault("state", {})[RATE_LIMITED_STATE] = math.ceil(reset)
            else:
                await self._refuse(scope, send, headers, retry_after=math.ceil(reset))
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _count(self, limit: Limit) -> tuple[int, int] | None:
        """(hits so far, seconds left) in the limit's window, or None if the cache failed."""
        try:
            counted = await self.cache.hit(limit.key, limit.window_seconds)
        except Exception as exc:  # any cache failure: Redis errors, timeouts, OS errors
            if not self._cache_failing:
                self._cache_failing = True
                log.warning(
                    "rate_limit_cache_unavailable",
                    error_type=type(exc).__name__,
                    error=str(exc),
                    detail="requests are not rate limited until the cache answers again",
                )
            return None
        if self._cache_failing:
            self._cache_failing = False
            log.info("rate_limit_cache_recovered")
        return counted

    async def _refuse(
        self, scope: Scope, send: Send, headers: list[tuple[bytes, bytes]], *, retry_after: int
    ) -> None:
        body = json.dumps(
            error_payload(
                ErrorCode.RATE_LIMITED,
                f"Too many requests; retry in {retry_after} seconds",
                {"retryAfter": retry_after},
            )
        ).encode()
        request_id = scope.get("state", {}).get("request_id", "")
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry_after).encode()),
                    (b"x-request-id", request_id.encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
