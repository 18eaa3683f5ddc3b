"""A locked asset still lets other transactions add rows that reference it: the lock that
serialises the asset's own changes must not block applications and terms (which would
deadlock with a transaction that holds those and then needs the asset)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ipmarket.ip_assets import lock_asset
from ipmarket.kit.db import Database
from ipmarket.licensing import LicenseTerms
from tests.rights import Rights


async def test_terms_can_be_published_for_an_asset_another_transaction_holds(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given an approved asset, held by a transaction that edits it
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset_id = uuid.UUID((await rights.asset(creator))["id"])
    async with db.sessionmaker() as holder, db.sessionmaker() as other:
        held = await lock_asset(holder, asset_id)
        assert held is not None
        # when another transaction inserts terms that reference the asset, waiting at most 2 s
        await other.execute(text("SET LOCAL lock_timeout = '2s'"))
        terms_id = uuid.uuid4()
        other.add(
            LicenseTerms(
                id=terms_id,
                ip_asset_id=asset_id,
                license_type="standard",
                revenue_share_percentage=10,
                base_fee_minor=0,
                territory="WORLDWIDE",
                duration="P1Y",
                version=1,
                lineage_id=terms_id,
                is_current=True,
            )
        )
        await other.commit()
        await holder.rollback()
    # then the insert went through at once, while the asset was held
    async with db.sessionmaker() as session:
        stored = await session.scalar(select(LicenseTerms.id).where(LicenseTerms.id == terms_id))
    assert stored == terms_id


async def test_a_second_writer_of_the_asset_waits_for_the_first(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given an asset held by one transaction
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset_id = uuid.UUID((await rights.asset(creator))["id"])
    async with db.sessionmaker() as holder, db.sessionmaker() as other:
        await lock_asset(holder, asset_id)
        # when another transaction tries to lock it too, waiting at most 200 ms
        await other.execute(text("SET LOCAL lock_timeout = '200ms'"))
        # then it has to wait: the lock still serialises the asset's own changes
        with pytest.raises(DBAPIError, match="lock timeout"):
            await lock_asset(other, asset_id)
        await other.rollback()
        await holder.rollback()
