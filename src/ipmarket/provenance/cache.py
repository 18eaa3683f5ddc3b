"""Cached verification answers that never outlive a change up the chain.

Every answer is stored with the chain epoch read before it was computed. Any change that
can alter an answer (revocation, expiry, suspension, a product leaving sale) bumps the epoch
after its transaction commits, so every older answer is ignored from then on, in every
process that shares the cache. Answers also expire on their own (TTL, and never later than
the earliest license expiry they rest on, judged by the application's clock).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.cache import Cache, MemoryCache
from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import after_commit

_log = structlog.get_logger(__name__)

EPOCH_KEY = "verify:epoch"
ANSWER_TTL_SECONDS = 300

_cache: Cache = MemoryCache()


def configure_verification_cache(cache: Cache) -> None:
    global _cache  # noqa: PLW0603 - one cache per process, set at startup
    _cache = cache


def verification_cache() -> Cache:
    return _cache


async def current_epoch() -> str:
    value = await _cache.get(EPOCH_KEY)
    return value.decode() if value else "0"


async def _bump() -> None:
    # A counter in the cache: hit() increments atomically in Redis and in process.
    await _cache.hit(EPOCH_KEY, 10 * 365 * 24 * 3600)


_REGISTERED = "ipmarket.verify_invalidation"


def invalidate_after_commit(session: AsyncSession) -> None:
    """Make every cached answer stale once this transaction commits."""
    # Once per transaction, not once per session: a session that commits (or rolls back)
    # and goes on must register again for its next transaction.
    transaction = session.sync_session.get_transaction()
    if transaction is not None and session.info.get(_REGISTERED) is transaction:
        return
    session.info[_REGISTERED] = transaction
    after_commit(session, _bump)


async def cached_answer(key: str) -> dict[str, Any] | None:
    """The cached answer, or None (also when the cache is unreachable: the database
    answers then)."""
    try:
        raw = await _cache.get(key)
        if raw is None:
            return None
        stored = json.loads(raw)
        if stored.get("epoch") != await current_epoch():
            return None
    except Exception:
        _log.warning("verification_cache.unavailable", exc_info=True)
        return None
    # The store's TTL runs on its own clock; the answer's validity on ours.
    until = stored.get("until")
    if until is not None and datetime.fromisoformat(until) <= utcnow():
        return None
    answer: dict[str, Any] = stored["answer"]
    return answer


async def store_answer(
    key: str, answer: dict[str, Any], *, epoch: str, now: datetime, expires: datetime | None
) -> None:
    ttl = ANSWER_TTL_SECONDS
    if expires is not None:
        ttl = min(ttl, int((expires - now).total_seconds()))
    if ttl > 0:
        entry = {
            "epoch": epoch,
            "until": expires.isoformat() if expires is not None else None,
            "answer": answer,
        }
        try:
            await _cache.set(key, json.dumps(entry).encode(), ttl)
        except Exception:
            _log.warning("verification_cache.unavailable", exc_info=True)


async def bump_epoch() -> None:
    """Make every cached answer stale now (idempotent in effect: any bump will do)."""
    await _bump()


def answer_key(*, code: str | None, product_id: uuid.UUID | None, evidence: bool) -> str:
    """Where a product's answer is cached: by code or by id, with evidence or without."""
    key = f"verify:code:{code}" if code else f"verify:product:{product_id}"
    return key + ":evidence" if evidence else key


def forget_product_after_commit(
    session: AsyncSession, product_id: uuid.UUID, code: str | None
) -> None:
    """Drop one product's cached answers once this transaction commits: for changes that
    concern that product alone (its title, its sale status), not the chain above it."""
    keys = [
        answer_key(code=c, product_id=p, evidence=e)
        for c, p in ((None, product_id), (code, None))
        if c or p
        for e in (False, True)
    ]

    async def forget() -> None:
        await _cache.delete(*keys)

    after_commit(session, forget)
