"""Mounts every module's router under /v1 and names the routes open to anyone."""

from __future__ import annotations

from fastapi import APIRouter

from ipmarket.admin.router import router as admin_router
from ipmarket.identity.admin_router import router as admin_users_router
from ipmarket.identity.router import router as auth_router
from ipmarket.identity.router import users_router

API_PREFIX = "/v1"

# Routes under /v1 that need no login. Every other /v1 route must depend on
# `identity.Authorize`; tests/test_route_permissions.py fails for any route that does neither.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("POST", "/v1/auth/register"),
        ("POST", "/v1/auth/login"),
        ("POST", "/v1/auth/refresh"),
        ("POST", "/v1/auth/logout"),
        ("POST", "/v1/auth/forgot-password"),
        ("POST", "/v1/auth/reset-password"),
        ("GET", "/v1/auth/verify-email/{token}"),
    }
)


# Every module router served under /v1, in the order they are mounted.
MODULE_ROUTERS: tuple[APIRouter, ...] = (
    auth_router,
    users_router,
    admin_users_router,
    admin_router,
)


def build_v1_router() -> APIRouter:
    v1 = APIRouter(prefix=API_PREFIX)
    for module_router in MODULE_ROUTERS:
        v1.include_router(module_router)
    return v1
