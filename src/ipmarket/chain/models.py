"""The chain module's tables.

`chain_transactions` is the ledger that makes every on-chain write happen once. A write is an
intent row first, keyed by what it is about (kind, subject) so that a redelivered event finds
its row; its nonce is allocated under the sender's `chain_accounts` row lock and its signed
bytes are stored before they are sent, so a worker that dies after sending re-broadcasts the
very same transaction (same hash) instead of writing a second one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Base, IdMixin, TimestampMixin


class TxKind(StrEnum):
    CREATE_AUTHORIZATION = "create_authorization"
    REVOKE_AUTHORIZATION = "revoke_authorization"
    ANCHOR_CHECKPOINT = "anchor_checkpoint"


class TxStatus(StrEnum):
    PENDING = "pending"  # intent only: no nonce, nothing signed
    SIGNED = "signed"  # nonce and signed bytes stored; may or may not have reached the node
    SENT = "sent"  # the node accepted it
    MINED = "mined"  # in a block, not yet CHAIN_CONFIRMATIONS deep
    CONFIRMED = "confirmed"
    FAILED = "failed"  # reverted, or refused for good; `error` says why


OPEN_STATUSES = (TxStatus.PENDING, TxStatus.SIGNED, TxStatus.SENT, TxStatus.MINED)


class ChainTransaction(IdMixin, TimestampMixin, Base):
    __tablename__ = "chain_transactions"
    __table_args__ = (
        UniqueConstraint("kind", "subject", name="uq_chain_transactions_kind_subject"),
        UniqueConstraint("chain_id", "sender", "nonce", name="uq_chain_transactions_nonce"),
        Index(
            "idx_chain_transactions_open",
            "log_position",
            postgresql_where="status IN ('pending', 'signed', 'sent', 'mined')",
        ),
        Index(
            "idx_chain_transactions_anchor",
            "tree_size",
            postgresql_where="kind = 'anchor_checkpoint' AND status = 'confirmed'",
        ),
    )

    kind: Mapped[str] = mapped_column(String(32))
    # What the write is about, e.g. "license:<uuid>" or "checkpoint:<treeSize>".
    subject: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default=TxStatus.PENDING)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract: Mapped[str] = mapped_column(String(42))
    sender: Mapped[str] = mapped_column(String(42))
    # The contract call: function name and its arguments as JSON (hex for bytes).
    function: Mapped[str] = mapped_column(String(64))
    arguments: Mapped[list[Any]] = mapped_column(JSONB)
    # What to say once confirmed (the chain.record_anchored event's subject fields), and
    # `after`: the [kind, subject] of the write that must take a nonce first (a parent).
    record: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The place in the log this write follows from: 2 x leaf index for an entry's write,
    # 2 x treeSize - 1 for a checkpoint's (after its last leaf). Nonces follow this order.
    log_position: Mapped[int] = mapped_column(BigInteger)
    tree_size: Mapped[int | None] = mapped_column(BigInteger)
    root_hash: Mapped[str | None] = mapped_column(String(64))

    nonce: Mapped[int | None] = mapped_column(BigInteger)
    gas_limit: Mapped[int | None] = mapped_column(BigInteger)
    max_fee_per_gas: Mapped[int | None] = mapped_column(BigInteger)
    max_priority_fee_per_gas: Mapped[int | None] = mapped_column(BigInteger)
    raw_transaction: Mapped[str | None] = mapped_column(Text)  # 0x hex of the signed bytes
    transaction_hash: Mapped[str | None] = mapped_column(String(66))
    # Hashes of the earlier signings of the same nonce (replaced as stuck): any may be mined.
    replaced_hashes: Mapped[list[str]] = mapped_column(ARRAY(String(66)), default=list)
    sent_at: Mapped[datetime | None] = mapped_column()
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    confirmed_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class ChainAccount(Base):
    """The next nonce of a sending account; its row lock serialises nonce allocation."""

    __tablename__ = "chain_accounts"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


__all__ = ["OPEN_STATUSES", "ChainAccount", "ChainTransaction", "TxKind", "TxStatus"]
