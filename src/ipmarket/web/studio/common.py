"""What every studio page shares: who may use it, the services it calls, uploaded files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile

from ipmarket.config import Settings
from ipmarket.files import Storage, get_storage
from ipmarket.identity import Permission, Principal
from ipmarket.ip_assets import IPAssetService
from ipmarket.kit.db import commit
from ipmarket.kit.deps import DbSession
from ipmarket.web.session import SignedIn

# The studio is the original creator's: registering IP and deciding on its licenses.
CREATOR = SignedIn(Permission.CREATE_IP, Permission.MANAGE_LICENSES)
Creator = Annotated[Principal, Depends(CREATOR)]
FileStorage = Annotated[Storage, Depends(get_storage)]

# The multipart field of the files a form carries, as on POST /v1/files.
FILE_FIELD = "file"
_CHUNK = 64 * 1024


def asset_service(session: AsyncSession, settings: Settings) -> IPAssetService:
    return IPAssetService(session, base_url=settings.public_base_url)


async def end_transaction_before_body(session: DbSession) -> None:
    """An upload form's body may take minutes to arrive: end the transaction the visitor's
    check opened first, so no pooled connection waits idle in it (as POST /v1/files does).
    The page's own work runs in a second transaction, committed when it returns."""
    await commit(session)


def chosen_files(form: FormData) -> list[UploadFile]:
    """The files the form carried; a file box left empty sends a part with no file name."""
    return [
        value
        for value in form.getlist(FILE_FIELD)
        if isinstance(value, UploadFile) and value.filename
    ]


async def file_bytes(upload: UploadFile) -> AsyncIterator[bytes]:
    """The bytes of a file the form carried (held by the form parser), in chunks."""
    await upload.seek(0)
    while chunk := await upload.read(_CHUNK):
        yield chunk
