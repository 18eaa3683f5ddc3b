"""End-to-end fixtures: real servers, and Chromium driving pages at each viewport.

- `live_server` (module): uvicorn serving create_app() in a thread of the test process, for
  the API tests of this directory (their coverage counts).
- `app_server` (session): `ipmarket serve` in a child process on a database of its own, as
  `make run` serves (see tests/e2e/server.py for what it offers beside the pages).
- `browser` (session): Debian's Chromium; `desktop_page` (1280x800), `phone_page` (360x780,
  mobile, touch), `nojs_page` (1280x800, JavaScript off): each a fresh profile on
  `app_server`, relative URLs allowed (`page.goto("/docs")`); `open_page(viewport)` opens
  more (a second user); `screenshot(page, name)` saves a PNG (to docs/screenshots/ under
  `make screenshots`). The checks are in tests/e2e/browser.py. The API is Playwright's
  async one: browser tests are `async def` and await the page.

Every test that uses `browser` (so any page fixture) is marked `browser`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright

from ipmarket.app import create_app
from ipmarket.config import Settings
from tests.conftest import ADMIN_URL, REDIS_URL, _admin_execute
from tests.e2e.browser import (
    DESKTOP,
    NO_JAVASCRIPT,
    PHONE,
    VIEWPORTS,
    Viewport,
    launch_chromium,
    new_page,
    open_context,
)
from tests.e2e.server import AppServer, start_app_server

SCREENSHOTS_DIR = os.environ.get("SCREENSHOTS_DIR")


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


# --- the browser tests ----------------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def app_server(
    jwt_private_key_pem: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    """`ipmarket serve` in a child process, on a database of its own (its relay must not take
    the events of the other tests of this process)."""
    name = f"ipmarket_e2e_{os.getpid()}"
    asyncio.run(
        _admin_execute(
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
        )
    )
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        with start_app_server(
            url, Path(tmp_path_factory.mktemp("app-server")) / "var", jwt_private_key_pem
        ) as server:
            yield server
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await launch_chromium(playwright)
        yield chromium
        await chromium.close()


async def _page(browser: Browser, server: AppServer, viewport: Viewport) -> AsyncIterator[Page]:
    async with open_context(browser, viewport, server.url) as context:
        yield await new_page(context, server.url)


@pytest.fixture
async def desktop_page(browser: Browser, app_server: AppServer) -> AsyncIterator[Page]:
    async for page in _page(browser, app_server, DESKTOP):
        yield page


@pytest.fixture
async def phone_page(browser: Browser, app_server: AppServer) -> AsyncIterator[Page]:
    async for page in _page(browser, app_server, PHONE):
        yield page


@pytest.fixture
async def nojs_page(browser: Browser, app_server: AppServer) -> AsyncIterator[Page]:
    async for page in _page(browser, app_server, NO_JAVASCRIPT):
        yield page


@pytest.fixture
async def open_page(
    browser: Browser, app_server: AppServer
) -> AsyncIterator[Callable[..., Awaitable[Page]]]:
    """await open_page("desktop" | "phone" | "nojs") -> a page in a fresh profile of its own."""
    async with AsyncExitStack() as stack:

        async def open_one(viewport: str | Viewport = "desktop") -> Page:
            chosen = VIEWPORTS[viewport] if isinstance(viewport, str) else viewport
            context = await stack.enter_async_context(open_context(browser, chosen, app_server.url))
            return await new_page(context, app_server.url)

        yield open_one


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[..., Awaitable[Path]]:
    """screenshot(page, "name") -> NAME-<viewport>.png, in docs/screenshots/ under `make
    screenshots` (SCREENSHOTS_DIR), in the test's own directory otherwise."""
    directory = Path(SCREENSHOTS_DIR) if SCREENSHOTS_DIR else tmp_path / "screenshots"

    async def shoot(page: Page, name: str, *, full_page: bool = False) -> Path:
        viewport = page.viewport_size
        assert viewport is not None
        kind = "phone" if viewport["width"] < 600 else "desktop"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}-{kind}.png"
        await page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path

    return shoot
