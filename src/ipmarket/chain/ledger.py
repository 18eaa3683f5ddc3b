"""The ledger of on-chain writes: intents first, then signed, sent, mined and confirmed.

Writes never wait on the chain: a consumer records an intent (`record_intent`) in its own
transaction and returns; the `chain.advance_transactions` job moves every open row one step
(`advance`), committing after each step, so a crash at any point is picked up where it was:

- pending → signed: the nonce is allocated under the sender's `chain_accounts` row lock and
  the signed bytes are stored, in one commit, before anything is sent.
- signed → sent: the stored bytes are broadcast. A worker killed before it recorded `sent`
  broadcasts the same bytes again: same hash, one write on chain.
- sent → mined: a receipt for the current hash or any replaced one. Not mined within
  CHAIN_STUCK_AFTER_SECONDS: signed again with the same nonce and higher fees (a node keeps
  one of them), the earlier hash kept in `replaced_hashes` as it may still be the one mined.
  A reverted receipt marks the row failed with the decoded reason.
- mined → confirmed: CHAIN_CONFIRMATIONS blocks deep (the receipt is read again, so a reorg
  that dropped it sends the row back to `sent`); `chain.record_anchored` is published in the
  same commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain.events import RecordAnchored, RecordKind
from ipmarket.chain.ids import bytes32
from ipmarket.chain.models import OPEN_STATUSES, ChainAccount, ChainTransaction, TxKind, TxStatus
from ipmarket.chain.port import (
    AuthorizationChainPort,
    ChainUnavailable,
    Fees,
    Receipt,
    SignedTransaction,
)
from ipmarket.eventbus import publish
from ipmarket.kit.clock import utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Policy:
    confirmations: int = 3
    stuck_after: timedelta = timedelta(minutes=3)


async def record_intent(
    session: AsyncSession,
    chain: AuthorizationChainPort,
    *,
    kind: TxKind,
    subject: str,
    function: str,
    arguments: list[Any],
    record: dict[str, Any],
    log_position: int,
    tree_size: int | None = None,
    root_hash: str | None = None,
) -> bool:
    """Record the write (kind, subject) once; False when it was already recorded."""
    result = await session.execute(
        insert(ChainTransaction)
        .values(
            id=uuid.uuid4(),
            kind=kind.value,
            subject=subject,
            status=TxStatus.PENDING.value,
            chain_id=chain.chain_id,
            contract=chain.contract_address,
            sender=chain.sender,
            function=function,
            arguments=arguments,
            record=record,
            log_position=log_position,
            tree_size=tree_size,
            root_hash=root_hash,
            replaced_hashes=[],
            attempts=0,
        )
        .on_conflict_do_nothing(constraint="uq_chain_transactions_kind_subject")
        .returning(ChainTransaction.id)
    )
    return result.scalar_one_or_none() is not None


async def open_transaction_ids(
    session: AsyncSession, chain: AuthorizationChainPort
) -> list[uuid.UUID]:
    """Open rows of this chain and sender: those with a nonce in nonce order, then the
    intents in log order (the order their nonces are allocated in)."""
    rows = await session.scalars(
        select(ChainTransaction.id)
        .where(
            ChainTransaction.status.in_([s.value for s in OPEN_STATUSES]),
            ChainTransaction.chain_id == chain.chain_id,
            ChainTransaction.sender == chain.sender,
        )
        .order_by(
            ChainTransaction.nonce.asc().nulls_last(),
            ChainTransaction.log_position,
            ChainTransaction.created_at,
        )
    )
    return list(rows)


async def advance(
    session: AsyncSession, chain: AuthorizationChainPort, tx_id: uuid.UUID, policy: Policy
) -> str:
    """Move row `tx_id` one step at most, committing it; returns its status after the step.

    A node that does not answer leaves the row as it was (its `error` says why), for the
    next run."""
    row = await session.get(ChainTransaction, tx_id, with_for_update={"skip_locked": True})
    if row is None or row.status not in {s.value for s in OPEN_STATUSES}:
        await session.rollback()
        return row.status if row is not None else "missing"
    try:
        await _step(session, chain, row, policy)
    except ChainUnavailable as exc:
        await session.rollback()
        row = await session.get(ChainTransaction, tx_id)
        assert row is not None
        row.attempts += 1
        row.error = f"chain unavailable: {exc}"[:2000]
        log.warning("chain.unavailable", subject=row.subject, error=str(exc))
    status = row.status
    await session.commit()
    return status


async def _step(
    session: AsyncSession, chain: AuthorizationChainPort, row: ChainTransaction, policy: Policy
) -> None:
    if row.status == TxStatus.PENDING:
        if await _waits_for_parent(session, row, policy):
            return
        await _sign_first(session, chain, row)
    elif row.status == TxStatus.SIGNED:
        await _broadcast(chain, row)
    elif row.status == TxStatus.SENT:
        await _await_receipt(session, chain, row, policy)
    elif row.status == TxStatus.MINED:
        await _await_confirmations(session, chain, row, policy)


async def _waits_for_parent(session: AsyncSession, row: ChainTransaction, policy: Policy) -> bool:
    """True while the write this one depends on (`record.after`, e.g. the parent
    authorization) has no nonce yet: events reach the consumers in any order, and a child
    signed first would revert. After `stuck_after` it goes anyway and fails, saying why."""
    after = row.record.get("after")
    if not after:
        return False
    kind, subject = after
    parent_nonce = await session.scalar(
        select(ChainTransaction.nonce).where(
            ChainTransaction.kind == kind, ChainTransaction.subject == subject
        )
    )
    if parent_nonce is not None:
        return False
    if utcnow() - row.created_at >= policy.stuck_after:
        return False
    row.error = f"waiting for {subject} to be sent first"
    return True


async def _allocate_nonce(session: AsyncSession, chain: AuthorizationChainPort) -> int:
    """The sender's next nonce, under its row lock (held until the signed row commits)."""
    await session.execute(
        insert(ChainAccount)
        .values(chain_id=chain.chain_id, address=chain.sender, next_nonce=0)
        .on_conflict_do_nothing()
    )
    account = await session.scalar(
        select(ChainAccount)
        .where(ChainAccount.chain_id == chain.chain_id, ChainAccount.address == chain.sender)
        .with_for_update()
    )
    assert account is not None
    # The node's count covers writes made from this account by anything else (a deploy).
    nonce = max(account.next_nonce, await chain.pending_nonce())
    account.next_nonce = nonce + 1
    return nonce


