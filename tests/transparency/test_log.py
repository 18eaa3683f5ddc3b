"""The log in the database: appends once and in causal order whatever the deliveries do,
checkpoints that only move forward and verify with the published key, proofs from stored
nodes, and tables the database itself keeps append-only."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from ipmarket.eventbus import Event, EventPayload, EventType, publish
from ipmarket.eventbus.models import OutboxEvent
from ipmarket.ip_assets.events import IPAssetApproved, IPAssetSuspended
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from ipmarket.licensing.events import AuthorizationRevoked, LicenseApproved
from ipmarket.products.events import ProductPublished
from ipmarket.transparency import (
    consistency_proof,
    entries_between,
    entries_for_subjects,
    inclusion_proof,
    latest_checkpoint,
    merkle,
    root_at,
    verify_signature,
)
from ipmarket.transparency.service import record_event, sign_checkpoint
from ipmarket.transparency.signing import signer

ASSET, LICENSE, CHILD, PRODUCT, RECORD = (uuid.uuid4() for _ in range(5))
OWNER, MAKER = uuid.uuid4(), uuid.uuid4()


def story() -> list[EventPayload]:
    """Causes first: an asset, its license, a license under it, a product, a revocation."""
    return [
        IPAssetApproved(
            ip_asset_id=ASSET, creator_id=OWNER, reviewed_by=None, content_hash="ab" * 32
        ),
        LicenseApproved(
            license_id=LICENSE,
            ip_asset_id=ASSET,
            applicant_id=MAKER,
            licensor_id=OWNER,
            approved_by=OWNER,
            expires_at="2027-12-04T10:00:00+00:00",
            terms_hash="cd" * 32,
        ),
        LicenseApproved(
            license_id=CHILD,
            ip_asset_id=ASSET,
            applicant_id=OWNER,
            licensor_id=MAKER,
            approved_by=MAKER,
            expires_at=None,
            terms_hash="ef" * 32,
            parent_license_id=LICENSE,
        ),
        ProductPublished(
            product_id=PRODUCT,
            creator_id=MAKER,
            chain_record_id=RECORD,
            license_id=CHILD,
            ip_asset_id=ASSET,
            verification_code_hash="01" * 32,
        ),
        IPAssetSuspended(ip_asset_ids=[ASSET], reason="license revoked"),
        AuthorizationRevoked(
            license_ids=[CHILD, LICENSE],
            derivative_asset_ids=[],
            cause="revoked",
            root_license_id=LICENSE,
        ),
    ]


async def published(db: Database, payloads: list[EventPayload]) -> list[Event]:
    """Each payload published in its own committed transaction, a moment after the last."""
    ids = []
    for payload in payloads:
        async with db.transaction() as session:
            ids.append(await publish(session, payload))
        await asyncio.sleep(0.002)
    async with db.sessionmaker() as session:
        rows = {r.id: r for r in (await session.execute(select(OutboxEvent))).scalars()}
    return [
        Event(
            id=i,
            type=EventType(rows[i].event_type),
            payload=rows[i].payload,
            occurred_at=rows[i].occurred_at,
        )
        for i in ids
    ]


async def deliver(db: Database, event: Event) -> None:
    async with db.transaction() as session:
        await record_event(session, event)


async def kinds(db: Database) -> list[str]:
    async with db.sessionmaker() as session:
        return [e.entry["kind"] for e in await entries_between(session, 0, 100)]


async def test_concurrent_and_repeated_deliveries_append_each_event_once_causes_first(
    db: Database,
) -> None:
    # given the story's events in the outbox
    events = await published(db, story())
    # when every event is delivered four times, concurrently, in a shuffled order
    deliveries = [e for e in events for _ in range(4)]
    random.Random(10).shuffle(deliveries)
    await asyncio.gather(*(deliver(db, e) for e in deliveries))
    # then each is in the log once, gapless, causes before effects
    assert await kinds(db) == [
        "ip_asset.approved",
        "license.approved",
        "license.approved",
        "product.published",
        "ip_asset.suspended",
        "authorization.revoked",
    ]
    async with db.sessionmaker() as session:
        entries = await entries_between(session, 0, 100)
        assert [e.leaf_index for e in entries] == list(range(6))
        assert [e.entry["eventId"] for e in entries] == [str(e.id) for e in events]
        appended = (
            await session.execute(
                select(func.count()).where(OutboxEvent.event_type == "transparency.entry_appended")
            )
        ).scalar_one()
        assert appended == 6


async def test_a_late_cause_is_appended_before_the_effect_delivered_first(db: Database) -> None:
    # given an asset's approval and then its license, published in that order
    asset, license_ = await published(db, story()[:2])
    # when the license is delivered first, then the asset
    await deliver(db, license_)
    await deliver(db, asset)
    # then the asset's entry still comes first
    assert await kinds(db) == ["ip_asset.approved", "license.approved"]


async def test_entries_carry_the_shared_format(db: Database) -> None:
    events = await published(db, story()[:4])
    await deliver(db, events[-1])
    async with db.sessionmaker() as session:
        entries = await entries_between(session, 0, 10)
        about_child = await entries_for_subjects(session, [f"license:{CHILD}"])
    license_ = entries[1]
    assert license_.entry == {
        "v": 1,
        "kind": "license.approved",
        "eventId": str(events[1].id),
        "occurredAt": events[1].occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "licenseId": str(LICENSE),
        "ipAssetId": str(ASSET),
        "licensorId": str(OWNER),
        "licenseeId": str(MAKER),
        "termsHash": "cd" * 32,
        "parentLicenseId": None,
        "expiresAt": "2027-12-04T10:00:00.000000Z",
    }
    # the leaf is the hash of exactly the canonical bytes served
    canonical = json.dumps(license_.entry, sort_keys=True, separators=(",", ":")).encode()
    assert license_.data == canonical
    assert license_.leaf_hash == merkle.leaf_hash(canonical).hex()
    assert entries[3].entry["verificationCodeHash"] == "01" * 32
    # the child license and the product made on it are found by the child license
    assert [e.leaf_index for e in about_child] == [2, 3]


async def test_a_handler_that_rolled_back_appended_nothing_and_redelivery_appends_once(
    db: Database,
) -> None:
    [event] = await published(db, story()[:1])

    # given a delivery whose transaction died after the append
    async def killed_after_appending() -> None:
        async with db.transaction() as session:
            await record_event(session, event)
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        await killed_after_appending()
    assert await kinds(db) == []
    # when it is delivered again, twice
    await deliver(db, event)
    await deliver(db, event)
    # then it is in the log once
    assert await kinds(db) == ["ip_asset.approved"]


async def test_checkpoints_sign_growth_move_forward_and_verify_with_the_key(db: Database) -> None:
    clock.freeze(datetime(2026, 12, 4, 12, 0, tzinfo=UTC))
    events = await published(db, story())
    for event in events[:3]:
        await deliver(db, event)
    async with db.transaction() as session:
        first = await sign_checkpoint(session)
    async with db.transaction() as session:
        assert await sign_checkpoint(session) is None  # nothing new: nothing signed
    for event in events[3:]:
        await deliver(db, event)
    # the clock stands still: the next timestamp still moves forward
    async with db.transaction() as session:
        second = await sign_checkpoint(session)
    assert first is not None and second is not None
    assert (first.tree_size, second.tree_size) == (3, 6)
    assert second.timestamp > first.timestamp
    key = signer()
    for checkpoint in (first, second):
        assert checkpoint.key_id == key.key_id
        assert verify_signature(
            key.public_key,
            checkpoint.tree_size,
            checkpoint.root_hash,
            checkpoint.timestamp,
            checkpoint.signature,
        )
    assert not verify_signature(
        key.public_key, 7, second.root_hash, second.timestamp, second.signature
    )
    async with db.sessionmaker() as session:
        assert await latest_checkpoint(session) == second
        entries = await entries_between(session, 0, 6)
        leaves = [bytes.fromhex(e.leaf_hash) for e in entries]
        nodes = merkle.all_nodes(leaves)
        assert (
            (await root_at(session, 3)).hex() == first.root_hash == merkle.root_of(3, nodes).hex()
        )
        assert merkle.root_of(6, nodes).hex() == second.root_hash
        for index in range(6):
            proof = await inclusion_proof(session, index, 6)
            assert merkle.verify_inclusion(
                index, 6, leaves[index], proof, bytes.fromhex(second.root_hash)
            )
        proof = await consistency_proof(session, 3, 6)
        assert merkle.verify_consistency(
            3, 6, bytes.fromhex(first.root_hash), bytes.fromhex(second.root_hash), proof
        )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE transparency_entries SET kind = 'forged'",
        "DELETE FROM transparency_entries",
        "UPDATE transparency_nodes SET hash = '\\x00'",
        "DELETE FROM transparency_nodes",
        "UPDATE transparency_checkpoints SET tree_size = 1",
        "DELETE FROM transparency_checkpoints",
        "TRUNCATE transparency_entries CASCADE",
        "UPDATE transparency_head SET tree_size = 0",
        "DELETE FROM transparency_head",
        (
            "INSERT INTO transparency_checkpoints"
            " (tree_size, root_hash, timestamp_ms, signature, key_id)"
            " VALUES (1, '\\x00', 1, '\\x00', 'k')"
        ),
    ],
)
async def test_the_database_refuses_to_rewrite_the_log(db: Database, statement: str) -> None:
    events = await published(db, story()[:2])
    await deliver(db, events[1])
    async with db.transaction() as session:
        await sign_checkpoint(session)
    with pytest.raises(DBAPIError):
        async with db.transaction() as session:
            await session.execute(text(statement))
    assert len(await kinds(db)) == 2


async def test_entries_older_than_the_lookback_are_not_waited_for(db: Database) -> None:
    # given an asset approval a week old that was never appended, and a new license
    clock.freeze(datetime(2026, 11, 27, tzinfo=UTC))
    [old] = await published(db, story()[:1])
    clock.freeze(datetime(2026, 12, 4, tzinfo=UTC))
    [new] = await published(db, story()[1:2])
    await deliver(db, new)
    # then only the license is appended now; the old one comes with its own delivery
    assert await kinds(db) == ["license.approved"]
    await deliver(db, old)
    assert await kinds(db) == ["license.approved", "ip_asset.approved"]


def test_the_log_listens_on_the_blockchain_queue_and_signs_every_minute() -> None:
    import ipmarket.registrations  # noqa: F401 - registers consumers and jobs
    from ipmarket.eventbus import Queue, registry
    from ipmarket.kit.periodic import job_registry

    consumer = registry.get("transparency.log")
    assert consumer.queue == Queue.BLOCKCHAIN
    assert consumer.event_types == {
        EventType.IP_ASSET_APPROVED,
        EventType.LICENSE_APPROVED,
        EventType.PRODUCT_PUBLISHED,
        EventType.AUTHORIZATION_REVOKED,
        EventType.IP_ASSET_SUSPENDED,
    }
    assert job_registry.jobs["transparency.sign_checkpoint"].interval.total_seconds() == 60
