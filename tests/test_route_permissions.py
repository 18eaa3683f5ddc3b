"""Every /v1 route declares its permission or is on the explicit public list."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from ipmarket.api import API_PREFIX, MODULE_ROUTERS, PUBLIC_ROUTES
from ipmarket.app import create_app
from ipmarket.config import Settings
from ipmarket.identity import Authorize, Permission, Principal


def _authorizers(dependant: Dependant) -> list[Authorize]:
    found = [dependant.call] if isinstance(dependant.call, Authorize) else []
    for sub in dependant.dependencies:
        found += _authorizers(sub)
    return found


def _v1_endpoints(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """(method, full path) -> route, for every route served under /v1: the module routers'
    and any mounted on the app directly."""
    routes = [
        (API_PREFIX + r.path, r)
        for m in MODULE_ROUTERS
        for r in m.routes
        if isinstance(r, APIRoute)
    ]
    routes += [
        (r.path, r) for r in app.routes if isinstance(r, APIRoute) and r.path.startswith("/v1/")
    ]
    return {(method, path): route for path, route in routes for method in route.methods or set()}


def _guarded(route: APIRoute) -> bool:
    return bool(_authorizers(route.dependant))


def undeclared_routes(app: FastAPI) -> list[str]:
    """The /v1 routes of `app` that neither require a permission nor are listed as public."""
    return sorted(
        f"{method} {path}"
        for (method, path), route in _v1_endpoints(app).items()
        if not _guarded(route) and (method, path) not in PUBLIC_ROUTES
    )


def public_routes_requiring_a_login(app: FastAPI) -> list[str]:
    return sorted(
        f"{method} {path}"
        for (method, path), route in _v1_endpoints(app).items()
        if _guarded(route) and (method, path) in PUBLIC_ROUTES
    )


def test_every_v1_route_is_authorized_or_public(settings: Settings) -> None:
    app = create_app(settings)
    assert undeclared_routes(app) == [], "routes without a permission or a public listing"
    assert public_routes_requiring_a_login(app) == []
    missing = PUBLIC_ROUTES - set(_v1_endpoints(app))
    assert not missing, f"the public list names routes that do not exist: {missing}"


def test_the_check_reports_an_unguarded_route(settings: Settings) -> None:
    # given the app with two routes mounted directly: one guarded, one not
    app = create_app(settings)

    @app.get("/v1/sneaky")
    async def sneaky() -> dict[str, str]:
        return {}

    @app.get("/v1/guarded")
    async def guarded(
        _: Annotated[Principal, Depends(Authorize(Permission.AUDIT_LOGS))],
    ) -> dict[str, str]:
        return {}

    # when the check runs, then it reports exactly the unguarded one
    assert undeclared_routes(app) == ["GET /v1/sneaky"]
