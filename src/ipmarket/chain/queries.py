"""The chain module's read side, for provenance's verification answers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain.models import ChainTransaction, TxKind, TxStatus


@dataclass(frozen=True)
class Anchor:
    """A confirmed anchorCheckpoint: the log's root at `tree_size` is on chain."""

    chain_id: int
    contract: str
    transaction_hash: str
    block_number: int
    tree_size: int
    root_hash: str  # lowercase hex, no 0x


async def anchor_covering(session: AsyncSession, leaf_index: int) -> Anchor | None:
    """The earliest confirmed checkpoint anchor whose tree holds leaf `leaf_index`, or None
    (not anchored yet, or no chain configured)."""
    row = await session.scalar(
        select(ChainTransaction)
        .where(
            ChainTransaction.kind == TxKind.ANCHOR_CHECKPOINT.value,
            ChainTransaction.status == TxStatus.CONFIRMED.value,
            ChainTransaction.tree_size > leaf_index,
        )
        .order_by(ChainTransaction.tree_size)
        .limit(1)
    )
    if row is None:
        return None
    assert row.transaction_hash is not None
    assert row.block_number is not None
    assert row.tree_size is not None
    assert row.root_hash is not None
    return Anchor(
        chain_id=row.chain_id,
        contract=row.contract,
        transaction_hash=row.transaction_hash,
        block_number=row.block_number,
        tree_size=row.tree_size,
        root_hash=row.root_hash,
    )
