"""Permissions per user type, and the email-verification gate on acting permissions."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, FastAPI

from ipmarket.identity import Authorize, Permission, Principal
from ipmarket.identity.permissions import permissions_for
from ipmarket.kit.db import Database
from ipmarket.settings import update_platform_settings
from tests.support import deliver_events, mailbox, register, token_in


def test_permissions_per_user_type_and_admin_level() -> None:
    assert permissions_for("creator", None, []) == [
        "create_ip",
        "manage_licenses",
        "view_analytics",
    ]
    assert permissions_for("buyer", None, []) == ["purchase_products", "verify_authenticity"]
    assert permissions_for("admin", "super_admin", []) == ["*"]
    assert "suspend_users" in permissions_for("admin", "admin", ["users"])
    assert "suspend_users" not in permissions_for("admin", "admin", ["content"])
    assert "platform_settings" in permissions_for("admin", "admin", [])
    moderator = permissions_for("admin", "moderator", ["users", "payments"])
    assert "moderate_content" in moderator and "process_refunds" not in moderator


def _mount_acting_route(app: FastAPI) -> None:
    async def create_something(
        principal: Annotated[Principal, Depends(Authorize(Permission.CREATE_IP))],
    ) -> dict[str, str]:
        return {"by": str(principal.id)}

    app.add_api_route("/v1/test-only/create", create_something, methods=["POST"])


async def test_unverified_user_can_read_but_not_create(
    app: FastAPI, client: httpx.AsyncClient, db: Database, settings: object
) -> None:
    _mount_acting_route(app)
    creator = await register(client, "creator")
    buyer = await register(client, "buyer")
    # reading works while unverified
    assert (await client.get("/v1/users/me", headers=creator.auth)).status_code == 200
    # creating is refused until the email is verified
    refused = await client.post("/v1/test-only/create", headers=creator.auth)
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["reason"] == "email_not_verified"
    # a user without the permission is refused whatever their verification
    assert (await client.post("/v1/test-only/create", headers=buyer.auth)).status_code == 403
    # after verifying, the creator may act
    await deliver_events(db)
    message = next(m for m in mailbox(settings) if m["To"] == creator.email)  # type: ignore[arg-type]
    assert (await client.get(f"/v1/auth/verify-email/{token_in(message)}")).status_code == 200
    assert (await client.post("/v1/test-only/create", headers=creator.auth)).status_code == 200


async def test_verification_gate_follows_the_setting(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    _mount_acting_route(app)
    creator = await register(client, "creator")
    async with db.transaction() as session:
        await update_platform_settings(
            session, {"general": {"requireEmailVerification": False}}, updated_by=None
        )
    assert (await client.post("/v1/test-only/create", headers=creator.auth)).status_code == 200
