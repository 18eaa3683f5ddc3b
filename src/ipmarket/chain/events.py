"""Events the chain module publishes."""

from __future__ import annotations

from typing import ClassVar, Literal

from ipmarket.eventbus import EventPayload, EventType

RecordKind = Literal["ip_asset", "license", "chain_record", "revocation", "checkpoint"]


class RecordAnchored(EventPayload):
    """A chain transaction is confirmed (CHAIN_CONFIRMATIONS deep).

    `kind` and `subject_ids` say what it recorded: an IP asset's, a license's or a product's
    authorization-chain record's creation (one id), a revocation (the license ids), or a
    checkpoint (none; `tree_size` is set)."""

    event_type: ClassVar[EventType] = EventType.CHAIN_RECORD_ANCHORED
    kind: RecordKind
    subject_ids: list[str]
    auth_id: str | None = None  # 0x hex of the contract's authId
    tree_size: int | None = None
    chain_id: int
    contract: str
    transaction_hash: str
    block_number: int
