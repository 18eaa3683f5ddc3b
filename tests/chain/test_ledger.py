"""From log entries to confirmed chain transactions, once each, whatever fails in between."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain import anchor_covering, auth_id
from ipmarket.chain.jobs import advance_open_transactions
from ipmarket.chain.ledger import Policy, advance
from ipmarket.chain.port import ChainUnavailable
from ipmarket.chain.web3_adapter import Web3AuthorizationChain
from ipmarket.eventbus.models import OutboxEvent
from ipmarket.kit.clock import clock, utcnow
from ipmarket.kit.db import Database
from tests.chain.conftest import TESTER_PLATFORM_KEY, Deployed
from tests.chain.support import Story, Switchable, append, entry, new_id, rows, sign_checkpoint


async def _anchored_events(session: AsyncSession) -> list[dict[str, Any]]:
    from sqlalchemy import select

    found = await session.scalars(
        select(OutboxEvent.payload).where(OutboxEvent.event_type == "chain.record_anchored")
    )
    return list(found)


async def test_a_story_and_its_checkpoint_end_on_chain_once(
    db: Database, session: AsyncSession, tester: Deployed, use_chain: Any
) -> None:
    use_chain(tester.chain)
    story = Story()
    # given an asset, a license and a product appended to the log, and a checkpoint of 3
    await append(db, story.entries)
    root = await sign_checkpoint(db, 3)
    # and the same events delivered again (a redelivery)
    await append(db, story.entries)
    # then four writes are recorded, not eight, and none has reached the chain yet
    assert [r.status for r in await rows(session)] == ["pending"] * 4
    assert await anchor_covering(session, 0) is None
    # when the job runs
    await advance_open_transactions(session, rounds=4)
    # then every write is confirmed, in nonce order, and the chain verifies the product
    recorded = await rows(session)
    assert [r.status for r in recorded] == ["confirmed"] * 4
    in_log_order = sorted(recorded, key=lambda r: r.log_position)
    assert [r.nonce for r in in_log_order] == sorted(r.nonce or 0 for r in recorded)
    assert await tester.chain.verify_authorization_chain(auth_id("chain_record", story.record_id))
    assert await tester.chain.checkpoint_root(3) == bytes.fromhex(root)
    # and the anchor covers the leaves 0..2, not leaf 3
    anchor = await anchor_covering(session, 2)
    assert anchor is not None
    assert (anchor.tree_size, anchor.root_hash) == (3, root)
    assert anchor.contract == tester.address
    assert anchor.transaction_hash == in_log_order[3].transaction_hash
    assert await anchor_covering(session, 3) is None
    # and each confirmation was announced, with what it recorded
    events = await _anchored_events(session)
    assert sorted(e["kind"] for e in events) == [
        "chain_record",
        "checkpoint",
        "ip_asset",
        "license",
    ]
    assert {e["subject_ids"][0] for e in events if e["subject_ids"]} == {
        story.asset_id,
        story.license_id,
        story.record_id,
    }


async def test_a_revocation_fails_the_products_chain(
    db: Database, session: AsyncSession, tester: Deployed, use_chain: Any
) -> None:
    use_chain(tester.chain)
    story = Story()
    await append(db, story.entries)
    await advance_open_transactions(session, rounds=4)
    # when the license is revoked (the log's cascade entry)
    revoked = entry(
        "authorization.revoked",
        licenseIds=[story.license_id],
        cause="revoked",
        rootLicenseId=story.license_id,
    )
    await append(db, [revoked], first_index=3)
    await advance_open_transactions(session, rounds=4)
    # then the product's chain no longer verifies on chain
    assert not await tester.chain.verify_authorization_chain(
        auth_id("chain_record", story.record_id)
    )
    history = await tester.chain.get_authorization_history(auth_id("chain_record", story.record_id))
    assert [h.is_active for h in history] == [True, False, True]


async def test_a_worker_killed_after_sending_does_not_write_twice(
    db: Database, session: AsyncSession, tester: Deployed, use_chain: Any
) -> None:
    use_chain(tester.chain)
    await sign_checkpoint(db, 5)
    (row,) = await rows(session)
    policy = Policy(confirmations=1)
    # given the write signed and stored
    assert await advance(session, tester.chain, row.id, policy) == "signed"
    (row,) = await rows(session)
    assert row.raw_transaction is not None
    # and sent by a worker that died before it could record so
    sent_hash = await tester.chain.send_raw_transaction(row.raw_transaction)
    nonce_after_send = await tester.chain.pending_nonce()
    # when the job runs again
    await advance_open_transactions(session, rounds=4)
    # then the same transaction was the one mined, and nothing else was sent
    (row,) = await rows(session)
    assert row.status == "confirmed"
    assert row.transaction_hash == sent_hash
    assert await tester.chain.pending_nonce() == nonce_after_send
    anchored = await tester.chain.contract.events.CheckpointAnchored().get_logs(from_block=0)
    assert len(anchored) == 1


async def test_a_node_that_is_down_leaves_the_write_for_later(
    db: Database, session: AsyncSession, tester: Deployed, use_chain: Any
) -> None:
    chain = Switchable(tester.chain)
    use_chain(chain)
    await sign_checkpoint(db, 2)
    # given the node down
    chain.down = True
    # when the job runs, twice
    await advance_open_transactions(session, rounds=2)
    # then the write waits, says why, and verification finds no anchor
    (row,) = await rows(session)
    assert row.status == "pending"
    assert row.attempts == 2
    assert "unavailable" in (row.error or "")
    assert await anchor_covering(session, 0) is None
    # when the node is back
    chain.down = False
    await advance_open_transactions(session, rounds=4)
    # then it is anchored
    (row,) = await rows(session)
    assert row.status == "confirmed"
    assert row.error is None
    assert await anchor_covering(session, 1) is not None


async def test_an_unreachable_node_is_reported_as_unavailable() -> None:
    chain = await Web3AuthorizationChain.connect(
        rpc_url="http://127.0.0.1:9",
        private_key=TESTER_PLATFORM_KEY,
        contract_address="0x" + "00" * 20,
        chain_id=1,
    )
    for call in (chain.block_number(), chain.pending_nonce(), chain.suggest_fees()):
        try:
            await call
        except ChainUnavailable:
            continue
        raise AssertionError("expected ChainUnavailable")
    await chain.close()


async def test_a_reverted_write_is_recorded_as_failed_with_its_reason(
    db: Database, session: AsyncSession, tester: Deployed, use_chain: Any
) -> None:
    use_chain(tester.chain)
    # given a license whose parent license never reached the chain
    orphan = entry(
        "license.approved",
        licenseId=new_id(),
        ipAssetId=new_id(),
        licensorId=new_id(),
        licenseeId=new_id(),
        termsHash="00" * 32,
        parentLicenseId=new_id(),
        expiresAt=None,
    )
    await append(db, [orphan])
    # when the job runs, it first waits for the parent's write
    await advance_open_transactions(session, rounds=4)
    (row,) = await rows(session)
    assert row.status == "pending"
    assert "waiting for license:" in (row.error or "")
    # and once the wait is over, it sends the write anyway
    clock.freeze(utcnow() + timedelta(minutes=10))
    await advance_open_transactions(session, rounds=4)
    # then the write failed, says why, and is not tried again
    (row,) = await rows(session)
    assert row.status == "failed"
    assert row.error == "reverted: UnknownParent"
    assert row.block_number is not None
    assert await advance_open_transactions(session) == 0
    assert await _anchored_events(session) == []


async def test_a_write_counts_once_it_is_deep_enough(
    db: Database, session: AsyncSession, tester: Deployed, use_chain: Any
) -> None:
    use_chain(tester.chain, Policy(confirmations=3))
    await sign_checkpoint(db, 4)
    await advance_open_transactions(session, rounds=4)
    # then mined but not yet confirmed: no anchor to show
    (row,) = await rows(session)
    assert row.status == "mined"
    assert await anchor_covering(session, 0) is None
    # when two more blocks are made
    tester.w3.provider.ethereum_tester.mine_blocks(2)
    await advance_open_transactions(session)
    # then it is confirmed
    (row,) = await rows(session)
    assert row.status == "confirmed"


async def test_without_a_node_nothing_is_recorded(
    db: Database, session: AsyncSession, use_chain: Any
) -> None:
    # given no CHAIN_RPC_URL (the default settings) and no adapter installed
    await append(db, Story().entries)
    await sign_checkpoint(db, 3)
    # then the events are consumed and nothing waits to be sent
    assert await rows(session) == []
    assert await advance_open_transactions(session) == 0
