"""Helpers shared by API tests: registering users, reading mail, delivering events."""

from __future__ import annotations

import email
import re
import uuid
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import httpx

from ipmarket.config import Settings
from ipmarket.kit.db import Database

STRONG_PASSWORD = "Violet-Harbor-42!"


@dataclass
class Account:
    id: uuid.UUID
    username: str
    email: str
    password: str
    token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def unique(prefix: str = "user") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def register(
    client: httpx.AsyncClient, user_type: str = "buyer", **overrides: Any
) -> Account:
    name = overrides.pop("username", unique(user_type[:4]))
    body = {
        "username": name,
        "email": overrides.pop("email", f"{name}@example.com"),
        "password": overrides.pop("password", STRONG_PASSWORD),
        "userType": user_type,
        **overrides,
    }
    response = await client.post("/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return Account(
        id=uuid.UUID(data["user"]["id"]),
        username=body["username"],
        email=body["email"],
        password=body["password"],
        token=data["token"],
        refresh_token=data["refreshToken"],
    )


async def login(client: httpx.AsyncClient, email_address: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/login", json={"email": email_address, "password": password})


async def create_admin(
    client: httpx.AsyncClient,
    db: Database,
    *,
    level: str = "admin",
    departments: list[str] | None = None,
) -> Account:
    from ipmarket.identity import create_admin as make_admin

    name = unique("admin")
    async with db.transaction() as session:
        user = await make_admin(
            session,
            username=name,
            email=f"{name}@example.com",
            password=STRONG_PASSWORD,
            level=level,
            departments=departments,
        )
    response = await login(client, f"{name}@example.com", STRONG_PASSWORD)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return Account(
        user.id, name, f"{name}@example.com", STRONG_PASSWORD, data["token"], data["refreshToken"]
    )


def mailbox(settings: Settings) -> list[Message]:
    """Every email the file sender wrote, oldest first."""
    directory = Path(settings.var_dir) / "mail"
    if not directory.exists():
        return []
    files = sorted(directory.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(p.read_bytes()) for p in files if p.is_file()]


def body_of(message: Message) -> str:
    if message.is_multipart():
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                return payload.decode()
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def token_in(message: Message) -> str:
    """The plain token an email carries (the last path or query segment of its link)."""
    match = re.search(r"(?:verify-email/|token=)([A-Za-z0-9_-]{20,})", body_of(message))
    assert match, body_of(message)
    return match.group(1)


async def deliver_events(db: Database) -> int:
    """Run the in-process relay until there is nothing left to do."""
    from ipmarket.eventbus.relay import OutboxRelay

    relay = OutboxRelay(db)
    done = 0
    while (n := await relay.run_once()) > 0:
        done += n
    return done
