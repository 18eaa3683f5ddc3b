"""The double-entry ledger: postings of entries that sum to zero, in integer minor units.

Sign convention: a positive entry means the account holder is owed more (a credit to a
liability or revenue account: a user's earnings, the platform's fees, money sent out as
payouts); the provider's clearing account carries the opposite sign (money the payment
provider holds for us is negative there). So every posting sums to zero, the whole ledger
sums to zero, and a user's balance is the sum of the entries on their accounts.

A posting is identified by (kind, reference): posting the same kind and reference again
posts nothing, so a retried request, job or event delivery moves no money twice.

Earnings credited to a user's pending account with an `available_at` become available at
that time: `release_matured` moves each such entry, once, from pending to available with a
`hold_release` posting whose reference is the entry's id (a negative entry, the reversal of
earnings by a refund, is released the same way, so that the pending balance nets out).

A payout moves a user's available money out in two steps, both referenced by the payout's
id: `payout` when it is recorded (available -x, payouts in flight +x), then `payout_paid`
once the provider has it (in flight -x, payouts +x) or `payout_failed` when the provider
refused it (in flight -x, available +x: the money is the user's again). The in-flight
account therefore always holds exactly the pending payouts. A payout the provider made but
the bank returned later is given back by `payout_returned` (payouts -x, available +x).

A refund is posted (`refund`, referenced by the refund's id) when it is recorded, before the
provider makes it; a refund the provider refused is undone by `refund_failed`, the exact
reversal of its `refund` posting (see `reverse`).

This module neither commits nor opens transactions: the caller's transaction holds the
postings (ARCHITECTURE.md §4.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, String, and_, cast, exists, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ipmarket.kit.clock import utcnow
from ipmarket.kit.ids import new_id
from ipmarket.payments.ledger.accounts import (
    AccountRef,
    user_available,
    user_pending,
)
from ipmarket.payments.models import AccountKind, LedgerAccount, LedgerEntry, LedgerPosting

# Posting kinds this module and the ledger check rely on. A completed sale or license fee
# is posted once, as kind SALE with the transaction's id as its reference.
SALE = "sale"
HOLD_RELEASE = "hold_release"
# A payout, referenced by the payout's id: recorded (the user's available balance → payouts
# in flight), then either paid (in flight → payouts) or failed (in flight → available again).
PAYOUT = "payout"
PAYOUT_PAID = "payout_paid"
PAYOUT_FAILED = "payout_failed"
# A paid payout returned by the bank (payouts → available again).
PAYOUT_RETURNED = "payout_returned"
PAYOUT_KINDS = (PAYOUT, PAYOUT_PAID, PAYOUT_FAILED, PAYOUT_RETURNED)
# A refund, referenced by the refund's id: the parts given back when it is recorded, and
# their exact reversal when the provider refused it.
REFUND = "refund"
REFUND_FAILED = "refund_failed"

_KIND_LENGTH = 40
_REFERENCE_LENGTH = 255
# Rows per multi-row INSERT, well under PostgreSQL's 32767 bind parameters.
_BATCH = 1000


@dataclass(frozen=True)
class Line:
    """One entry of a posting to be made. `available_at` (user_pending lines only) is when
    the amount leaves the hold period."""

    account: AccountRef
    amount_minor: int
    available_at: datetime | None = None


@dataclass(frozen=True)
class _Posting:
    kind: str
    reference: str
    lines: tuple[Line, ...]
    transaction_id: UUID | None
    memo: str | None


async def post(
    session: AsyncSession,
    *,
    kind: str,
    reference: str,
    lines: Sequence[Line],
    transaction_id: UUID | None = None,
    memo: str | None = None,
) -> bool:
    """Post `lines` as one balanced posting identified by (kind, reference).

    Returns True when posted, False when a posting of that kind and reference already
    exists (then nothing is written). Raises ValueError, before touching the database, for
    lines that do not sum to zero, hold a zero amount, mix currencies, are fewer than two,
    or carry an `available_at` off a user_pending account or without a timezone.
    """
    request = _Posting(kind, reference, tuple(lines), transaction_id, memo)
    _validate(request)
    return await _post_many(session, [request]) == 1


async def reverse(
    session: AsyncSession,
    *,
    kind: str,
    reference: str,
    reversal_kind: str,
    transaction_id: UUID | None = None,
    memo: str | None = None,
) -> bool:
    """Post the exact opposite of the posting (kind, reference), as (reversal_kind,
    reference): every account gets back what that posting moved on it.

    A user_pending entry still on hold (or matured but not yet released) is reversed on the
    pending account with the same `available_at`, so that both are released together and
    pending nets out; one that `release_matured` has already moved to available is reversed
    on the available account, where the money now is. Returns False when the reversal was
    posted before; raises LookupError when there is nothing to reverse."""
    released = aliased(LedgerPosting)
    rows = (
        await session.execute(
            select(
                LedgerAccount.kind,
                LedgerAccount.owner_id,
                LedgerAccount.currency,
                LedgerEntry.amount_minor,
                LedgerEntry.available_at,
                exists().where(
                    released.kind == HOLD_RELEASE,
                    released.reference == cast(LedgerEntry.id, String),
                ),
            )
            .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
            .join(LedgerPosting, LedgerPosting.id == LedgerEntry.posting_id)
            .where(LedgerPosting.kind == kind, LedgerPosting.reference == reference)
            .order_by(LedgerEntry.created_at, LedgerEntry.id)
        )
    ).all()
    if not rows:
        raise LookupError(f"no {kind} posting {reference} to reverse")
    lines = []
    for account_kind, owner_id, currency, amount, available_at, was_released in rows:
        account = AccountRef(AccountKind(account_kind), owner_id, currency)
        if account.kind == AccountKind.USER_PENDING and available_at is not None:
            if was_released:
                assert owner_id is not None  # user accounts have an owner
                lines.append(Line(user_available(owner_id, currency), -amount))
            else:
                lines.append(Line(account, -amount, available_at))
        else:
            lines.append(Line(account, -amount))
    return await post(
        session,
        kind=reversal_kind,
        reference=reference,
        lines=lines,
        transaction_id=transaction_id,
        memo=memo,
    )


async def release_matured(session: AsyncSession, *, now: datetime, limit: int = 1000) -> int:
    """Make available the earnings whose hold period is over: each user_pending entry with
    `available_at <= now` not yet released is moved to its owner's available account by a
    `hold_release` posting referencing the entry (pending -x, available +x). Oldest first,
    at most `limit` entries; returns how many were released.

    Each entry is released exactly once even when runs overlap: a run that loses the race
    for an entry's (hold_release, entry id) posting waits for the winner and posts nothing.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    release = aliased(LedgerPosting)
    already_released = exists().where(
        release.kind == HOLD_RELEASE,
        release.reference == cast(LedgerEntry.id, String),
    )
    rows = (
        await session.execute(
            select(
                LedgerEntry.id,
                LedgerEntry.amount_minor,
                LedgerAccount.owner_id,
                LedgerAccount.currency,
                LedgerPosting.transaction_id,
            )
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .join(LedgerPosting, LedgerPosting.id == LedgerEntry.posting_id)
            .where(
                LedgerAccount.kind == AccountKind.USER_PENDING.value,
                LedgerEntry.available_at.is_not(None),
                LedgerEntry.available_at <= now,
                LedgerPosting.kind != HOLD_RELEASE,
                ~already_released,
            )
            .order_by(LedgerEntry.available_at, LedgerEntry.id)
            .limit(limit)
        )
    ).all()
    postings = []
    for entry_id, amount, owner_id, currency, transaction_id in rows:
        assert owner_id is not None  # user accounts have an owner (a table constraint)
        postings.append(
            _Posting(
                kind=HOLD_RELEASE,
                reference=str(entry_id),
                lines=(
                    Line(user_pending(owner_id, currency), -amount),
                    Line(user_available(owner_id, currency), amount),
                ),
                transaction_id=transaction_id,
                memo=None,
            )
        )
    return await _post_many(session, postings)


