"""HTTP routes: POST /v1/files, GET /v1/files/{id}, GET /v1/files/{id}/content (signed)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.security import APIKeyQuery
from starlette.requests import ClientDisconnect

from ipmarket.config import Settings
from ipmarket.files.deps import FileStorage
from ipmarket.files.models import StoredFile
from ipmarket.files.multipart import MalformedBody
from ipmarket.files.schemas import FileRead
from ipmarket.files.service import FileService, upload_policy
from ipmarket.files.signing import InvalidSignature, signed_url, verify_signature
from ipmarket.files.upload import FIELD, discard, receive_upload, too_large
from ipmarket.identity import (
    AppSettings,
    Authorize,
    CurrentPrincipal,
    Permission,
    Principal,
    UserType,
)
from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import commit
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, ok
from ipmarket.kit.errors import Forbidden, NotFound

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/files", tags=["files"])

# Room for the multipart framing around the file (boundaries, part headers) when a declared
# Content-Length is compared with the largest file allowed.
_MULTIPART_OVERHEAD = 64 * 1024

Uploader = Annotated[
    Principal,
    Depends(Authorize(Permission.CREATE_IP, Permission.APPLY_LICENSE, Permission.CREATE_PRODUCTS)),
]

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        FIELD: {
                            "type": "string",
                            "format": "binary",
                            "contentMediaType": "application/octet-stream",
                            "description": "The file. Its type is decided from its bytes.",
                        }
                    },
                    "required": [FIELD],
                    "additionalProperties": False,
                }
            }
        },
    }
}

_UPLOAD_ERRORS = error_responses(400, 401, 403, 413, 422, 429, 500)
_UPLOAD_ERRORS[400]["description"] = "The body is not multipart/form-data"
_UPLOAD_ERRORS[413]["description"] = (
    "The file is larger than settings.content.maxFileSize, or the body larger than MAX_UPLOAD_BYTES"
)
_UPLOAD_ERRORS[422]["description"] = (
    "No `file` field, another field, an empty file, or content that is not a recognised "
    "type in settings.content.allowedFileTypes"
)

# The signature in the query is what authorises a content request: declared as a security
# scheme so that clients and the OpenAPI document know the route is not open.
_url_signature = APIKeyQuery(
    name="signature",
    scheme_name="SignedFileUrl",
    description="HMAC-SHA256 of the file id and `expires`, hex, as given in a file's `url`",
    auto_error=False,
)

_CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes, with the type decided at upload",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    },
    **error_responses(403, 404, 422, 429, 500),
}
_CONTENT_RESPONSES[403]["description"] = "The signature is missing, wrong or expired"


def file_read(stored: StoredFile, settings: Settings) -> FileRead:
    return FileRead(
        id=stored.id,
        url=signed_url(stored.id, settings=settings, now=utcnow()),
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=_UPLOAD_ERRORS,
    openapi_extra=_UPLOAD_BODY,
    summary="Upload a file (multipart field `file`) for IP assets and products",
    description=(
        "The type is decided from the file's bytes, never its name, and must be one of "
        "settings.content.allowedFileTypes; the size at most settings.content.maxFileSize "
        "(413 above it). Returns a signed URL to use in IP assets and products."
    ),
)
async def upload_file(
    request: Request,
    principal: Uploader,
    session: DbSession,
    settings: AppSettings,
    storage: FileStorage,
) -> APIResponse[FileRead]:
    policy = await upload_policy(session)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_size + _MULTIPART_OVERHEAD:
        # Refused before reading: a client that sent Expect: 100-continue sends nothing.
        raise too_large(policy.max_size)
    # The body may take minutes to arrive: end the transaction first, so no pooled
    # connection waits idle in it. The row is written in a second, short one.
    await commit(session)
    try:
        upload = await receive_upload(
            request.stream(), request.headers.get("content-type"), storage=storage, policy=policy
        )
    except ClientDisconnect:
        # Nobody is left to answer; nothing was stored. Not a server error.
        log.info("file_upload_abandoned", user_id=str(principal.id))
        raise MalformedBody("The upload was interrupted") from None
    try:
        stored = await FileService(session).record(principal.id, upload)
        await commit(session)
    except BaseException:
        await discard(storage, upload.key)
        raise
    log.info(
        "file_uploaded",
        file_id=str(stored.id),
        content_type=stored.content_type,
        size=stored.size,
    )
    return ok(file_read(stored, settings))


@router.get(
    "/{file_id}",
    responses=error_responses(401, 403, 404, 422, 429, 500),
    summary="A file's details and a fresh signed URL (its uploader or an administrator)",
)
async def get_file(
    file_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession, settings: AppSettings
) -> APIResponse[FileRead]:
    stored = await FileService(session).visible_to(
        file_id, viewer_id=principal.id, is_admin=principal.user.user_type == UserType.ADMIN
    )
    return ok(file_read(stored, settings))


@router.get(
    "/{file_id}/content",
    response_class=Response,
    responses=_CONTENT_RESPONSES,
    summary="The bytes of a file, through a signed URL (no login)",
    description=(
        "Served with the stored Content-Type, `X-Content-Type-Options: nosniff` and "
        "`Cache-Control: private` until the URL expires. Byte ranges are supported."
    ),
)
async def file_content(
    file_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    storage: FileStorage,
    signature: Annotated[str | None, Depends(_url_signature)],
    expires: Annotated[
        str | None, Query(description="Unix time the URL expires, as signed")
    ] = None,
) -> Response:
    now = utcnow()
    try:
        expires_at = verify_signature(file_id, expires, signature, settings=settings, now=now)
    except InvalidSignature as exc:
        raise Forbidden(
            "The file URL is invalid or has expired; ask for a fresh one",
            details={"reason": "invalid_or_expired_signature"},
        ) from exc
    stored = await FileService(session).get(file_id)
    headers = {
        "Cache-Control": f"private, max-age={max(0, expires_at - int(now.timestamp()))}",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline",
        # The content of a file id never changes.
        "ETag": f'"{stored.sha256}"',
    }
    path = storage.local_path(stored.storage_key)
    if path is not None:
        if not await storage.exists(stored.storage_key):
            log.error("file_blob_missing", file_id=str(stored.id))
            raise NotFound("File not found")
        return FileResponse(path, media_type=stored.content_type, headers=headers)
    return StreamingResponse(
        storage.read(stored.storage_key),
        media_type=stored.content_type,
        headers={**headers, "Content-Length": str(stored.size)},
    )
