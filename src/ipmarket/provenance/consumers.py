"""Provenance's event consumers."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain import RecordAnchored
from ipmarket.eventbus import Event, EventType, Queue, subscribe
from ipmarket.provenance.cache import bump_epoch
from ipmarket.provenance.repository import set_blockchain_hash


@subscribe(
    EventType.AUTHORIZATION_REVOKED,
    consumer="provenance.invalidate_verifications",
    queue=Queue.BLOCKCHAIN,
)
async def invalidate_verifications(_: AsyncSession, __: Event) -> None:
    """The request that revoked already made cached answers stale after its commit; this
    delivery through the outbox covers every process even if that process died in between."""
    await bump_epoch()


@subscribe(
    EventType.CHAIN_RECORD_ANCHORED,
    consumer="provenance.fill_blockchain_hash",
    queue=Queue.BLOCKCHAIN,
)
async def fill_blockchain_hash(session: AsyncSession, event: Event) -> None:
    """A product's record (kind `chain_record`) or a license behind derivation records is
    confirmed on chain: their `blockchain_hash` names the transaction."""
    anchored = event.parse(RecordAnchored)
    ids = [uuid.UUID(i) for i in anchored.subject_ids]
    if anchored.kind == "chain_record":
        await set_blockchain_hash(session, anchored.transaction_hash, record_ids=ids)
    elif anchored.kind == "license":
        for license_id in ids:
            await set_blockchain_hash(session, anchored.transaction_hash, license_id=license_id)