# --- internals ------------------------------------------------------------------------------


def _validate(request: _Posting) -> None:
    if not request.kind or len(request.kind) > _KIND_LENGTH:
        raise ValueError(f"a posting kind has 1 to {_KIND_LENGTH} characters")
    if not request.reference or len(request.reference) > _REFERENCE_LENGTH:
        raise ValueError(f"a posting reference has 1 to {_REFERENCE_LENGTH} characters")
    where = f"posting {request.kind} {request.reference}"
    if len(request.lines) < 2:
        raise ValueError(f"{where}: a posting has at least two lines")
    for line in request.lines:
        if not isinstance(line.account, AccountRef):
            raise TypeError(f"{where}: a line's account is an AccountRef")
        amount = line.amount_minor
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise TypeError(f"{where}: amounts are integers in minor units")
        if amount == 0:
            raise ValueError(f"{where}: a line of zero on {line.account}")
        if line.available_at is not None:
            if line.account.kind != AccountKind.USER_PENDING:
                raise ValueError(f"{where}: only pending earnings have an available_at")
            if line.available_at.tzinfo is None:
                raise ValueError(f"{where}: available_at must be timezone-aware")
    currencies = {line.account.currency for line in request.lines}
    if len(currencies) != 1:
        raise ValueError(f"{where}: lines in several currencies {sorted(currencies)}")
    total = sum(line.amount_minor for line in request.lines)
    if total != 0:
        raise ValueError(f"{where}: lines sum to {total}, not to zero")


