"""Driving pages as a browser does, without one: cookies kept by the client, the CSRF token
read from the form, forms posted as application/x-www-form-urlencoded."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import httpx
from sqlalchemy import event

from ipmarket.kit.db import Database
from tests.support import STRONG_PASSWORD, unique

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


async def submit(
    client: httpx.AsyncClient, form_page: str, action: str | None = None, **fields: Any
) -> httpx.Response:
    """Open `form_page`, then post `fields` (with its CSRF token) to `action` (the page)."""
    page = await client.get(form_page)
    assert page.status_code == 200, page.text
    return await client.post(action or form_page, data={"csrf_token": csrf_of(page.text), **fields})


async def sign_up(client: httpx.AsyncClient, user_type: str = "buyer") -> dict[str, str]:
    name = unique(user_type[:4])
    fields = {
        "username": name,
        "email": f"{name}@example.com",
        "password": STRONG_PASSWORD,
        "userType": user_type,
    }
    response = await submit(client, "/sign-up", **fields)
    assert response.status_code == 303, response.text
    return fields


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await submit(client, "/sign-in", email=email, password=password)


def main_text(html: str) -> str:
    """The text of a page's <main>, tags removed, spaces collapsed: what a reader sees."""
    body = html.split('<main id="main">', 1)[-1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()


@contextlib.contextmanager
def statements_during(db: Database) -> Iterator[list[str]]:
    """The SQL statements `db` runs while the block runs, to show that a page's query count
    does not grow with its page size. Pass the app's own database: `app.state.db`."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)
