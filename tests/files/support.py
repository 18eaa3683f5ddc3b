"""Helpers of the files tests: verified users, tiny files of each type, uploading."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select, update

from ipmarket.config import Settings
from ipmarket.files import StoredFile
from ipmarket.identity import User
from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Database
from tests.support import Account, register

# The first bytes of real files: enough for the sniffer, and distinct content per test.
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


async def verified_user(client: httpx.AsyncClient, db: Database, user_type: str) -> Account:
    """A registered user whose email address is confirmed, so they may act."""
    account = await register(client, user_type)
    async with db.transaction() as session:
        await session.execute(
            update(User).where(User.id == account.id).values(email_verified_at=utcnow())
        )
    return account


async def upload(
    client: httpx.AsyncClient,
    account: Account | None,
    content: bytes,
    *,
    filename: str = "upload.bin",
    field: str = "file",
    declared_type: str = "application/octet-stream",
) -> httpx.Response:
    return await client.post(
        "/v1/files",
        files={field: (filename, content, declared_type)},
        headers=account.auth if account else {},
    )


def path_of(url: str) -> str:
    """The path and query of an absolute URL, to request it from the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def file_rows(db: Database) -> int:
    async with db.sessionmaker() as session:
        return int(
            (await session.execute(select(func.count()).select_from(StoredFile))).scalar_one()
        )


def stored_blobs(settings: Settings) -> list[Path]:
    """Every file under the storage root, temporary files included."""
    root = Path(settings.var_dir) / "files"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
