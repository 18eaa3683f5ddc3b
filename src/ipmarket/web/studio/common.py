"""What every studio page shares: who may use it, the services it calls, uploaded files."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile

from ipmarket.config import Settings
from ipmarket.files import Storage, get_storage
from ipmarket.identity import Permission, Principal
from ipmarket.ip_assets import IPAssetService
from ipmarket.web.session import SignedIn

# The studio is the original creator's: registering IP and deciding on its licenses.
CREATOR = SignedIn(Permission.CREATE_IP, Permission.MANAGE_LICENSES)
Creator = Annotated[Principal, Depends(CREATOR)]
FileStorage = Annotated[Storage, Depends(get_storage)]

# The multipart field of the files a form carries, as on POST /v1/files.
FILE_FIELD = "file"


def asset_service(session: AsyncSession, settings: Settings) -> IPAssetService:
    return IPAssetService(session, base_url=settings.public_base_url)


def chosen_files(form: FormData) -> list[UploadFile]:
    """The files the form carried; a file box left empty sends a part with no file name."""
    return [
        value
        for value in form.getlist(FILE_FIELD)
        if isinstance(value, UploadFile) and value.filename
    ]
