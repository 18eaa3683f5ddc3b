"""Liveness and readiness probes when a dependency is down."""

from __future__ import annotations

import socket

import httpx
from fastapi import FastAPI

from ipmarket.kit.db import Database


def _closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_readyz_is_503_in_the_envelope_when_the_database_is_unreachable(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # given an app whose database is at an address where nothing answers
    working: Database = app.state.db
    unreachable = Database(f"postgresql://postgres@127.0.0.1:{_closed_port()}/ipmarket")
    app.state.db = unreachable
    try:
        # when the readiness probe is asked
        response = await client.get("/readyz")
        alive = await client.get("/healthz")
    finally:
        app.state.db = working
        await unreachable.dispose()
    # then it answers 503 in the error envelope, naming the database as the problem
    assert response.status_code == 503
    body = response.json()
    assert body["success"] is False and body["data"] is None
    assert body["error"]["code"] == "INTERNAL_ERROR"
    assert body["error"]["message"] == "Not ready"
    assert body["error"]["details"]["checks"]["database"] == "unavailable"
    assert body["error"]["details"]["checks"]["cache"] == "ok"
    assert response.headers["x-request-id"]
    # while the process itself is still alive
    assert alive.status_code == 200
    # and once the database answers again, it is ready
    assert (await client.get("/readyz")).status_code == 200
