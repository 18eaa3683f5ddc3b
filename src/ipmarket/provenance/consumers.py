"""Provenance's event consumers."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain import RecordAnchored
from ipmarket.eventbus import Event, EventType, Queue, subscribe
from ipmarket.provenance.cache import bump_epoch
from ipmarket.provenance.repository import set_blockchain_hash
from ipmarket.provenance.units import issue_units


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


@subscribe(EventType.PRODUCT_PURCHASED, consumer="provenance.issue_units", queue=Queue.PAYMENTS)
async def issue_units_of_purchase(session: AsyncSession, event: Event) -> None:
    """Each item of a completed purchase gets its unit code, once (a redelivery writes
    nothing). Read from the payload by name: provenance sits below payments and does not
    import its events."""
    payload = event.payload
    await issue_units(
        session,
        order_id=uuid.UUID(str(payload["transaction_id"])),
        product_id=uuid.UUID(str(payload["product_id"])),
        quantity=int(payload["quantity"]),
    )
