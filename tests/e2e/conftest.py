"""A real server: uvicorn serving create_app() on 127.0.0.1 in a thread, for end-to-end tests."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from ipmarket.app import create_app
from ipmarket.config import Settings
from tests.conftest import REDIS_URL


@pytest.fixture(scope="module")
def live_settings(
    database_url: str, jwt_private_key_pem: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings.model_validate(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            # keys of this server's own: the e2e modules may run at once, in parallel workers
            "REDIS_PREFIX": f"ipmarket-test-{uuid.uuid4().hex[:12]}:",
            "JWT_PRIVATE_KEY": jwt_private_key_pem,
            "VAR_DIR": Path(tmp_path_factory.mktemp("live")) / "var",
            # the embedded relay runs inside the server, as with `make run`
            "RELAY_IN_PROCESS": True,
            "RATE_LIMIT_USER_PER_HOUR": 1_000_000,
            "RATE_LIMIT_AUTH_PER_MINUTE": 1_000_000,
        }
    )


@pytest.fixture(scope="module")
def live_server(live_settings: Settings) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(live_settings), log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
