"""Every /v1 route declares its permission or is on the explicit public list."""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from ipmarket.api import API_PREFIX, MODULE_ROUTERS, PUBLIC_ROUTES
from ipmarket.app import create_app
from ipmarket.config import Settings
from ipmarket.identity.deps import Authorize


def _authorizers(dependant: Dependant) -> list[Authorize]:
    found = [dependant.call] if isinstance(dependant.call, Authorize) else []
    for sub in dependant.dependencies:
        found += _authorizers(sub)
    return found


def _v1_routes(settings: Settings) -> list[tuple[str, APIRoute]]:
    """(full path, route) of every route served under /v1: the module routers' and any
    mounted on the app directly."""
    routes = [
        (API_PREFIX + r.path, r)
        for m in MODULE_ROUTERS
        for r in m.routes
        if isinstance(r, APIRoute)
    ]
    app = create_app(settings)
    routes += [
        (r.path, r) for r in app.routes if isinstance(r, APIRoute) and r.path.startswith("/v1/")
    ]
    return routes


def test_every_v1_route_is_authorized_or_public(settings: Settings) -> None:
    undeclared: list[str] = []
    both: list[str] = []
    seen: set[tuple[str, str]] = set()
    for path, route in _v1_routes(settings):
        for method in route.methods or set():
            key = (method, path)
            seen.add(key)
            guarded = bool(_authorizers(route.dependant))
            public = key in PUBLIC_ROUTES
            if not guarded and not public:
                undeclared.append(f"{method} {path}")
            if guarded and public:
                both.append(f"{method} {path}")
    assert not undeclared, f"routes without a permission or a public listing: {undeclared}"
    assert not both, f"public routes that also require a login: {both}"
    assert seen >= PUBLIC_ROUTES, f"public list names missing routes: {PUBLIC_ROUTES - seen}"


def test_the_check_catches_an_unguarded_route(settings: Settings) -> None:
    app = create_app(settings)

    @app.get("/v1/sneaky")
    async def sneaky() -> dict[str, str]:
        return {}

    route = next(r for r in app.routes if isinstance(r, APIRoute) and r.path == "/v1/sneaky")
    assert not _authorizers(route.dependant)
    assert ("GET", "/v1/sneaky") not in PUBLIC_ROUTES
