"""The audit trail is append-only, enforced by the database."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from ipmarket.audit.models import AuditLog
from ipmarket.kit.db import Database
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
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a request that fails validation in the service after nothing was written
    admin = await create_admin(client, db)
    async with db.transaction() as session:
        before = len((await session.execute(select(AuditLog.id))).scalars().all())
    response = await client.put(
        "/v1/admin/settings", headers=admin.auth, json={"payments": {"platformFeePercentage": 250}}
    )
    assert response.status_code == 422
    async with db.transaction() as session:
        after = len((await session.execute(select(AuditLog.id))).scalars().all())
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
