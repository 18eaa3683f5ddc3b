"""The SQL of idempotency keys (the mechanism is in `requests`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.idempotency.models import IdempotencyKey


class IdempotencyKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_key(
        self,
        user_id: uuid.UUID,
        key: str,
        *,
        method: str,
        path: str,
        request_hash: str,
        now: datetime,
        attempt: uuid.UUID,
        forgotten_before: datetime,
    ) -> bool:
        """Insert the key in flight, held by `attempt`; False if it already exists. A key
        made before `forgotten_before` (past its retention, not purged yet) counts as gone:
        it is claimed afresh for this request. While another transaction has the key
        uncommitted, this waits for it to end."""
        fresh = {
            "method": method,
            "path": path,
            "request_hash": request_hash,
            "state": "in_flight",
            "created_at": now,
            "attempt": attempt,
        }
        inserted = await self.session.execute(
            insert(IdempotencyKey)
            .values(user_id=user_id, key=key, **fresh)
            .on_conflict_do_update(
                index_elements=["user_id", "key"],
                set_={
                    **fresh,
                    "response_status": None,
                    "response_body": None,
                    "completed_at": None,
                },
                where=IdempotencyKey.created_at < forgotten_before,
            )
            .returning(IdempotencyKey.key)
        )
        return inserted.scalar_one_or_none() is not None

    async def key(self, user_id: uuid.UUID, key: str) -> IdempotencyKey | None:
        return (
            await self.session.execute(
                select(IdempotencyKey)
                .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()

    async def take_over_key(
        self,
        user_id: uuid.UUID,
        key: str,
        *,
        stale_before: datetime,
        now: datetime,
        attempt: uuid.UUID,
    ) -> bool:
        """Hand a key left in flight since before `stale_before` (its request died, or
        stalled) to `attempt`; the old attempt can no longer complete or release it."""
        row = await self.session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "in_flight",
                IdempotencyKey.created_at < stale_before,
            )
            .values(created_at=now, attempt=attempt)
            .returning(IdempotencyKey.key)
        )
        return row.scalar_one_or_none() is not None

    async def complete_key(
        self,
        user_id: uuid.UUID,
        key: str,
        *,
        attempt: uuid.UUID,
        status: int,
        body: dict[str, Any],
        now: datetime,
    ) -> bool:
        """Record the response of the attempt holding the key; False if it lost the key."""
        row = await self.session.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "in_flight",
                IdempotencyKey.attempt == attempt,
            )
            .values(state="completed", response_status=status, response_body=body, completed_at=now)
            .returning(IdempotencyKey.key)
        )
        return row.scalar_one_or_none() is not None

    async def release_key(self, user_id: uuid.UUID, key: str, *, attempt: uuid.UUID) -> None:
        await self.session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.key == key,
                IdempotencyKey.state == "in_flight",
                IdempotencyKey.attempt == attempt,
            )
        )

    async def purge_keys(self, *, older_than: datetime, limit: int) -> int:
        doomed = (
            select(IdempotencyKey.user_id, IdempotencyKey.key)
            .where(IdempotencyKey.created_at < older_than)
            .limit(limit)
            .subquery()
        )
        result = await self.session.execute(
            delete(IdempotencyKey)
            .where(IdempotencyKey.user_id == doomed.c.user_id, IdempotencyKey.key == doomed.c.key)
            .returning(IdempotencyKey.key)
        )
        return len(result.all())
