"""Writing the log (appends in causal order, exactly once) and signing checkpoints; reading
proofs. Every write runs under the head row lock.

Order. Deliveries from the relay are unordered, so an append does not trust its own
delivery: handling event E first appends every logged-kind event that is in the outbox,
has no entry yet, and sorts before E by (occurred_at, kind rank, id), within LOOKBACK; then
E. What this guarantees: an event committed before E's transaction published E gets a lower
leaf number than E, so a license entry precedes the entries of products made on it, an asset
entry precedes its licenses, a parent license precedes a derivative's license. (Events
published by concurrent transactions that neither saw are ordered by whoever is delivered
first; they are causally unrelated.) The kind rank only matters for equal timestamps (a
frozen test clock). An event older than LOOKBACK with no entry yet (a delivery dead for a
day) is appended by its own delivery when requeued, after later ones.

Exactly once. The entry's event id is unique and is checked after the head lock is held,
so concurrent deliveries of the same event, or of two events that append each other, wait
for one another and the second finds the entry; a handler that rolled back appended nothing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.eventbus import Event, EventType, publish
from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import NotFound, ValidationFailed
from ipmarket.transparency import merkle, repository
from ipmarket.transparency.canonical import canonical_json
from ipmarket.transparency.entries import NewEntry, entry_of
from ipmarket.transparency.events import CheckpointSigned, EntryAppended
from ipmarket.transparency.models import LogEntry, SignedCheckpoint
from ipmarket.transparency.signing import CheckpointSigner, signer

log = structlog.get_logger(__name__)

LOOKBACK = timedelta(days=1)
# Causes before effects when timestamps tie.
_KIND_RANK = {
    EventType.IP_ASSET_APPROVED.value: 0,
    EventType.LICENSE_APPROVED.value: 1,
    EventType.PRODUCT_PUBLISHED.value: 2,
    EventType.IP_ASSET_SUSPENDED.value: 3,
    EventType.AUTHORIZATION_REVOKED.value: 4,
}


def digest(value: Any) -> str:
    """SHA-256 hex of the canonical JSON of `value` (e.g. a license's terms snapshot)."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def digest_text(value: str) -> str:
    """SHA-256 hex of the UTF-8 bytes of `value` (e.g. a verification code)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: str
    timestamp: int
    signature: str
    key_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "treeSize": self.tree_size,
            "rootHash": self.root_hash,
            "timestamp": self.timestamp,
            "signature": self.signature,
            "keyId": self.key_id,
        }


@dataclass(frozen=True)
class Entry:
    leaf_index: int
    leaf_hash: str
    entry: dict[str, Any]
    data: bytes
    subjects: list[str]


def _checkpoint(row: SignedCheckpoint) -> Checkpoint:
    return Checkpoint(
        tree_size=row.tree_size,
        root_hash=bytes(row.root_hash).hex(),
        timestamp=row.timestamp_ms,
        signature=bytes(row.signature).hex(),
        key_id=row.key_id,
    )


def _entry(row: LogEntry) -> Entry:
    data = bytes(row.data)
    return Entry(
        leaf_index=row.leaf_index,
        leaf_hash=bytes(row.leaf_hash).hex(),
        entry=json.loads(data),
        data=data,
        subjects=list(row.subjects),
    )


# --- writing -------------------------------------------------------------------------------


def _order_key(occurred_at: Any, event_type: str, event_id: uuid.UUID) -> tuple[Any, int, str]:
    return (occurred_at, _KIND_RANK.get(event_type, 9), str(event_id))


async def _append(session: AsyncSession, head: Any, new: NewEntry) -> int:
    index, leaf = await repository.append(session, head, new)
    await publish(session, EntryAppended(leaf_index=index, leaf_hash=leaf.hex(), entry=new.entry))
    log.info("transparency.appended", leaf_index=index, kind=new.kind, event_id=str(new.event_id))
    return index


async def record_event(session: AsyncSession, event: Event) -> None:
    """Append `event`'s entry, after any earlier logged event still missing (see above)."""
    head = await repository.lock_head(session)
    if await repository.logged_event_ids(session, [event.id]):
        return  # a redelivery, or appended as an earlier event of another one
    mine = _order_key(event.occurred_at, event.type.value, event.id)
    earlier = sorted(
        (
            row
            for row in await repository.unlogged_events_until(
                session, event.occurred_at, lookback=LOOKBACK
            )
            if row.id != event.id and _order_key(row.occurred_at, row.event_type, row.id) < mine
        ),
        key=lambda row: _order_key(row.occurred_at, row.event_type, row.id),
    )
    for row in earlier:
        await _append(session, head, entry_of(row.event_type, row.id, row.occurred_at, row.payload))
    await _append(
        session, head, entry_of(event.type.value, event.id, event.occurred_at, event.payload)
    )


async def sign_checkpoint(
    session: AsyncSession, using: CheckpointSigner | None = None
) -> Checkpoint | None:
    """Sign the current tree head if the tree grew since the last checkpoint; None if not.
    Tree sizes and timestamps only increase (the database refuses otherwise)."""
    head = await repository.lock_head(session)
    last = await repository.latest_checkpoint(session)
    if head.tree_size == 0 or (last is not None and last.tree_size >= head.tree_size):
        return None
    key = using or signer()
    root = merkle.frontier_root(repository.split_frontier(head.frontier)).hex()
    timestamp = int(utcnow().timestamp() * 1000)
    if last is not None and timestamp <= last.timestamp_ms:
        timestamp = last.timestamp_ms + 1  # the clock went back (or stood still): still forward
    signature = key.sign(head.tree_size, root, timestamp)
    row = SignedCheckpoint(
        tree_size=head.tree_size,
        root_hash=bytes.fromhex(root),
        timestamp_ms=timestamp,
        signature=bytes.fromhex(signature),
        key_id=key.key_id,
        created_at=utcnow(),
    )
    await repository.add_checkpoint(session, row)
    await publish(
        session,
        CheckpointSigned(
            tree_size=head.tree_size,
            root_hash=root,
            timestamp=timestamp,
            signature=signature,
            key_id=key.key_id,
        ),
    )
    log.info("transparency.checkpoint_signed", tree_size=head.tree_size, root_hash=root)
    return _checkpoint(row)


# --- reading -------------------------------------------------------------------------------


async def latest_checkpoint(session: AsyncSession) -> Checkpoint | None:
    row = await repository.latest_checkpoint(session)
    return _checkpoint(row) if row is not None else None


async def log_size(session: AsyncSession) -> int:
    return await repository.tree_size(session)


async def entries_between(session: AsyncSession, start: int, end: int) -> list[Entry]:
    """Entries [start, end) (end beyond the log is cut at its size)."""
    return [_entry(r) for r in await repository.entries_between(session, start, end)]


async def entries_for_subjects(session: AsyncSession, subjects: list[str]) -> list[Entry]:
    """Every entry naming one of `subjects` (`ip_asset:<id>`, `license:<id>`,
    `product:<id>`, `chain_record:<id>`), in log order."""
    return [_entry(r) for r in await repository.entries_about(session, subjects)]


async def entry_at(session: AsyncSession, leaf_index: int) -> Entry | None:
    row = await repository.entry_at(session, leaf_index)
    return _entry(row) if row is not None else None


async def entry_with_hash(session: AsyncSession, leaf_hash: bytes) -> Entry | None:
    row = await repository.entry_with_hash(session, leaf_hash)
    return _entry(row) if row is not None else None


async def _within_log(session: AsyncSession, tree_size: int, field: str) -> None:
    size = await repository.tree_size(session)
    if tree_size > size:
        raise NotFound(
            f"The log has {size} entries: {field} {tree_size} is beyond it",
            details={"reason": "beyond_log", "logSize": size},
        )


async def _hashes(session: AsyncSession, ranges: list[merkle.Range]) -> list[bytes]:
    found = await repository.nodes(session, merkle.nodes_of(ranges))
    return merkle.hashes_of(ranges, found)


async def inclusion_proof(session: AsyncSession, leaf_index: int, tree_size: int) -> list[bytes]:
    """RFC 9162 inclusion proof of leaf `leaf_index` in the tree of `tree_size` leaves."""
    await _within_log(session, tree_size, "treeSize")
    try:
        ranges = merkle.inclusion_ranges(leaf_index, tree_size)
    except merkle.ProofError as exc:
        raise ValidationFailed(str(exc), details={"reason": "leaf_not_in_tree"}) from exc
    return await _hashes(session, ranges)


async def consistency_proof(session: AsyncSession, first: int, second: int) -> list[bytes]:
    """RFC 9162 consistency proof between the trees of `first` and `second` leaves."""
    if first > second:
        raise ValidationFailed(
            "first must not be greater than second", details={"reason": "first_after_second"}
        )
    if first < 1:
        raise ValidationFailed(
            "first must be at least 1: the empty tree proves nothing",
            details={"reason": "empty_first_tree"},
        )
    await _within_log(session, second, "second")
    return await _hashes(session, merkle.consistency_ranges(first, second))


async def root_at(session: AsyncSession, tree_size: int) -> bytes:
    """The root hash of the tree of the first `tree_size` entries."""
    await _within_log(session, tree_size, "treeSize")
    return (await _hashes(session, [(0, tree_size)]))[0]
