"""Stripe-style idempotency for money-moving POSTs (ARCHITECTURE.md §5).

Every such route takes an `Idempotency-Key` header (required: without it the request is a
422). Keys belong to the caller. The first request under a key runs; after it:

- the same key with the same request (method, path and canonical JSON body) replays the
  first response, status and body, exactly, and does nothing more;
- the same key with another request is a 422 (`details.reason = idempotency_key_reused`);
- while the first request is still running, another under the same key is a 409
  (`details.reason = idempotency_key_in_flight`).

How: the key is claimed first (INSERT … ON CONFLICT DO NOTHING), committed at once so that
concurrent requests see it. The work then runs in the request's next transaction, which also
records the response and is committed here. An error response (4xx) is recorded as well, so
a retry gets the same answer; a 5xx, or a crash, releases the key so the request may be tried
again. A key left in flight by a request that died is taken over after `STALE_AFTER`.

A key is held by one attempt at a time (`attempt`): only that attempt may record the answer
or release the key, so a stalled request whose key was taken over cannot overwrite the
answer of the request that took it.

Deterministic ids: a request's new rows (a sale, a refund, a payout) take an id derived from
the caller and the key, and the provider's idempotency keys derive from those ids. Every
attempt under a key (a retry after a 5xx, a take-over) therefore finds and continues the
same row and reaches the provider under the same keys, so nothing is charged, refunded or
paid out twice. A row older than `RETENTION` belongs to an earlier use of a purged key: the
services start afresh then (`is_continuation`).

Use it as a route dependency:

    async def purchase(..., idempotency: Idempotency) -> Response:
        async def work() -> APIResponse[TransactionRead]: ...
        return await idempotency.run(principal.id, work, status_code=201)
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

import structlog
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import commit, discard_after_commit
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import error_payload
from ipmarket.kit.errors import AppError, Conflict, ValidationFailed
from ipmarket.kit.idempotency import (
    HEADER,
    KEY_MAX_LENGTH,
    KEY_PATTERN,
    REPLAYED_HEADER,
    RETENTION,
    is_continuation,
)
from ipmarket.kit.ids import new_id
from ipmarket.payments.idempotency_keys import IdempotencyKeyRepository

log = structlog.get_logger(__name__)

# A key still in flight after this long belongs to a request that died.
STALE_AFTER = timedelta(minutes=5)

__all__ = [
    "HEADER",
    "REPLAYED_HEADER",
    "RETENTION",
    "STALE_AFTER",
    "Idempotency",
    "IdempotentRequest",
    "is_continuation",
    "purge_expired_keys",
    "request_hash",
]

_NAMESPACE = uuid.UUID("5f0c8f6e-7f0d-4d0b-9a59-6b1f1c2f4a11")

KeyHeader = Annotated[
    str,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=KEY_MAX_LENGTH,
        pattern=KEY_PATTERN,
        description=(
            "A unique key per operation (a UUID v4 is a good choice). A retry with the same "
            "key and body replays the first response; another body under the key is a 422; "
            "a retry while the first request runs is a 409. Keys are kept 24 hours."
        ),
    ),
]


def canonical_body(raw: bytes) -> str:
    """The body as canonical JSON (sorted keys, no spaces), so formatting does not matter."""
    if not raw.strip():
        return ""
    try:
        return json.dumps(
            json.loads(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except (ValueError, UnicodeDecodeError):
        return raw.hex()


def request_hash(method: str, path: str, raw_body: bytes) -> str:
    text = f"{method.upper()}\n{path}\n{canonical_body(raw_body)}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class IdempotentRequest:
    """The money-moving request being served, under its idempotency key."""

    def __init__(self, session: AsyncSession, *, key: str, method: str, path: str, body: bytes):
        self.session = session
        self.key = key
        self.method = method.upper()
        self.path = path
        self.hash = request_hash(method, path, body)
        self.attempt = new_id()
        self._user_id: uuid.UUID | None = None

    def derived_id(self, purpose: str) -> uuid.UUID:
        """An id the same for every attempt under this key (see the module's docstring)."""
        if self._user_id is None:
            raise RuntimeError("derived_id() is for use inside run()")
        return uuid.uuid5(_NAMESPACE, f"{self._user_id}/{self.key}/{purpose}")

    async def run(
        self,
        user_id: uuid.UUID,
        work: Callable[[], Awaitable[BaseModel]],
        *,
        status_code: int = 200,
        keep_on: tuple[type[AppError], ...] = (),
    ) -> Response:
        """Run `work` once for this key and return its response as JSON (camelCase).

        `work` returns the response model, or raises an AppError. For an error of one of
        the `keep_on` types, what `work` did is committed with the error's record (a declined
        payment is recorded as failed); for any other error it is rolled back.
        """
        self._user_id = user_id
        replay = await self._claim(user_id)
        if replay is not None:
            return replay
        try:
            result = await work()
        except AppError as exc:
            await self._finish_with_error(user_id, exc, keep=isinstance(exc, keep_on))
            raise
        except BaseException:
            await self._abandon(user_id)
            raise
        body = result.model_dump(mode="json", by_alias=True)
        repository = IdempotencyKeyRepository(self.session)
        try:
            held = await repository.complete_key(
                user_id, self.key, attempt=self.attempt, status=status_code, body=body, now=utcnow()
            )
            if not held:
                log.warning("idempotency.key_lost_to_take_over", path=self.path)
            await commit(self.session)
        except BaseException:
            await self._abandon(user_id)
            raise
        return JSONResponse(body, status_code=status_code)

    async def _claim(self, user_id: uuid.UUID) -> Response | None:
        """Take the key (None), or answer from it: a replay, or an error."""
        repository = IdempotencyKeyRepository(self.session)
        for _ in range(3):
            now = utcnow()
            claimed = await repository.claim_key(
                user_id,
                self.key,
                method=self.method,
                path=self.path,
                request_hash=self.hash,
                now=now,
                attempt=self.attempt,
            )
            if claimed:
                await commit(self.session)
                return None
            existing = await repository.key(user_id, self.key)
            if existing is None:
                continue  # released between the two statements: try to claim it again
            if (existing.method, existing.path, existing.request_hash) != (
                self.method,
                self.path,
                self.hash,
            ):
                raise ValidationFailed(
                    f"This {HEADER} was already used for a different request; "
                    "use a new key for a new request",
                    details={"reason": "idempotency_key_reused", "header": HEADER},
                )
            if existing.state == "completed" and existing.response_status is not None:
                return JSONResponse(
                    existing.response_body,
                    status_code=existing.response_status,
                    headers={REPLAYED_HEADER: "true"},
                )
            if await repository.take_over_key(
                user_id, self.key, stale_before=now - STALE_AFTER, now=now, attempt=self.attempt
            ):
                log.warning("idempotency.stale_key_taken_over", path=self.path)
                await commit(self.session)
                return None
            raise Conflict(
                f"A request with this {HEADER} is still in progress; retry later",
                details={"reason": "idempotency_key_in_flight", "header": HEADER},
            )
        raise Conflict(
            f"A request with this {HEADER} is still in progress; retry later",
            details={"reason": "idempotency_key_in_flight", "header": HEADER},
        )

    async def _finish_with_error(self, user_id: uuid.UUID, exc: AppError, *, keep: bool) -> None:
        if exc.status >= 500:
            await self._abandon(user_id)
            return
        if not keep:
            discard_after_commit(self.session)
            await self.session.rollback()
        body: dict[str, Any] = error_payload(exc.code, exc.message, exc.details)
        try:
            await IdempotencyKeyRepository(self.session).complete_key(
                user_id, self.key, attempt=self.attempt, status=exc.status, body=body, now=utcnow()
            )
            await commit(self.session)
        except Exception:
            log.exception("idempotency.record_failed", path=self.path)
            await self._abandon(user_id)

    async def _abandon(self, user_id: uuid.UUID) -> None:
        """Roll the work back and release the key, so the request can be tried again."""
        discard_after_commit(self.session)
        try:
            await self.session.rollback()
            await IdempotencyKeyRepository(self.session).release_key(
                user_id, self.key, attempt=self.attempt
            )
            await commit(self.session)
        except Exception:
            # The key stays in flight; it is taken over once stale.
            log.exception("idempotency.release_failed", path=self.path)
            await self.session.rollback()


async def _idempotent_request(
    request: Request, session: DbSession, key: KeyHeader
) -> IdempotentRequest:
    return IdempotentRequest(
        session, key=key, method=request.method, path=request.url.path, body=await request.body()
    )


Idempotency = Annotated[IdempotentRequest, Depends(_idempotent_request)]


async def purge_expired_keys(session: AsyncSession, *, limit: int = 5000) -> int:
    """Forget keys older than `RETENTION`; returns how many went."""
    return await IdempotencyKeyRepository(session).purge_keys(
        older_than=utcnow() - RETENTION, limit=limit
    )
