"""What the ledger checks share: the parties money moves for, names in discrepancies, and
reading a table a batch at a time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import (
    Row,
    Select,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ipmarket.payments.models import (
    AccountKind,
    Transaction,
)

USER_KINDS = (AccountKind.USER_PENDING.value, AccountKind.USER_AVAILABLE.value)

# Rows read per round trip.
BATCH = 1000

# Where a sale's money goes: an account kind, with the owner for users' accounts.
Party = tuple[str, uuid.UUID | None]
USER = "user"


async def keyset_batches(
    session: AsyncSession, stmt: Select[*tuple[Any, ...]], *keys: InstrumentedAttribute[Any]
) -> AsyncIterator[Sequence[Row[Any]]]:
    """The rows of `stmt`, ordered by `keys`, `BATCH` at a time: each batch starts after the
    last one's keys (keyset pagination: no offset, no snapshot of ids). `keys` must be among
    the selected columns and identify a row."""
    after: tuple[Any, ...] | None = None
    while True:
        page = stmt if after is None else stmt.where(tuple_(*keys) > tuple_(*after))
        batch = (await session.execute(page.order_by(*keys).limit(BATCH))).all()
        if not batch:
            return
        yield batch
        last = batch[-1]._mapping
        after = tuple(last[key] for key in keys)


async def transactions_by_id(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Transaction]:
    rows = await session.execute(select(Transaction).where(Transaction.id.in_(ids)))
    return {tx.id: tx for tx in rows.scalars()}


def posting_name(posting_id: uuid.UUID, kind: str, reference: str) -> str:
    return f"posting {posting_id} ({kind} {reference})"


def party_name(party: Party) -> str:
    kind, owner = party
    if kind == USER:
        return f"user {owner}"
    return kind.replace("_", " ")


def parties(*moved: dict[Party, int]) -> list[Party]:
    """The parties any of `moved` moves money for, in a stable order."""
    found = {party for amounts in moved for party, amount in amounts.items() if amount}
    return sorted(found, key=lambda p: (p[0], str(p[1])))
