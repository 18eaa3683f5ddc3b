"""The admin service that changes the platform settings: the change, its audit row and its
event, all in the caller's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.admin.service import change_platform_settings
from ipmarket.audit.models import AuditLog
from ipmarket.eventbus.models import OutboxEvent
from ipmarket.identity import create_admin
from ipmarket.kit.db import Database
from ipmarket.settings import get_platform_settings
from tests.support import STRONG_PASSWORD, unique


async def _admin_id(db: Database) -> uuid.UUID:
    name = unique("admin")
    async with db.transaction() as session:
        admin = await create_admin(
            session, username=name, email=f"{name}@example.com", password=STRONG_PASSWORD
        )
    return admin.id


async def _trail(session: AsyncSession) -> tuple[list[AuditLog], list[OutboxEvent]]:
    rows = await session.execute(
        select(AuditLog).where(AuditLog.action == "admin.settings_updated")
    )
    events = await session.execute(
        select(OutboxEvent).where(OutboxEvent.event_type == "platform.settings_changed")
    )
    return list(rows.scalars()), list(events.scalars())


async def test_a_change_is_stored_audited_and_published(
    db: Database, session: AsyncSession
) -> None:
    # given an administrator
    actor = await _admin_id(db)
    # when they change two settings through the service
    async with db.transaction() as tx:
        new = await change_platform_settings(
            tx,
            {"payments": {"payoutSchedule": "monthly"}, "general": {"platformName": "Atelier"}},
            actor_id=actor,
        )
    # then the whole new settings come back and are stored
    assert new.payments.payout_schedule == "monthly"
    assert new.general.platform_name == "Atelier"
    assert await get_platform_settings(session) == new
    # and one audit row and one event record exactly what changed, by whom
    [row], [event] = await _trail(session)
    assert row.user_id == actor
    assert row.resource_type == "platform_settings"
    assert row.old_values == {
        "general": {"platformName": "ipmarket"},
        "payments": {"payoutSchedule": "weekly"},
    }
    assert row.new_values == {
        "general": {"platformName": "Atelier"},
        "payments": {"payoutSchedule": "monthly"},
    }
    assert event.payload == {
        "actor_id": str(actor),
        "old_values": row.old_values,
        "new_values": row.new_values,
    }


async def test_a_patch_that_changes_nothing_leaves_no_trail(
    db: Database, session: AsyncSession
) -> None:
    # given an administrator and the default settings
    actor = await _admin_id(db)
    # when they "set" a value to what it already is
    async with db.transaction() as tx:
        await change_platform_settings(
            tx, {"payments": {"payoutSchedule": "weekly"}}, actor_id=actor
        )
    # then there is no audit row and no event
    assert await _trail(session) == ([], [])