async def _sign(
    chain: AuthorizationChainPort, row: ChainTransaction, nonce: int, fees: Fees
) -> SignedTransaction:
    args = row.arguments
    if row.function == "createAuthorizationWithId":
        auth, ip_hash, licensor, licensee, parent = args
        return await chain.create_authorization_record(
            auth_id=bytes32(auth),
            ip_hash=bytes32(ip_hash),
            licensor=licensor,
            licensee=licensee,
            parent_auth=bytes32(parent),
            nonce=nonce,
            fees=fees,
        )
    if row.function == "revokeAuthorization":
        return await chain.revoke_authorization(auth_id=bytes32(args[0]), nonce=nonce, fees=fees)
    if row.function == "anchorCheckpoint":
        return await chain.anchor_checkpoint(
            tree_size=int(args[0]), root_hash=bytes32(args[1]), nonce=nonce, fees=fees
        )
    raise ValueError(f"unknown contract function {row.function}")


def _store_signed(row: ChainTransaction, signed: SignedTransaction, fees: Fees) -> None:
    row.raw_transaction = signed.raw
    row.transaction_hash = signed.hash
    row.gas_limit = signed.gas_limit
    row.max_fee_per_gas = fees.max_fee_per_gas
    row.max_priority_fee_per_gas = fees.max_priority_fee_per_gas


async def _sign_first(
    session: AsyncSession, chain: AuthorizationChainPort, row: ChainTransaction
) -> None:
    fees = await chain.suggest_fees()
    nonce = await _allocate_nonce(session, chain)
    signed = await _sign(chain, row, nonce, fees)
    row.nonce = nonce
    _store_signed(row, signed, fees)
    row.status = TxStatus.SIGNED
    row.error = None
    # Committed by `advance` before the bytes are sent (the next step).