async def _post_many(session: AsyncSession, requests: Sequence[_Posting]) -> int:
    """Insert the postings that do not exist yet, then their entries; returns how many were
    posted. The requests are valid (see _validate) and have distinct (kind, reference)."""
    if not requests:
        return 0
    now = utcnow()
    # Insert in a fixed order, so that concurrent batches wait for each other on the
    # (kind, reference) index instead of deadlocking.
    ordered = sorted(requests, key=lambda r: (r.kind, r.reference))
    ids = {(r.kind, r.reference): new_id() for r in ordered}
    posted: set[UUID] = set()
    for batch in _batches(ordered, _BATCH):
        rows = [
            {
                "id": ids[(r.kind, r.reference)],
                "kind": r.kind,
                "reference": r.reference,
                "transaction_id": r.transaction_id,
                "memo": r.memo,
                "created_at": now,
            }
            for r in batch
        ]
        stmt = (
            pg_insert(LedgerPosting)
            .values(rows)
            .on_conflict_do_nothing(constraint="uq_ledger_postings_kind_reference")
            .returning(LedgerPosting.id)
        )
        posted.update((await session.execute(stmt)).scalars())
    won = [r for r in ordered if ids[(r.kind, r.reference)] in posted]
    if not won:
        return 0
    accounts = await _account_ids(session, (line.account for r in won for line in r.lines))
    entries = [
        {
            "id": new_id(),
            "posting_id": ids[(r.kind, r.reference)],
            "account_id": accounts[line.account],
            "amount_minor": line.amount_minor,
            "available_at": line.available_at,
            "created_at": now,
        }
        for r in won
        for line in r.lines
    ]
    for entry_batch in _batches(entries, _BATCH):
        await session.execute(pg_insert(LedgerEntry).values(entry_batch))
    return len(won)


async def _account_ids(session: AsyncSession, refs: Iterable[AccountRef]) -> dict[AccountRef, UUID]:
    """The ids of the accounts, created when missing: INSERT ... ON CONFLICT DO NOTHING,
    then one SELECT (per batch of accounts)."""
    # A fixed order, so that concurrent creations of the same accounts cannot deadlock.
    wanted = sorted(set(refs), key=lambda r: (r.kind.value, str(r.owner_id or ""), r.currency))
    found: dict[AccountRef, UUID] = {}
    now = utcnow()
    for batch in _batches(wanted, _BATCH):
        await session.execute(
            pg_insert(LedgerAccount)
            .values(
                [
                    {
                        "id": new_id(),
                        "kind": ref.kind.value,
                        "owner_id": ref.owner_id,
                        "currency": ref.currency,
                        "created_at": now,
                    }
                    for ref in batch
                ]
            )
            .on_conflict_do_nothing(constraint="uq_ledger_accounts_kind")
        )
        owners = {ref.owner_id for ref in batch if ref.owner_id is not None}
        shared = {ref.kind.value for ref in batch if ref.owner_id is None}
        conditions: list[ColumnElement[bool]] = []
        if owners:
            conditions.append(LedgerAccount.owner_id.in_(owners))
        if shared:
            conditions.append(
                and_(LedgerAccount.owner_id.is_(None), LedgerAccount.kind.in_(shared))
            )
        rows = await session.execute(
            select(
                LedgerAccount.id,
                LedgerAccount.kind,
                LedgerAccount.owner_id,
                LedgerAccount.currency,
            ).where(
                or_(*conditions),
                LedgerAccount.currency.in_({ref.currency for ref in batch}),
            )
        )
        for account_id, kind, owner_id, currency in rows:
            found[AccountRef(AccountKind(kind), owner_id, currency)] = account_id
    missing = [str(ref) for ref in wanted if ref not in found]
    if missing:  # pragma: no cover - the INSERT above created them or waited for their creator
        raise RuntimeError(f"ledger accounts could not be resolved: {', '.join(missing)}")
    return {ref: found[ref] for ref in wanted}


_T = TypeVar("_T")


def _batches(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
