"""Events the transparency log publishes (consumed by the chain module, queue BLOCKCHAIN)."""

from __future__ import annotations

from typing import Any, ClassVar

from ipmarket.eventbus import EventPayload, EventType


class EntryAppended(EventPayload):
    """An entry took its place in the log: `leaf_index` is final, `entry` is the entry's
    object whose canonical JSON bytes are the leaf's data."""

    event_type: ClassVar[EventType] = EventType.TRANSPARENCY_ENTRY_APPENDED
    leaf_index: int
    leaf_hash: str  # lowercase hex of SHA-256(0x00 || canonical JSON)
    entry: dict[str, Any]


class CheckpointSigned(EventPayload):
    """A signed tree head was issued; the chain module anchors its root."""

    event_type: ClassVar[EventType] = EventType.TRANSPARENCY_CHECKPOINT_SIGNED
    tree_size: int
    root_hash: str  # lowercase hex
    timestamp: int  # milliseconds since the Unix epoch
    signature: str  # lowercase hex Ed25519 signature
    key_id: str  # lowercase hex SHA-256 of the raw public key
