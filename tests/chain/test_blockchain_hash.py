"""A confirmed chain write fills `blockchainHash` where users see it: the IP asset and the
authorization-chain records."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.chain import RecordAnchored
from ipmarket.eventbus import publish
from ipmarket.ip_assets import IPAsset
from ipmarket.kit.db import Database
from ipmarket.provenance import AuthorizationChain
from tests.rights import Rights
from tests.support import deliver_events

CONTRACT = "0x" + "12" * 20


def anchored(kind: str, subject_id: str, tx: str) -> RecordAnchored:
    return RecordAnchored(
        kind=kind,
        subject_ids=[subject_id],
        auth_id="0x" + "00" * 32,
        chain_id=31337,
        contract=CONTRACT,
        transaction_hash=tx,
        block_number=7,
    )


async def test_confirmed_writes_fill_the_blockchain_hashes(
    client: httpx.AsyncClient, db: Database, session: AsyncSession
) -> None:
    # given an asset, a license of it, a derivative made under it and a product
    rights = Rights(client, db)
    creator = await rights.user("creator")
    seller = await rights.user("secondary_creator")
    asset = await rights.asset(creator, title="Moonlit Fox")
    terms = await rights.terms(creator, asset["id"])
    license_ = await rights.license(seller, creator, asset["id"], terms["id"])
    derivative = await rights.asset(seller, title="Fox Tales", parent_license_id=license_["id"])
    product = await rights.product(seller, license_["id"])
    await deliver_events(db)
    record_id = await session.scalar(
        select(AuthorizationChain.id).where(
            AuthorizationChain.product_id == uuid.UUID(product["id"])
        )
    )
    assert record_id is not None
    # when the chain confirms the asset's, the license's and the product record's writes
    tx_asset, tx_license, tx_product = ("0x" + c * 64 for c in "abc")
    async with db.sessionmaker() as s:
        await publish(s, anchored("ip_asset", asset["id"], tx_asset))
        await publish(s, anchored("license", license_["id"], tx_license))
        await publish(s, anchored("chain_record", str(record_id), tx_product))
        await s.commit()
    await deliver_events(db)
    # then the asset names its transaction, in the API too
    session.expire_all()
    assert (
        await session.scalar(
            select(IPAsset.blockchain_hash).where(IPAsset.id == uuid.UUID(asset["id"]))
        )
        == tx_asset
    )
    shown = await client.get(f"/v1/ip-assets/{asset['id']}")
    assert shown.json()["data"]["blockchainHash"] == tx_asset
    # and the product's record and the derivation record under the license name theirs
    rows = await session.execute(select(AuthorizationChain.id, AuthorizationChain.blockchain_hash))
    records = {row[0]: row[1] for row in rows}
    assert records[record_id] == tx_product
    derivation = await session.scalar(
        select(AuthorizationChain.blockchain_hash).where(
            AuthorizationChain.derived_asset_id == uuid.UUID(derivative["id"])
        )
    )
    assert derivation == tx_license
