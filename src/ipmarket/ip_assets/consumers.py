"""The IP assets module's event consumers."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain import RecordAnchored
from ipmarket.eventbus import Event, EventType, Queue, subscribe
from ipmarket.ip_assets.repository import set_blockchain_hash


@subscribe(
    EventType.CHAIN_RECORD_ANCHORED,
    consumer="ip_assets.fill_blockchain_hash",
    queue=Queue.BLOCKCHAIN,
)
async def fill_blockchain_hash(session: AsyncSession, event: Event) -> None:
    """An asset's root authorization is confirmed on chain: its `blockchainHash` names the
    transaction."""
    anchored = event.parse(RecordAnchored)
    if anchored.kind != "ip_asset":
        return
    for asset_id in anchored.subject_ids:
        await set_blockchain_hash(session, uuid.UUID(asset_id), anchored.transaction_hash)
