"""A request under its `Idempotency-Key`: claim the key, run the work once, record and
replay its answer (the semantics: the package's docstring).

Two ways to run the work, by how it uses the database:

- `run`, for a money flow that commits between its steps (no lock held while the provider
  moves money): the key is claimed and committed first, so that a concurrent request under
  it sees it in flight (409); the work then runs, and its answer is recorded and committed.
  An error response (4xx) is recorded too, so a retry gets the same answer; a 5xx, or a
  crash, releases the key so the request may be tried again. A key left in flight by a
  request that died is taken over after `STALE_AFTER`. A key is held by one attempt at a
  time (`attempt`): only that attempt may record the answer or release the key, so a
  stalled request whose key was taken over cannot overwrite the answer of the request that
  took it.
- `run_in_transaction`, for work done wholly in the request's one transaction (it commits
  nothing): the key is claimed in that transaction, so a concurrent request under it waits
  for it to end, then replays its answer (or, if it failed, runs itself); its answer is
  recorded in the same transaction, committed at the edge. An error rolls the claim back
  with the work: a retry runs again.

Use it as a route dependency:

    async def purchase(..., idempotency: Idempotency) -> Response:
        async def work() -> APIResponse[TransactionRead]: ...
        return await idempotency.run(principal.id, work, status_code=201)
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
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
from ipmarket.kit.idempotency.models import IdempotencyKey
from ipmarket.kit.idempotency.repository import IdempotencyKeyRepository
from ipmarket.kit.idempotency.rules import (
    HEADER,
    KEY_MAX_LENGTH,
    KEY_PATTERN,
    REPLAYED_HEADER,
    RETENTION,
    STALE_AFTER,
    request_hash,
)
from ipmarket.kit.ids import new_id

log = structlog.get_logger(__name__)

_NAMESPACE = uuid.UUID("5f0c8f6e-7f0d-4d0b-9a59-6b1f1c2f4a11")

# Renders a replayed answer from the first response's JSON body.
Replay = Callable[[dict[str, Any]], Awaitable[BaseModel]]

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


def _in_flight() -> Conflict:
    return Conflict(
        f"A request with this {HEADER} is still in progress; retry later",
        details={"reason": "idempotency_key_in_flight", "header": HEADER},
    )


class IdempotentRequest:
    """The request being served, under its idempotency key."""

    def __init__(self, session: AsyncSession, *, key: str, method: str, path: str, body: bytes):
        self.session = session
        self.key = key
        self.method = method.upper()
        self.path = path
        self.hash = request_hash(method, path, body)
        self.attempt = new_id()
        self._user_id: uuid.UUID | None = None

    def derived_id(self, purpose: str) -> uuid.UUID:
        """An id the same for every attempt under this key, so that every attempt (a retry
        after a 5xx, a take-over) finds and continues the same row and reaches the provider
        under the same keys: nothing is charged, refunded or paid out twice. A row older than
        `RETENTION` belongs to an earlier use of a forgotten key: start afresh then
        (`is_continuation`)."""
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
        """Run `work` once for this key and return its response as JSON (camelCase); `work`
        may commit (see the module's docstring).

        `work` returns the response model, or raises an AppError. For an error of one of
        the `keep_on` types, what `work` did is committed with the error's record (a declined
        payment is recorded as failed); for any other error it is rolled back.
        """
        self._user_id = user_id
        replay = await self._claim(user_id, commit_claim=True)
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
        try:
            await self._complete(user_id, status_code, body)
            await commit(self.session)
        except BaseException:
            await self._abandon(user_id)
            raise
        return JSONResponse(body, status_code=status_code)

    async def run_in_transaction(
        self,
        user_id: uuid.UUID,
        work: Callable[[], Awaitable[BaseModel]],
        *,
        status_code: int = 200,
        replay: Replay | None = None,
    ) -> Response:
        """Run `work`, which commits nothing, once for this key, in the request's one
        transaction (see the module's docstring); return its response as JSON (camelCase).
        A replay answers with `replay(first body)` when given (the resource as it now
        stands, say), else with the first response as it was."""
        self._user_id = user_id
        replayed = await self._claim(user_id, commit_claim=False, replay=replay)
        if replayed is not None:
            return replayed
        body = (await work()).model_dump(mode="json", by_alias=True)
        await self._complete(user_id, status_code, body)
        return JSONResponse(body, status_code=status_code)

    async def _claim(
        self, user_id: uuid.UUID, *, commit_claim: bool, replay: Replay | None = None
    ) -> Response | None:
        """Take the key (None), or answer from it: a replay, or an error."""
        repository = IdempotencyKeyRepository(self.session)
        for _ in range(3):
            now = utcnow()
            if await repository.claim_key(
                user_id,
                self.key,
                method=self.method,
                path=self.path,
                request_hash=self.hash,
                now=now,
                attempt=self.attempt,
                forgotten_before=now - RETENTION,
            ):
                if commit_claim:
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
                return await self._replay(existing, replay)
            if await repository.take_over_key(
                user_id, self.key, stale_before=now - STALE_AFTER, now=now, attempt=self.attempt
            ):
                log.warning("idempotency.stale_key_taken_over", path=self.path)
                if commit_claim:
                    await commit(self.session)
                return None
            raise _in_flight()
        raise _in_flight()

    @staticmethod
    async def _replay(existing: IdempotencyKey, replay: Replay | None) -> Response:
        assert existing.response_status is not None
        first = existing.response_body or {}
        body = (
            (await replay(first)).model_dump(mode="json", by_alias=True)
            if replay is not None
            else first
        )
        return JSONResponse(
            body, status_code=existing.response_status, headers={REPLAYED_HEADER: "true"}
        )

    async def _complete(self, user_id: uuid.UUID, status: int, body: dict[str, Any]) -> None:
        """Record the answer, if this attempt still holds the key."""
        held = await IdempotencyKeyRepository(self.session).complete_key(
            user_id, self.key, attempt=self.attempt, status=status, body=body, now=utcnow()
        )
        if not held:
            log.warning("idempotency.key_lost_to_take_over", path=self.path)

    async def _finish_with_error(self, user_id: uuid.UUID, exc: AppError, *, keep: bool) -> None:
        if exc.status >= 500:
            await self._abandon(user_id)
            return
        if not keep:
            discard_after_commit(self.session)
            await self.session.rollback()
        body: dict[str, Any] = error_payload(exc.code, exc.message, exc.details)
        try:
            await self._complete(user_id, exc.status, body)
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


async def idempotent_request(
    request: Request, session: AsyncSession, key: str
) -> IdempotentRequest:
    """The request being served, under `key` (a route whose key is optional builds it so)."""
    return IdempotentRequest(
        session, key=key, method=request.method, path=request.url.path, body=await request.body()
    )


async def _required(request: Request, session: DbSession, key: KeyHeader) -> IdempotentRequest:
    return await idempotent_request(request, session, key)


# A route dependency: the `Idempotency-Key` header is required (422 without it).
Idempotency = Annotated[IdempotentRequest, Depends(_required)]


async def purge_expired_keys(session: AsyncSession, *, limit: int = 5000) -> int:
    """Forget keys older than `RETENTION`; returns how many went."""
    return await IdempotencyKeyRepository(session).purge_keys(
        older_than=utcnow() - RETENTION, limit=limit
    )
