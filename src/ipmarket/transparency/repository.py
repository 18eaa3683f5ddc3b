"""All of the log's SQL: the head lock, appends, node reads, entries and checkpoints."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.eventbus.models import OutboxEvent
from ipmarket.kit.clock import utcnow
from ipmarket.transparency import merkle
from ipmarket.transparency.entries import LOGGED_EVENTS, NewEntry
from ipmarket.transparency.models import LogEntry, LogHead, LogNode, SignedCheckpoint

HEAD_ID = 1


def split_frontier(packed: bytes) -> list[bytes]:
    return [packed[i : i + merkle.HASH_SIZE] for i in range(0, len(packed), merkle.HASH_SIZE)]


async def lock_head(session: AsyncSession) -> LogHead:
    """The head row, locked until the transaction ends: appends happen one at a time, so leaf
    numbers are gapless. Made on first use (an empty log has no row)."""
    await session.execute(
        pg_insert(LogHead)
        .values(id=HEAD_ID, tree_size=0, frontier=b"")
        .on_conflict_do_nothing(index_elements=[LogHead.id])
    )
    return (
        await session.execute(
            select(LogHead)
            .where(LogHead.id == HEAD_ID)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()


async def tree_size(session: AsyncSession) -> int:
    """The log's size as committed (no lock)."""
    size = (
        await session.execute(select(LogHead.tree_size).where(LogHead.id == HEAD_ID))
    ).scalar_one_or_none()
    return int(size or 0)


async def logged_event_ids(session: AsyncSession, event_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    ids = set(event_ids)
    if not ids:
        return set()
    rows = await session.execute(select(LogEntry.event_id).where(LogEntry.event_id.in_(ids)))
    return set(rows.scalars())


async def unlogged_events_until(
    session: AsyncSession, until: datetime, *, lookback: timedelta
) -> list[OutboxEvent]:
    """Logged-kind outbox events that occurred in [until - lookback, until] and have no entry."""
    has_entry = select(LogEntry.event_id).where(LogEntry.event_id == OutboxEvent.id).exists()
    rows = await session.execute(
        select(OutboxEvent).where(
            OutboxEvent.event_type.in_([t.value for t in LOGGED_EVENTS]),
            OutboxEvent.occurred_at <= until,
            OutboxEvent.occurred_at >= until - lookback,
            ~has_entry,
        )
    )
    return list(rows.scalars())


async def append(session: AsyncSession, head: LogHead, new: NewEntry) -> tuple[int, bytes]:
    """Append `new` as leaf number `head.tree_size` under the head lock; returns its index and
    leaf hash. The nodes the leaf completes are written with it."""
    index = head.tree_size
    leaf = merkle.leaf_hash(new.data)
    frontier = split_frontier(head.frontier)
    made = merkle.frontier_push(frontier, index, leaf)
    await session.execute(
        insert(LogEntry).values(
            leaf_index=index,
            leaf_hash=leaf,
            data=new.data,
            event_id=new.event_id,
            kind=new.kind,
            subjects=new.subjects,
            created_at=utcnow(),
        )
    )
    await session.execute(
        insert(LogNode), [{"level": lv, "index": ix, "hash": h} for (lv, ix), h in made]
    )
    await session.execute(
        update(LogHead)
        .where(LogHead.id == HEAD_ID)
        .values(tree_size=index + 1, frontier=b"".join(frontier), updated_at=utcnow())
    )
    head.tree_size = index + 1
    head.frontier = b"".join(frontier)
    return index, leaf


async def nodes(session: AsyncSession, ids: Sequence[merkle.NodeId]) -> dict[merkle.NodeId, bytes]:
    if not ids:
        return {}
    rows = await session.execute(
        select(LogNode.level, LogNode.index.label("ix"), LogNode.hash).where(
            tuple_(LogNode.level, LogNode.index).in_(list(ids))
        )
    )
    return {(int(r.level), int(r.ix)): bytes(r.hash) for r in rows}


async def entries_between(session: AsyncSession, start: int, end: int) -> list[LogEntry]:
    rows = await session.execute(
        select(LogEntry)
        .where(LogEntry.leaf_index >= start, LogEntry.leaf_index < end)
        .order_by(LogEntry.leaf_index)
    )
    return list(rows.scalars())


async def entry_at(session: AsyncSession, leaf_index: int) -> LogEntry | None:
    return await session.get(LogEntry, leaf_index)


async def entry_with_hash(session: AsyncSession, leaf_hash: bytes) -> LogEntry | None:
    """The first entry with this leaf hash (entries carry their event id: hashes are unique)."""
    rows = await session.execute(
        select(LogEntry).where(LogEntry.leaf_hash == leaf_hash).order_by(LogEntry.leaf_index)
    )
    return rows.scalars().first()


async def entries_about(session: AsyncSession, subjects: Iterable[str]) -> list[LogEntry]:
    wanted = sorted(set(subjects))
    if not wanted:
        return []
    rows = await session.execute(
        select(LogEntry).where(LogEntry.subjects.overlap(wanted)).order_by(LogEntry.leaf_index)
    )
    return list(rows.scalars())


async def latest_checkpoint(session: AsyncSession) -> SignedCheckpoint | None:
    rows = await session.execute(
        select(SignedCheckpoint).order_by(SignedCheckpoint.tree_size.desc()).limit(1)
    )
    return rows.scalars().first()


async def add_checkpoint(session: AsyncSession, checkpoint: SignedCheckpoint) -> None:
    session.add(checkpoint)
    await session.flush()
