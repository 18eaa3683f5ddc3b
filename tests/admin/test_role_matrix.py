"""A role-by-route matrix: who may call each guarded route."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ipmarket.kit.db import Database
from tests.support import Account, create_admin, register

# (method, path, body) — `{target}` is a user the calls act on.
ROUTES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "me": ("GET", "/v1/users/me", None),
    "list_users": ("GET", "/v1/admin/users", None),
    "set_status": ("PUT", "/v1/admin/users/{target}/status", {"status": "active"}),
    "set_verification": (
        "PUT",
        "/v1/admin/users/{target}/verify",
        {"verificationLevel": "verified"},
    ),
    "suspend": ("POST", "/v1/admin/users/{target}/suspend", {"reason": "matrix check"}),
    "unsuspend": ("POST", "/v1/admin/users/{target}/unsuspend", None),
    "get_settings": ("GET", "/v1/admin/settings", None),
    "put_settings": ("PUT", "/v1/admin/settings", {"general": {"platformName": "ipmarket"}}),
    "audit_logs": ("GET", "/v1/admin/audit-logs", None),
}

ADMIN_ROUTES = set(ROUTES) - {"me"}
USER_ROUTES = {"list_users", "set_status", "set_verification", "suspend", "unsuspend"}
PLATFORM_ROUTES = {"get_settings", "put_settings", "audit_logs"}

# role -> the routes it may call, with 200 (everything else: 403, or 401 when anonymous)
ALLOWED: dict[str, set[str]] = {
    "anonymous": set(),
    "creator": {"me"},
    "secondary_creator": {"me"},
    "buyer": {"me"},
    "moderator": {"me", "list_users"},
    "admin_users_department": {"me"} | USER_ROUTES | PLATFORM_ROUTES,
    "admin_content_department": {"me"} | PLATFORM_ROUTES,
    "super_admin": set(ROUTES),
}


async def _account(client: httpx.AsyncClient, db: Database, role: str) -> Account | None:
    if role == "anonymous":
        return None
    if role in ("creator", "secondary_creator", "buyer"):
        return await register(client, role)
    if role == "moderator":
        return await create_admin(client, db, level="moderator")
    if role == "admin_users_department":
        return await create_admin(client, db, departments=["users"])
    if role == "admin_content_department":
        return await create_admin(client, db, departments=["content"])
    return await create_admin(client, db, level="super_admin")


@pytest.mark.parametrize("role", sorted(ALLOWED))
async def test_role_route_matrix(client: httpx.AsyncClient, db: Database, role: str) -> None:
    caller = await _account(client, db, role)
    target = await register(client, "buyer")
    headers = caller.auth if caller else {}
    for name, (method, path, body) in ROUTES.items():
        response = await client.request(
            method, path.format(target=target.id), json=body, headers=headers
        )
        if name in ALLOWED[role]:
            # every call is valid for its target at this point of the sequence (suspend
            # comes before unsuspend), so an allowed caller succeeds
            assert response.status_code == 200, (role, name, response.text)
            assert response.json()["success"] is True
        else:
            expected = 401 if caller is None else 403
            assert response.status_code == expected, (role, name, response.status_code)
            assert response.json()["error"]["code"] == (
                "UNAUTHORIZED" if caller is None else "FORBIDDEN"
            )


# The routes that change a user, aimed at another administrator instead of a buyer.
CHANGES_OF_A_USER = ("set_status", "set_verification", "suspend", "unsuspend")


@pytest.mark.parametrize("role", sorted(ALLOWED))
async def test_only_a_super_admin_changes_an_administrator(
    client: httpx.AsyncClient, db: Database, role: str
) -> None:
    # given a caller of each role and a moderator as the target
    caller = await _account(client, db, role)
    target = await create_admin(client, db, level="moderator")
    headers = caller.auth if caller else {}
    for name in CHANGES_OF_A_USER:
        method, path, body = ROUTES[name]
        # when the caller tries to change the moderator
        response = await client.request(
            method, path.format(target=target.id), json=body, headers=headers
        )
        # then only a super admin may; even a users-department admin is refused
        expected = 200 if role == "super_admin" else 401 if caller is None else 403
        assert response.status_code == expected, (role, name, response.text)
