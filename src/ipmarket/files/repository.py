"""All SQL of the files module."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.files.models import StoredFile


class FileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, stored: StoredFile) -> StoredFile:
        self.session.add(stored)
        await self.session.flush()
        return stored

    async def get(self, file_id: uuid.UUID) -> StoredFile | None:
        return await self.session.get(StoredFile, file_id)

    async def by_ids(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, StoredFile]:
        """The files among `ids` that exist, by id (one query)."""
        if not ids:
            return {}
        stmt = select(StoredFile).where(StoredFile.id.in_(set(ids)))
        return {row.id: row for row in (await self.session.execute(stmt)).scalars()}

    async def hashes(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The SHA-256 of each file among `ids` that exists (one query)."""
        if not ids:
            return {}
        stmt = select(StoredFile.id, StoredFile.sha256).where(StoredFile.id.in_(set(ids)))
        return {row.id: row.sha256 for row in (await self.session.execute(stmt)).all()}
