"""Platform settings stored in admin_settings, against the real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from ipmarket.identity.models import User
from ipmarket.kit.clock import clock
from ipmarket.kit.db import Database
from ipmarket.kit.errors import ValidationFailed
from ipmarket.settings import (
    PaymentSettingsPatch,
    PlatformSettings,
    PlatformSettingsPatch,
    SecuritySettingsPatch,
    get_platform_settings,
    update_platform_settings,
)
from ipmarket.settings.models import AdminSetting


async def _admin(session: AsyncSession, name: str = "root") -> uuid.UUID:
    user = User(
        username=f"{name}{uuid.uuid4().hex[:8]}",
        email=f"{name}{uuid.uuid4().hex[:8]}@example.com",
        password_hash="not-a-real-hash",
        user_type="admin",
        admin_level="super_admin",
    )
    session.add(user)
    await session.flush()
    return user.id


async def _rows(session: AsyncSession) -> dict[tuple[str, str], AdminSetting]:
    rows = (await session.execute(select(AdminSetting))).scalars().all()
    return {(row.category, row.key): row for row in rows}


async def _count(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(AdminSetting))).scalar_one()


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_defaults_when_nothing_is_stored(
    session: AsyncSession, statements: list[str]
) -> None:
    settings = await get_platform_settings(session)

    assert settings == PlatformSettings()
    assert len(statements) == 1  # one query, whatever the number of settings
    assert "admin_settings" in statements[0]


async def test_deep_merge_keeps_untouched_fields(db: Database, session: AsyncSession) -> None:
    admin = await _admin(session)
    old, new = await update_platform_settings(
        session,
        {"payments": {"platformFeePercentage": 12.5}, "general": {"maintenanceMode": True}},
        updated_by=admin,
    )
    await session.commit()

    assert old == PlatformSettings()
    assert new.payments.platform_fee_percentage == Decimal("12.5")
    assert new.general.maintenance_mode is True

    _, newer = await update_platform_settings(
        session, {"payments": {"minimumPayout": 25}}, updated_by=admin
    )
    await session.commit()

    assert newer.payments.minimum_payout == Decimal(25)
    assert newer.payments.platform_fee_percentage == Decimal("12.5")  # kept
    assert newer.general.maintenance_mode is True  # kept
    assert newer.general.platform_name == "ipmarket"  # default, untouched
    assert newer.security == PlatformSettings().security

    # Another connection (another process) sees the change at once.
    async with db.sessionmaker() as other:
        assert await get_platform_settings(other) == newer


async def test_lists_are_replaced_not_merged(session: AsyncSession) -> None:
    _, new = await update_platform_settings(
        session, {"content": {"allowedFileTypes": ["image/png"]}}, updated_by=None
    )
    assert new.content.allowed_file_types == ["image/png"]
    assert await get_platform_settings(session) == new


async def test_a_patch_model_is_accepted(session: AsyncSession) -> None:
    patch = PlatformSettingsPatch(
        payments=PaymentSettingsPatch(payout_schedule="monthly"),
        security=SecuritySettingsPatch(max_login_attempts=3),
    )
    old, new = await update_platform_settings(session, patch, updated_by=None)

    assert old.payments.payout_schedule == "weekly"
    assert new.payments.payout_schedule == "monthly"
    assert new.security.max_login_attempts == 3
    assert new.security.password_min_length == 8
    assert set(await _rows(session)) == {
        ("payments", "payoutSchedule"),
        ("security", "maxLoginAttempts"),
    }


@pytest.mark.parametrize(
    ("patch", "fields"),
    [
        ({"payments": {"platformFeePercentage": 150}}, ["payments.platformFeePercentage"]),
        ({"payments": {"minimumPayout": -1}}, ["payments.minimumPayout"]),
        ({"payments": {"payoutSchedule": "yearly"}}, ["payments.payoutSchedule"]),
        ({"content": {"maxFileSize": 0}}, ["content.maxFileSize"]),
        ({"content": {"allowedFileTypes": ["image/png", "jpeg"]}}, ["content.allowedFileTypes"]),
        ({"security": {"passwordMinLength": 4}}, ["security.passwordMinLength"]),
        ({"general": {"supportEmail": "help"}}, ["general.supportEmail"]),
        ({"general": {"platformName": None}}, ["general.platformName"]),
        (
            # A valid change next to an invalid one: all or nothing.
            {"general": {"maintenanceMode": True}, "security": {"maxLoginAttempts": 0}},
            ["security.maxLoginAttempts"],
        ),
        (
            {"security": {"sessionTimeout": -1, "maxLoginAttempts": "5"}},
            ["security.sessionTimeout", "security.maxLoginAttempts"],
        ),
    ],
)
async def test_invalid_values_are_rejected_and_nothing_is_written(
    session: AsyncSession, patch: dict[str, Any], fields: list[str]
) -> None:
    with pytest.raises(ValidationFailed) as info:
        await update_platform_settings(session, patch, updated_by=None)

    assert info.value.status == 422
    assert [e["field"] for e in info.value.details["errors"]] == fields
    assert await _count(session) == 0
    assert await get_platform_settings(session) == PlatformSettings()


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"general": {"siteName": "x"}}, "general.siteName"),
        ({"billing": {"currency": "EUR"}}, "billing"),
        ({"payments": {"stripeSecretKey": "sk_live_x"}}, "payments.stripeSecretKey"),
    ],
)
async def test_unknown_keys_are_rejected(
    session: AsyncSession, patch: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationFailed) as info:
        await update_platform_settings(session, patch, updated_by=None)

    errors = info.value.details["errors"]
    assert [(e["field"], e["type"]) for e in errors] == [(field, "extra_forbidden")]
    assert await _count(session) == 0


async def test_only_changed_rows_are_written_with_their_author(session: AsyncSession) -> None:
    first_admin = await _admin(session, "first")
    second_admin = await _admin(session, "second")
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    clock.freeze(start)

    await update_platform_settings(
        session,
        {
            "payments": {"platformFeePercentage": 15, "minimumPayout": 10},  # 10 is the default
            "general": {"platformName": "ipmarket", "allowNewRegistrations": False},
        },
        updated_by=first_admin,
    )
    rows = await _rows(session)
    assert set(rows) == {
        ("payments", "platformFeePercentage"),
        ("general", "allowNewRegistrations"),
    }
    fee = rows["payments", "platformFeePercentage"]
    assert fee.value == 15
    assert fee.data_type == "number"
    assert fee.description
    assert fee.updated_by == first_admin
    assert fee.updated_at == start
    registrations = rows["general", "allowNewRegistrations"]
    assert (registrations.value, registrations.data_type) == (False, "boolean")

    clock.advance(timedelta(hours=1))
    old, new = await update_platform_settings(
        session,
        {
            "payments": {"platformFeePercentage": 15},  # unchanged: not rewritten
            "general": {"allowNewRegistrations": True},  # back to the default: written
            "content": {"contentModerationLevel": "strict"},
        },
        updated_by=second_admin,
    )
    session.expire_all()
    rows = await _rows(session)
    assert set(rows) == {
        ("payments", "platformFeePercentage"),
        ("general", "allowNewRegistrations"),
        ("content", "contentModerationLevel"),
    }
    fee = rows["payments", "platformFeePercentage"]
    assert (fee.updated_by, fee.updated_at) == (first_admin, start)
    registrations = rows["general", "allowNewRegistrations"]
    assert registrations.value is True
    assert registrations.updated_by == second_admin
    assert registrations.updated_at == start + timedelta(hours=1)
    assert registrations.created_at == start
    level = rows["content", "contentModerationLevel"]
    assert (level.value, level.data_type, level.updated_by) == ("strict", "string", second_admin)
    assert old.general.allow_new_registrations is False
    assert new.general.allow_new_registrations is True


async def test_an_update_that_changes_nothing_writes_nothing(session: AsyncSession) -> None:
    old, new = await update_platform_settings(
        session, {"security": {"maxLoginAttempts": 5}}, updated_by=None
    )
    assert old == new == PlatformSettings()
    assert await _count(session) == 0

    old, new = await update_platform_settings(session, {}, updated_by=None)
    assert old == new
    assert await _count(session) == 0


async def test_the_service_does_not_commit(db: Database, session: AsyncSession) -> None:
    await update_platform_settings(session, {"general": {"maintenanceMode": True}}, updated_by=None)
    await session.rollback()

    async with db.sessionmaker() as other:
        assert (await get_platform_settings(other)).general.maintenance_mode is False


async def test_an_invalid_stored_value_falls_back_to_its_default(session: AsyncSession) -> None:
    await update_platform_settings(
        session,
        {"security": {"passwordMinLength": 12}, "payments": {"payoutHoldDays": 3}},
        updated_by=None,
    )
    # Edited by hand, or a rule tightened after the value was stored.
    await session.execute(
        update(AdminSetting)
        .where(AdminSetting.category == "security", AdminSetting.key == "passwordMinLength")
        .values(value=3)
    )

    with capture_logs() as logs:
        settings = await get_platform_settings(session)
    assert settings.security.password_min_length == 8
    assert settings.payments.payout_hold_days == 3
    assert [(log["event"], log["key"]) for log in logs] == [
        ("platform_setting_invalid", "passwordMinLength")
    ]

    # The next update repairs the row even though the effective value does not change.
    await update_platform_settings(session, {"payments": {"payoutHoldDays": 4}}, updated_by=None)
    rows = await _rows(session)
    assert rows["security", "passwordMinLength"].value == 8


async def test_concurrent_updates_are_serialised(db: Database) -> None:
    async with db.sessionmaker() as first, db.sessionmaker() as second:
        await update_platform_settings(
            first, {"payments": {"platformFeePercentage": 11}}, updated_by=None
        )
        # The second update waits for the first transaction to end...
        other = asyncio.create_task(
            update_platform_settings(second, {"payments": {"minimumPayout": 20}}, updated_by=None)
        )
        await asyncio.sleep(0.2)
        assert not other.done()
        await first.commit()
        # ...and then merges into what the first one committed.
        old, new = await asyncio.wait_for(other, timeout=10)
        await second.commit()

    assert old.payments.platform_fee_percentage == Decimal(11)
    assert new.payments.platform_fee_percentage == Decimal(11)
    assert new.payments.minimum_payout == Decimal(20)
    async with db.sessionmaker() as check:
        assert await get_platform_settings(check) == new
