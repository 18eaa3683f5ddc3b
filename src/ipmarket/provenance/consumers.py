"""Provenance's event consumers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.eventbus import Event, EventType, Queue, subscribe
from ipmarket.provenance.cache import bump_epoch


@subscribe(
    EventType.AUTHORIZATION_REVOKED,
    consumer="provenance.invalidate_verifications",
    queue=Queue.BLOCKCHAIN,
)
async def invalidate_verifications(_: AsyncSession, __: Event) -> None:
    """The request that revoked already made cached answers stale after its commit; this
    delivery through the outbox covers every process even if that process died in between."""
    await bump_epoch()