async def _broadcast(chain: AuthorizationChainPort, row: ChainTransaction) -> None:
    assert row.raw_transaction is not None
    await chain.send_raw_transaction(row.raw_transaction)
    row.status = TxStatus.SENT
    row.sent_at = utcnow()
    row.attempts += 1
    row.error = None


async def _find_receipt(chain: AuthorizationChainPort, row: ChainTransaction) -> Receipt | None:
    for tx_hash in [row.transaction_hash, *reversed(row.replaced_hashes or [])]:
        if tx_hash is None:
            continue
        receipt = await chain.get_receipt(tx_hash)
        if receipt is not None:
            return receipt
    return None


async def _await_receipt(
    session: AsyncSession, chain: AuthorizationChainPort, row: ChainTransaction, policy: Policy
) -> None:
    receipt = await _find_receipt(chain, row)
    if receipt is not None:
        await _mined(session, chain, row, receipt, policy)
        return
    sent_at = row.sent_at or row.updated_at
    if utcnow() - sent_at >= policy.stuck_after:
        await _replace(chain, row)
    else:
        # The node may have dropped it (restarted, evicted): the same bytes again are harmless.
        assert row.raw_transaction is not None
        await chain.send_raw_transaction(row.raw_transaction)


async def _replace(chain: AuthorizationChainPort, row: ChainTransaction) -> None:
    """Sign the same nonce again with higher fees and send it; the old hash is kept."""
    assert row.nonce is not None
    assert row.max_fee_per_gas is not None
    assert row.max_priority_fee_per_gas is not None
    assert row.transaction_hash is not None
    old = Fees(row.max_fee_per_gas, row.max_priority_fee_per_gas)
    fees = old.bumped().at_least(await chain.suggest_fees())
    signed = await _sign(chain, row, row.nonce, fees)
    row.replaced_hashes = [*(row.replaced_hashes or []), row.transaction_hash]
    _store_signed(row, signed, fees)
    log.info("chain.replaced", subject=row.subject, nonce=row.nonce, hash=signed.hash)
    # Stored as signed: if this send fails or the worker dies, the next run sends these bytes.
    row.status = TxStatus.SIGNED
    row.sent_at = utcnow()
    try:
        await chain.send_raw_transaction(signed.raw)
    except ChainUnavailable as exc:
        row.error = f"replacement not sent yet: {exc}"[:2000]
        return
    row.status = TxStatus.SENT


async def _mined(
    session: AsyncSession,
    chain: AuthorizationChainPort,
    row: ChainTransaction,
    receipt: Receipt,
    policy: Policy,
) -> None:
    row.transaction_hash = receipt.transaction_hash
    row.block_number = receipt.block_number
    row.block_hash = receipt.block_hash
    row.gas_used = receipt.gas_used
    if not receipt.succeeded:
        row.status = TxStatus.FAILED
        row.error = await chain.revert_reason(receipt.transaction_hash)
        log.error(
            "chain.reverted", subject=row.subject, hash=receipt.transaction_hash, error=row.error
        )
        return
    row.status = TxStatus.MINED
    await _await_confirmations(session, chain, row, policy)


async def _await_confirmations(
    session: AsyncSession, chain: AuthorizationChainPort, row: ChainTransaction, policy: Policy
) -> None:
    assert row.transaction_hash is not None
    assert row.block_number is not None
    depth = await chain.block_number() - row.block_number + 1
    if depth < policy.confirmations:
        return
    receipt = await chain.get_receipt(row.transaction_hash)
    if receipt is None or receipt.block_hash != row.block_hash:
        # A reorganisation took it out of the block we saw: wait for it again.
        row.status = TxStatus.SENT
        row.block_number = row.block_hash = None
        if receipt is not None:
            await _mined(session, chain, row, receipt, policy)
        return
    row.status = TxStatus.CONFIRMED
    row.confirmed_at = utcnow()
    row.error = None
    kind: RecordKind = row.record["kind"]
    await publish(
        session,
        RecordAnchored(
            kind=kind,
            subject_ids=list(row.record.get("subjectIds", [])),
            auth_id=row.record.get("authId"),
            tree_size=row.tree_size,
            chain_id=row.chain_id,
            contract=row.contract,
            transaction_hash=row.transaction_hash,
            block_number=row.block_number,
        ),
    )
    log.info("chain.confirmed", subject=row.subject, hash=row.transaction_hash)
