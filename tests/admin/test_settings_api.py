"""GET and PUT /v1/admin/settings."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.audit.models import AuditLog
from ipmarket.eventbus.models import OutboxEvent
from ipmarket.kit.db import Database
from tests.support import create_admin


async def test_get_returns_defaults(client: httpx.AsyncClient, db: Database) -> None:
    admin = await create_admin(client, db)
    response = await client.get("/v1/admin/settings", headers=admin.auth)
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"general", "payments", "verification", "content", "security"}
    assert data["general"]["requireEmailVerification"] is True
    assert data["security"]["maxLoginAttempts"] == 5


async def test_put_deep_merges_audits_and_publishes(
    client: httpx.AsyncClient, db: Database, session: AsyncSession
) -> None:
    admin = await create_admin(client, db)
    before = (await client.get("/v1/admin/settings", headers=admin.auth)).json()["data"]
    response = await client.put(
        "/v1/admin/settings",
        headers=admin.auth,
        json={"payments": {"platformFeePercentage": 12.5}, "security": {"maxLoginAttempts": 3}},
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["payments"]["platformFeePercentage"] == 12.5
    assert data["payments"]["payoutSchedule"] == before["payments"]["payoutSchedule"]
    assert data["security"]["maxLoginAttempts"] == 3
    assert data["general"] == before["general"]
    row = (
        await session.execute(select(AuditLog).where(AuditLog.action == "admin.settings_updated"))
    ).scalar_one()
    assert row.user_id == admin.id
    assert row.old_values == {
        "payments": {"platformFeePercentage": before["payments"]["platformFeePercentage"]},
        "security": {"maxLoginAttempts": 5},
    }
    assert row.new_values == {
        "payments": {"platformFeePercentage": 12.5},
        "security": {"maxLoginAttempts": 3},
    }
    events = (
        (
            await session.execute(
                select(OutboxEvent).where(OutboxEvent.event_type == "platform.settings_changed")
            )
        )
        .scalars()
        .all()
    )
    assert len(events) == 1
    # and it is what the next GET shows
    assert (await client.get("/v1/admin/settings", headers=admin.auth)).json()["data"] == data


async def test_put_rejects_bad_values_and_unknown_keys(
    client: httpx.AsyncClient, db: Database
) -> None:
    admin = await create_admin(client, db)
    before = (await client.get("/v1/admin/settings", headers=admin.auth)).json()["data"]
    bodies: list[dict[str, object]] = [
        {"payments": {"platformFeePercentage": 101}},
        {"payments": {"payoutSchedule": "hourly"}},
        {"general": {"nonsense": True}},
        {"unknownSection": {}},
        {"security": {"maxLoginAttempts": "many"}},
    ]
    for body in bodies:
        response = await client.put("/v1/admin/settings", headers=admin.auth, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await client.get("/v1/admin/settings", headers=admin.auth)).json()["data"] == before


async def test_lowering_max_login_attempts_takes_effect(
    client: httpx.AsyncClient, db: Database
) -> None:
    from tests.support import login, register

    admin = await create_admin(client, db)
    await client.put(
        "/v1/admin/settings", headers=admin.auth, json={"security": {"maxLoginAttempts": 2}}
    )
    user = await register(client, "buyer")
    statuses = [(await login(client, user.email, "Wrong-Pass-11!")).status_code for _ in range(2)]
    assert statuses == [401, 429]
