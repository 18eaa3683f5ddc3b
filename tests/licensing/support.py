"""Helpers of the IP asset and licensing tests: error envelopes, outbox events, audit rows,
platform settings and a fingerprint of the rights tables to prove nothing was written."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx
from sqlalchemy import select, text

from ipmarket.audit.models import AuditLog
from ipmarket.eventbus.models import OutboxEvent
from ipmarket.kit.db import Database
from ipmarket.settings import update_platform_settings
from tests.rights import Rights
from tests.support import Account, login

# Every table a rights action may write; users are left out (their last activity moves).
RIGHTS_TABLES = (
    "ip_assets",
    "license_terms",
    "license_applications",
    "products",
    "authorization_chain",
    "audit_logs",
    "outbox_events",
)


def error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert `response` is the error envelope with `status` and `code`; return its error."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False, body
    assert body["data"] is None, body
    assert body["error"]["code"] == code, body
    err: dict[str, Any] = body["error"]
    return err


def fields_of(err: Mapping[str, Any]) -> set[str]:
    """The field names a validation error's details name."""
    return {e["field"] for e in err.get("details", {}).get("errors", [])}


async def fingerprint(db: Database) -> dict[str, str]:
    """A digest of every row of the rights tables: equal before and after means nothing
    was written."""
    parts = ", ".join(
        f"(SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '')"
        f" FROM {table} t) AS {table}"
        for table in RIGHTS_TABLES
    )
    async with db.sessionmaker() as session:
        row = (await session.execute(text(f"SELECT {parts}"))).one()
    return dict(row._mapping)


async def events(db: Database, event_type: str) -> list[dict[str, Any]]:
    """Payloads of the outbox events of `event_type`, oldest first."""
    async with db.sessionmaker() as session:
        rows = await session.execute(
            select(OutboxEvent.payload)
            .where(OutboxEvent.event_type == event_type)
            .order_by(OutboxEvent.occurred_at, OutboxEvent.id)
        )
        return list(rows.scalars())


async def audits(
    db: Database, action: str, resource_id: str | uuid.UUID | None = None
) -> list[AuditLog]:
    async with db.sessionmaker() as session:
        stmt = select(AuditLog).where(AuditLog.action == action)
        if resource_id is not None:
            stmt = stmt.where(AuditLog.resource_id == uuid.UUID(str(resource_id)))
        rows = await session.execute(stmt.order_by(AuditLog.created_at, AuditLog.id))
        return list(rows.scalars())


async def set_platform(db: Database, patch: Mapping[str, Any]) -> None:
    """Change platform settings (camelCase JSON form) as an administrator would."""
    async with db.transaction() as session:
        await update_platform_settings(session, patch, updated_by=None)


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def quick_asset(rights: Rights, owner: Account, **fields: Any) -> dict[str, Any]:
    """An asset approved at once: registered and submitted while `autoApproveIPs` is on
    (the caller turns it on)."""
    asset = await rights.asset(owner, approve=False, **fields)
    return await rights.ok(
        await rights.client.post(f"/v1/ip-assets/{asset['id']}/verify", headers=owner.auth)
    )


async def relogin(client: httpx.AsyncClient, account: Account) -> Account:
    """A fresh access token for `account`, e.g. after the frozen clock moved past the old
    one's expiry."""
    response = await login(client, account.email, account.password)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return replace(account, token=data["token"], refresh_token=data["refreshToken"])


async def apply(
    client: httpx.AsyncClient,
    applicant: Account,
    asset_id: str,
    terms_id: str,
    *,
    idempotency_key: str | None = None,
    **extra: Any,
) -> httpx.Response:
    """POST /v1/licenses/apply; an application that pays (`paymentMethod`) carries an
    Idempotency-Key, a fresh one unless given."""
    headers = dict(applicant.auth)
    if idempotency_key is None and "paymentMethod" in extra:
        idempotency_key = f"apply-{uuid.uuid4()}"
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return await client.post(
        "/v1/licenses/apply",
        json={"ipAssetId": asset_id, "licenseTermsId": terms_id, **extra},
        headers=headers,
    )


def listing(response: httpx.Response) -> list[dict[str, Any]]:
    """The items of a successful list response."""
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    assert isinstance(data, list)
    return data
