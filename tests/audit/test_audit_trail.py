"""The audit trail is append-only, enforced by the database."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.audit.models import AuditLog
from ipmarket.kit.db import Database
from ipmarket.settings.models import AdminSetting
from tests.support import create_admin, register


async def test_database_refuses_update_delete_and_truncate(
    client: httpx.AsyncClient, db: Database
) -> None:
    account = await register(client, "buyer")
    for statement in (
        update(AuditLog).where(AuditLog.resource_id == account.id).values(action="tampered"),
        delete(AuditLog).where(AuditLog.resource_id == account.id),
        text("TRUNCATE audit_logs"),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.transaction() as session:
                await session.execute(statement)
    async with db.transaction() as session:
        actions = (
            (
                await session.execute(
                    select(AuditLog.action).where(AuditLog.resource_id == account.id)
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["user.registered"]


async def test_audit_rows_roll_back_with_a_failed_change(
    client: httpx.AsyncClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a settings change that fails after the settings and the audit row are written:
    # publishing its event raises once it has seen both in the request's transaction
    admin = await create_admin(client, db)
    before = (await client.get("/v1/admin/settings", headers=admin.auth)).json()["data"]
    seen_in_transaction: list[tuple[int, int]] = []

    async def publish_then_fail(session: AsyncSession, payload: object) -> None:
        audit_rows = await session.execute(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "admin.settings_updated")
        )
        setting_rows = await session.execute(select(func.count()).select_from(AdminSetting))
        seen_in_transaction.append((audit_rows.scalar_one(), setting_rows.scalar_one()))
        raise RuntimeError("the outbox is unavailable")

    monkeypatch.setattr("ipmarket.admin.service.publish", publish_then_fail)
    # when the change is requested
    response = await client.put(
        "/v1/admin/settings", headers=admin.auth, json={"payments": {"platformFeePercentage": 25}}
    )
    # then the request fails after both writes were made
    assert response.status_code == 500
    assert seen_in_transaction == [(1, 1)]
    # and neither the audit row nor the change survived
    async with db.transaction() as session:
        audit_rows = await session.execute(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "admin.settings_updated")
        )
        setting_rows = await session.execute(select(func.count()).select_from(AdminSetting))
        assert audit_rows.scalar_one() == 0
        assert setting_rows.scalar_one() == 0
    after = (await client.get("/v1/admin/settings", headers=admin.auth)).json()["data"]
    assert after == before


async def test_admin_reads_the_audit_trail(client: httpx.AsyncClient, db: Database) -> None:
    admin = await create_admin(client, db)
    user = await register(client, "buyer")
    await client.post(
        f"/v1/admin/users/{user.id}/suspend", headers=admin.auth, json={"reason": "spam spam"}
    )
    response = await client.get(
        "/v1/admin/audit-logs", headers=admin.auth, params={"resourceId": str(user.id)}
    )
    assert response.status_code == 200
    actions = [row["action"] for row in response.json()["data"]]
    assert actions[0] == "admin.user_status_changed"
    assert "user.registered" in actions
    first = response.json()["data"][0]
    assert first["userId"] == str(admin.id) and first["ipAddress"] == "203.0.113.7"
    assert response.json()["pagination"]["total"] == len(actions)
