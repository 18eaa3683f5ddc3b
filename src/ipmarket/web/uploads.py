"""Forms that carry files: their router, and the bytes of the files they carried.

An upload form's POST path gets the upload body limit (app.py, `UPLOAD_FORM_PATHS`), so its
body may be large and slow. Its router therefore checks the visitor first, then ends the
transaction that check opened (no pooled connection waits idle while the body arrives, as
on POST /v1/files), and only then lets the CSRF check read the body: a stranger's upload is
refused unread. The page's own work runs in a second transaction, committed when it returns.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends
from starlette.datastructures import UploadFile

from ipmarket.kit.db import commit
from ipmarket.kit.deps import DbSession
from ipmarket.web.csrf import check_csrf
from ipmarket.web.session import SignedIn, current_visitor

_CHUNK = 64 * 1024


async def end_transaction_before_body(session: DbSession) -> None:
    await commit(session)


def upload_form_router(signed_in: SignedIn) -> APIRouter:
    """A router for upload forms, open to the users `signed_in` admits."""
    return APIRouter(
        include_in_schema=False,
        dependencies=[
            Depends(current_visitor),
            Depends(signed_in),
            Depends(end_transaction_before_body),
            Depends(check_csrf),
        ],
    )


async def file_bytes(upload: UploadFile) -> AsyncIterator[bytes]:
    """The bytes of a file the form carried (held by the form parser), in chunks."""
    await upload.seek(0)
    while chunk := await upload.read(_CHUNK):
        yield chunk
