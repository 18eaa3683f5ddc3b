"""List endpoints: a constant number of SQL statements whatever the page size, and sorting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from ipmarket.audit.models import AuditLog
from ipmarket.identity.models import User
from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Database
from ipmarket.kit.ids import new_id
from tests.support import create_admin, unique

ROWS = 60


@pytest.fixture
def statements(app: FastAPI) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while the test runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


async def _many_users_and_audit_rows(db: Database) -> None:
    now = utcnow()
    async with db.transaction() as session:
        for n in range(ROWS):
            name = unique("listed")
            session.add(
                User(
                    id=new_id(),
                    username=name,
                    email=f"{name}@example.com",
                    password_hash="not-a-real-hash",
                    user_type="creator",
                )
            )
            session.add(
                AuditLog(
                    id=new_id(),
                    action="test.listed",
                    resource_type="test",
                    new_values={"n": n},
                    created_at=now - timedelta(seconds=n),
                )
            )


@pytest.mark.parametrize("path", ["/v1/admin/users", "/v1/admin/audit-logs"])
async def test_a_list_costs_the_same_queries_for_any_page_size(
    client: httpx.AsyncClient, db: Database, statements: list[str], path: str
) -> None:
    # given an administrator and more rows than the largest page asked for
    admin = await create_admin(client, db, level="super_admin")
    await _many_users_and_audit_rows(db)
    counts: dict[int, int] = {}
    for limit in (1, 50):
        # when a page of `limit` items is read
        statements.clear()
        response = await client.get(path, headers=admin.auth, params={"limit": limit})
        assert response.status_code == 200, response.text
        assert len(response.json()["data"]) == limit
        counts[limit] = len(statements)
    # then the number of statements does not depend on the page size: the caller's check,
    # the total and the page (and for users, one per module that reports their totals:
    # IP assets, products, revenue)
    expected = 6 if path == "/v1/admin/users" else 3
    assert counts[1] == counts[50] == expected, counts


async def test_audit_logs_sort_newest_or_oldest_first(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given three audit rows written a minute apart
    admin = await create_admin(client, db)
    start = utcnow() - timedelta(hours=1)
    async with db.transaction() as session:
        for n in range(3):
            session.add(
                AuditLog(
                    id=new_id(),
                    action="test.sorted",
                    resource_type="test",
                    new_values={"n": n},
                    created_at=start + timedelta(minutes=n),
                )
            )

    async def order(**params: str) -> list[int]:
        response = await client.get(
            "/v1/admin/audit-logs", headers=admin.auth, params={"action": "test.sorted", **params}
        )
        assert response.status_code == 200, response.text
        return [row["newValues"]["n"] for row in response.json()["data"]]

    # when the trail is read with each sort, then the order follows it (newest by default)
    assert await order() == [2, 1, 0]
    assert await order(sort="newest") == [2, 1, 0]
    assert await order(sort="oldest") == [0, 1, 2]
    # and an unknown sort is a validation error
    bad = await client.get("/v1/admin/audit-logs", headers=admin.auth, params={"sort": "random"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "VALIDATION_ERROR"
