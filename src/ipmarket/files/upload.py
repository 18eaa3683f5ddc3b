"""Receiving one upload: multipart field `file`, streamed to storage in a single pass.

The type is sniffed from the first bytes before anything is written; the size and SHA-256
are computed while the bytes go to storage, and the upload is refused the moment it grows
past the limit. Whatever the refusal, nothing is left in storage.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio

from ipmarket.files.multipart import MultipartReader
from ipmarket.files.sniff import SNIFF_LENGTH, sniff
from ipmarket.files.storage import Storage, new_key
from ipmarket.kit.errors import ValidationFailed

FIELD = "file"
_MAX_FILENAME = 255


@dataclass(frozen=True)
class UploadPolicy:
    """What an upload may be (platform settings content.maxFileSize, allowedFileTypes)."""

    max_size: int
    allowed_types: frozenset[str]


@dataclass(frozen=True)
class ReceivedUpload:
    key: str
    content_type: str
    size: int
    sha256: str
    filename: str | None


class FileTooLarge(ValidationFailed):
    """The file is larger than the platform allows: 413, as for a body over the limit."""

    status_code = 413


def _refusal(message: str, kind: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(
        message,
        details={"errors": [{"field": FIELD, "message": message, "type": kind}], **details},
    )


def too_large(max_size: int) -> FileTooLarge:
    message = f"The file is larger than {max_size} bytes"
    return FileTooLarge(
        message,
        details={
            "errors": [{"field": FIELD, "message": message, "type": "too_large"}],
            "maxFileSize": max_size,
        },
    )


async def receive_upload(
    body: AsyncIterator[bytes],
    content_type: str | None,
    *,
    storage: Storage,
    policy: UploadPolicy,
) -> ReceivedUpload:
    """Store the one file of a multipart body (field `file`) and describe it.

    Raises ValidationFailed (422) for a missing, empty, unrecognised or disallowed file or an
    unexpected field, FileTooLarge (413) above `policy.max_size`, MalformedBody (400) for a
    body that is not multipart/form-data.
    """
    reader = MultipartReader(body, content_type)
    part = await reader.next_part()
    if part is None:
        raise _refusal("Field required", "missing")
    if part.name != FIELD:
        raise _refusal(
            f"Unexpected field {part.name!r}; send only the file, as field {FIELD!r}",
            "extra_forbidden",
        )
    if part.filename is None:
        raise _refusal("Expected a file upload (a part with a filename)", "not_a_file")

    stored = await store_file(reader.part_data(), part.filename, storage=storage, policy=policy)
    try:
        # The file must be the only part, and the body must be complete.
        extra = await reader.next_part()
    except BaseException:
        await discard(storage, stored.key)
        raise
    if extra is not None:
        await discard(storage, stored.key)
        raise _refusal(
            f"Unexpected field {extra.name!r} after the file; send only the file",
            "extra_forbidden",
        )
    return stored


async def store_file(
    data: AsyncIterator[bytes], filename: str | None, *, storage: Storage, policy: UploadPolicy
) -> ReceivedUpload:
    """Store one file's bytes (a multipart part, or a file a page's form carried) and
    describe it: its type sniffed from the first bytes before anything is written, its size
    and SHA-256 computed on the way to storage. Raises as `receive_upload` does for the
    file itself; whatever the refusal, nothing is left in storage."""
    head = await _read_head(data, SNIFF_LENGTH)
    if not head:
        raise _refusal("The file is empty", "empty")
    detected = sniff(head)
    if detected is None:
        raise _refusal("The file's content is not a recognised type", "unrecognised_type")
    if detected not in policy.allowed_types:
        raise _refusal(
            f"Files of type {detected} are not accepted",
            "type_not_allowed",
            contentType=detected,
            allowedFileTypes=sorted(policy.allowed_types),
        )

    digest = hashlib.sha256()

    async def verified() -> AsyncIterator[bytes]:
        size = len(head)
        if size > policy.max_size:
            raise too_large(policy.max_size)
        digest.update(head)
        yield head
        async for chunk in data:
            size += len(chunk)
            if size > policy.max_size:
                raise too_large(policy.max_size)
            digest.update(chunk)
            yield chunk

    key = new_key()
    size = await storage.save(key, verified())
    return ReceivedUpload(
        key=key,
        content_type=detected,
        size=size,
        sha256=digest.hexdigest(),
        filename=clean_filename(filename),
    )


async def discard(storage: Storage, key: str) -> None:
    """Delete a blob whose upload did not complete, even while being cancelled."""
    with anyio.CancelScope(shield=True):
        await storage.delete(key)


async def _read_head(data: AsyncIterator[bytes], length: int) -> bytes:
    """At least `length` bytes from the start of `data` (fewer only at its end)."""
    head = bytearray()
    while len(head) < length:
        chunk = await anext(data, None)
        if chunk is None:
            break
        head += chunk
    return bytes(head)


def clean_filename(filename: str | None) -> str | None:
    """The client's file name as a label only: its last path segment, without control
    characters, at most 255 characters; None when nothing is left."""
    if filename is None:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:_MAX_FILENAME] or None
