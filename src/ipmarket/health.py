"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ipmarket.kit.envelope import APIResponse, error_payload, error_responses, ok
from ipmarket.kit.errors import ErrorCode

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> APIResponse[dict[str, str]]:
    return ok({"status": "ok"})


async def _database_ready(request: Request) -> bool:
    try:
        async with request.app.state.db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


async def _broker_ready(request: Request) -> bool | None:
    url = request.app.state.settings.rabbitmq_url
    if not url:
        return None
    from ipmarket.eventbus.rabbitmq import broker_ready  # noqa: PLC0415 - aio-pika only when used

    return await broker_ready(url)


@router.get(
    "/readyz",
    summary="Database, cache and broker are reachable",
    responses={503: error_responses(500)[500] | {"description": "A dependency is unreachable"}},
)
async def readyz(request: Request) -> Any:
    checks: dict[str, str] = {
        "database": "ok" if await _database_ready(request) else "unavailable",
        "cache": "ok" if await request.app.state.cache.ping() else "unavailable",
    }
    broker = await _broker_ready(request)
    checks["broker"] = "embedded" if broker is None else ("ok" if broker else "unavailable")
    if "unavailable" in checks.values():
        return JSONResponse(
            error_payload(ErrorCode.INTERNAL_ERROR, "Not ready", {"checks": checks}),
            status_code=503,
        )
    return ok(checks)
