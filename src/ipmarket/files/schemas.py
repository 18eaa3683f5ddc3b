"""Files API models (camelCase on the wire)."""

from __future__ import annotations

import uuid

from pydantic import Field

from ipmarket.kit.schemas import ReadSchema


class FileRead(ReadSchema):
    id: uuid.UUID
    url: str = Field(
        description="Signed URL that serves the file's bytes until it expires (one hour by "
        "default); ask GET /v1/files/{id} for a fresh one. IP assets and products accept it."
    )
    content_type: str = Field(description="MIME type decided from the file's bytes")
    size: int = Field(description="Size in bytes")
    sha256: str = Field(description="SHA-256 of the bytes, hex")
