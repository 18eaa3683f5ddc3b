"""Against a real JSON-RPC node (`npx hardhat node`): the same writes as in production, a
stuck transaction replaced, and someone else's writes refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain import anchor_covering, auth_id
from ipmarket.chain.ids import ZERO_AUTH
from ipmarket.chain.jobs import advance_open_transactions
from ipmarket.kit.clock import clock, utcnow
from ipmarket.kit.db import Database
from tests.chain.conftest import Deployed
from tests.chain.support import Story, append, entry, rows, sign_checkpoint


async def test_a_story_revoked_and_anchored_on_a_real_node(
    db: Database, session: AsyncSession, hardhat: Deployed, use_chain: Any
) -> None:
    use_chain(hardhat.chain)
    story = Story()
    product = auth_id("chain_record", story.record_id)
    # given a chain of three appended to the log and a checkpoint
    await append(db, story.entries)
    root = await sign_checkpoint(db, 3)
    await advance_open_transactions(session, rounds=4)
    # then all four writes are confirmed and the product verifies on chain
    assert [r.status for r in await rows(session)] == ["confirmed"] * 4
    assert await hardhat.chain.verify_authorization_chain(product) is True
    assert len(await hardhat.chain.get_authorization_history(product)) == 3
    anchor = await anchor_covering(session, 0)
    assert anchor is not None
    assert anchor.chain_id == 31337
    assert anchor.root_hash == root
    assert await hardhat.chain.checkpoint_root(3) == bytes.fromhex(root)
    # when the license is revoked
    await append(
        db,
        [
            entry(
                "authorization.revoked",
                licenseIds=[story.license_id],
                cause="revoked",
                rootLicenseId=story.license_id,
            )
        ],
        first_index=3,
    )
    await advance_open_transactions(session, rounds=4)
    # then the product no longer verifies
    assert await hardhat.chain.verify_authorization_chain(product) is False


async def test_someone_else_cannot_write(hardhat: Deployed) -> None:
    stranger = hardhat.stranger
    signed = await stranger.anchor_checkpoint(
        tree_size=1,
        root_hash=b"\x01" * 32,
        nonce=await stranger.pending_nonce(),
        fees=await stranger.suggest_fees(),
    )
    tx_hash = await stranger.send_raw_transaction(signed.raw)
    receipt = await hardhat.w3.eth.wait_for_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    assert receipt["status"] == 0
    assert "NotPlatform" in await hardhat.chain.revert_reason(tx_hash)
    assert await hardhat.chain.checkpoint_root(1) is None
    assert await hardhat.chain.verify_authorization_chain(ZERO_AUTH) is False


async def test_a_stuck_transaction_is_replaced_with_the_same_nonce(
    db: Database, session: AsyncSession, hardhat: Deployed, use_chain: Any
) -> None:
    use_chain(hardhat.chain)
    provider = hardhat.w3.provider
    await provider.make_request("evm_setAutomine", [False])
    try:
        # given a checkpoint whose write was sent but not mined
        await sign_checkpoint(db, 9)
        await advance_open_transactions(session, rounds=2)
        (row,) = await rows(session)
        assert row.status == "sent"
        first_hash, first_nonce, first_fee = row.transaction_hash, row.nonce, row.max_fee_per_gas
        # when it stays unmined past the stuck delay
        clock.freeze(utcnow() + timedelta(minutes=10))
        await advance_open_transactions(session)
        # then it is signed again, same nonce, higher fees, and sent
        (replaced,) = await rows(session)
        assert replaced.status == "sent"
        assert replaced.nonce == first_nonce
        assert replaced.replaced_hashes == [first_hash]
        assert replaced.transaction_hash != first_hash
        assert (replaced.max_fee_per_gas or 0) > (first_fee or 0)
        replacement_hash = replaced.transaction_hash
        # when a block is made
        await provider.make_request("evm_mine", [])
    finally:
        await provider.make_request("evm_setAutomine", [True])
    await advance_open_transactions(session, rounds=2)
    # then the replacement is the one mined, and the checkpoint is anchored once
    (done,) = await rows(session)
    assert done.status == "confirmed"
    assert done.transaction_hash == replacement_hash
    logs = await hardhat.chain.contract.events.CheckpointAnchored().get_logs(from_block=0)
    assert len(logs) == 1
