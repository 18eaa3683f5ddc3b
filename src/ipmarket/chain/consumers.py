"""The chain module's consumers (queue `blockchain`): log entries and checkpoints become
intents in `chain_transactions`; nothing waits on the chain here (the job sends)."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain.records import anchor_checkpoint, record_log_entry
from ipmarket.chain.runtime import current_chain
from ipmarket.eventbus import Event, EventType, Queue, subscribe
from ipmarket.transparency import CheckpointSigned, EntryAppended

log = structlog.get_logger(__name__)


@subscribe(
    EventType.TRANSPARENCY_ENTRY_APPENDED, consumer="chain.record_entry", queue=Queue.BLOCKCHAIN
)
async def record_entry(session: AsyncSession, event: Event) -> None:
    appended = event.parse(EntryAppended)
    chain = await current_chain()
    if chain is None:
        log.info(
            "chain.not_configured", leaf_index=appended.leaf_index, kind=appended.entry.get("kind")
        )
        return
    await record_log_entry(session, chain, appended.entry, appended.leaf_hash, appended.leaf_index)


@subscribe(
    EventType.TRANSPARENCY_CHECKPOINT_SIGNED,
    consumer="chain.anchor_checkpoint",
    queue=Queue.BLOCKCHAIN,
)
async def anchor_signed_checkpoint(session: AsyncSession, event: Event) -> None:
    checkpoint = event.parse(CheckpointSigned)
    chain = await current_chain()
    if chain is None:
        log.info("chain.not_configured", tree_size=checkpoint.tree_size)
        return
    await anchor_checkpoint(
        session, chain, tree_size=checkpoint.tree_size, root_hash=checkpoint.root_hash
    )
