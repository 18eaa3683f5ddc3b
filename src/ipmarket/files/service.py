"""File use cases, and what other modules ask of files: whose they are, and their hashes.

Services flush but never commit: the request owns the transaction.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.files.models import StoredFile
from ipmarket.files.repository import FileRepository
from ipmarket.files.signing import FILES_PATH
from ipmarket.files.storage import Storage, new_key
from ipmarket.files.upload import ReceivedUpload, UploadPolicy, discard, store_file
from ipmarket.kit.errors import NotFound, ValidationFailed
from ipmarket.settings import get_platform_settings

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CONTENT_SUFFIX = "/content"


class FileService:
    def __init__(self, session: AsyncSession) -> None:
        self.files = FileRepository(session)

    async def record(self, owner_id: uuid.UUID, upload: ReceivedUpload) -> StoredFile:
        """The row of a blob now in storage."""
        return await self.files.add(
            StoredFile(
                owner_id=owner_id,
                storage_key=upload.key,
                content_type=upload.content_type,
                size=upload.size,
                sha256=upload.sha256,
                original_filename=upload.filename,
            )
        )

    async def get(self, file_id: uuid.UUID) -> StoredFile:
        stored = await self.files.get(file_id)
        if stored is None:
            raise NotFound("File not found")
        return stored

    async def visible_to(
        self, file_id: uuid.UUID, *, viewer_id: uuid.UUID, is_admin: bool
    ) -> StoredFile:
        """The file if `viewer_id` uploaded it or is an administrator. Anyone else is told it
        does not exist, so file ids cannot be probed."""
        stored = await self.files.get(file_id)
        if stored is None or (stored.owner_id != viewer_id and not is_admin):
            raise NotFound("File not found")
        return stored


async def upload_policy(session: AsyncSession) -> UploadPolicy:
    """What an upload may be now: platform settings content.maxFileSize, allowedFileTypes."""
    content = (await get_platform_settings(session)).content
    return UploadPolicy(
        max_size=content.max_file_size, allowed_types=frozenset(content.allowed_file_types)
    )


@asynccontextmanager
async def accepted_upload(
    session: AsyncSession,
    storage: Storage,
    owner_id: uuid.UUID,
    data: AsyncIterator[bytes],
    filename: str | None,
) -> AsyncIterator[StoredFile]:
    """A file that a page's form carried (already received with the form), stored and
    recorded as `owner_id`'s under the upload policy, for the block to use. If the block
    raises, the blob is deleted (the row goes with the request's rollback). Refusals are
    those of `POST /v1/files`: ValidationFailed on field `file`, FileTooLarge (413)."""
    upload = await store_file(data, filename, storage=storage, policy=await upload_policy(session))
    try:
        yield await FileService(session).record(owner_id, upload)
    except BaseException:
        await discard(storage, upload.key)
        raise


def file_id_from_url(url: str, *, base_url: str) -> uuid.UUID | None:
    """The file id in one of our file URLs, else None.

    Accepted: ``{base_url}/v1/files/{id}`` and ``{base_url}/v1/files/{id}/content``, absolute
    on the same origin as `base_url` or as a path; the query and fragment (an old signature)
    are ignored.
    """
    try:
        parts = urlsplit(url.strip())
        base = urlsplit(base_url)
    except ValueError:
        return None
    if (parts.scheme or parts.netloc) and (
        parts.scheme.lower() != base.scheme.lower() or parts.netloc.lower() != base.netloc.lower()
    ):
        return None
    prefix = f"{base.path.rstrip('/')}{FILES_PATH}/"
    if not parts.path.startswith(prefix):
        return None
    rest = parts.path.removeprefix(prefix).removesuffix(_CONTENT_SUFFIX)
    return uuid.UUID(rest) if _UUID.fullmatch(rest) else None


async def resolve_owned_files(
    session: AsyncSession,
    urls: list[str],
    owner_id: uuid.UUID,
    *,
    base_url: str,
    field: str = "fileUrls",
) -> list[StoredFile]:
    """The files `urls` name, in the same order, provided every one is a URL of a file
    `owner_id` uploaded here (one query for the whole list).

    Otherwise ValidationFailed (422), whose details list each offending entry as
    ``{field: "<field>[i]", message, type}``; type is ``foreign_url`` for a URL that is not
    one of ours, ``not_your_file`` for a file that does not exist or is someone else's (the
    same answer, so ids cannot be probed).
    """
    ids = [file_id_from_url(url, base_url=base_url) for url in urls]
    found = await FileRepository(session).by_ids([i for i in ids if i is not None])
    errors: list[dict[str, str]] = []
    files: list[StoredFile] = []
    for index, file_id in enumerate(ids):
        stored = found.get(file_id) if file_id is not None else None
        if file_id is None:
            errors.append(
                {
                    "field": f"{field}[{index}]",
                    "message": "Not a file URL of this platform; upload the file to /v1/files",
                    "type": "foreign_url",
                }
            )
        elif stored is None or stored.owner_id != owner_id:
            errors.append(
                {
                    "field": f"{field}[{index}]",
                    "message": "Not a file you uploaded",
                    "type": "not_your_file",
                }
            )
        else:
            files.append(stored)
    if errors:
        raise ValidationFailed("Use only files you uploaded", details={"errors": errors})
    return files


async def file_hashes(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The SHA-256 (hex) of each file among `ids` that exists (one query)."""
    return await FileRepository(session).hashes(ids)


async def stored_files(
    session: AsyncSession, ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, StoredFile]:
    """The files among `ids` that exist, by id (one query)."""
    return await FileRepository(session).by_ids(ids)


async def read_bytes(storage: Storage, stored: StoredFile) -> bytes:
    """The whole content of a stored file, for the few that are read in memory (images)."""
    return b"".join([chunk async for chunk in storage.read(stored.storage_key)])


async def store_derived(
    session: AsyncSession,
    storage: Storage,
    *,
    owner_id: uuid.UUID,
    data: bytes,
    content_type: str,
    filename: str | None,
) -> StoredFile:
    """A file the server made from another (a signed copy of an image), stored and recorded
    as `owner_id`'s. Not subject to the upload policy: its source already passed it."""
    key = new_key()

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await storage.save(key, chunks())
    try:
        return await FileService(session).record(
            owner_id,
            ReceivedUpload(
                key=key,
                content_type=content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                filename=filename,
            ),
        )
    except BaseException:
        await discard(storage, key)
        raise
