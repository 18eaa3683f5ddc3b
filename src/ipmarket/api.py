"""Mounts every module's router under /v1 and names the routes open to anyone."""

from __future__ import annotations

from fastapi import APIRouter

from ipmarket.admin.router import router as admin_router
from ipmarket.admin.router import users_router as admin_users_router
from ipmarket.files.router import router as files_router
from ipmarket.identity.router import router as auth_router
from ipmarket.identity.router import users_router
from ipmarket.ip_assets.router import admin_router as admin_ip_assets_router
from ipmarket.ip_assets.router import router as ip_assets_router
from ipmarket.licensing.router import admin_router as admin_licenses_router
from ipmarket.licensing.router import router as licenses_router
from ipmarket.licensing.router import terms_router
from ipmarket.payments.router import admin_router as admin_transactions_router
from ipmarket.payments.router import purchase_router
from ipmarket.payments.router import router as payments_router
from ipmarket.products.router import router as products_router
from ipmarket.provenance.router import router as verification_router
from ipmarket.provenance.units_router import router as units_router
from ipmarket.transparency.router import router as transparency_router

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
        # the signature in the URL is the authorization
        ("GET", "/v1/files/{file_id}/content"),
        ("GET", "/v1/ip-assets"),
        ("GET", "/v1/ip-assets/{asset_id}"),
        ("GET", "/v1/ip-assets/{asset_id}/licenses"),
        ("GET", "/v1/licenses/{license_id}/verify"),
        ("GET", "/v1/products"),
        ("GET", "/v1/products/{product_id}"),
        ("GET", "/v1/products/{product_id}/verify"),
        ("GET", "/v1/verify/{code}"),
        ("GET", "/v1/verify/{code}/history"),
        # the transparency log is public evidence
        ("GET", "/v1/transparency/checkpoint"),
        ("GET", "/v1/transparency/entries"),
        ("GET", "/v1/transparency/proof/inclusion"),
        ("GET", "/v1/transparency/proof/consistency"),
        ("GET", "/v1/transparency/key"),
        # the Stripe-Signature header is the authorization
        ("POST", "/v1/payments/webhooks/stripe"),
    }
)


# Every module router served under /v1, in the order they are mounted.
MODULE_ROUTERS: tuple[APIRouter, ...] = (
    auth_router,
    users_router,
    admin_users_router,
    admin_router,
    admin_ip_assets_router,
    admin_licenses_router,
    admin_transactions_router,
    files_router,
    ip_assets_router,
    terms_router,
    licenses_router,
    products_router,
    purchase_router,
    payments_router,
    verification_router,
    transparency_router,
    units_router,
)


def build_v1_router() -> APIRouter:
    v1 = APIRouter(prefix=API_PREFIX)
    for module_router in MODULE_ROUTERS:
        v1.include_router(module_router)
    return v1
