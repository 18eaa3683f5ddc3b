"""IP asset and license terms API models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from ipmarket.content_credentials import Credentials, describe
from ipmarket.kit.schemas import JsonObject, PatchSchema, ReadSchema, Schema

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=20_000)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ContentType = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
FileUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
LongText = Annotated[str, StringConstraints(max_length=10_000)]
Metadata = JsonObject


class IPAssetCreate(Schema):
    title: Title
    description: Description
    category: Category
    content_type: ContentType
    file_urls: list[FileUrl] = Field(default_factory=list, max_length=20)
    metadata: Metadata = Field(default_factory=dict)
    parent_license_id: uuid.UUID | None = None


class IPAssetUpdate(PatchSchema):
    title: Title | None = None
    description: Description | None = None
    category: Category | None = None
    content_type: ContentType | None = None
    file_urls: list[FileUrl] | None = Field(default=None, max_length=20)
    metadata: Metadata | None = None


class ContentCredentialsRead(ReadSchema):
    """The C2PA credentials an uploaded image carries: who made it, with what, and whether
    they check out (`validation`: trusted, valid, or invalid when the image or its manifest
    was changed after signing)."""

    file_url: str
    validation: str
    author: str | None
    tool: str | None
    signer: str | None
    summary: str

    @classmethod
    def of(cls, file_url: str, credentials: Credentials) -> ContentCredentialsRead:
        return cls(
            file_url=file_url,
            validation=credentials.validation.value,
            author=credentials.author,
            tool=credentials.tool,
            signer=credentials.signer,
            summary=describe(credentials),
        )


class IPAssetRead(ReadSchema):
    """Seed `IPAsset`, plus the derivation link and review details."""

    id: uuid.UUID
    creator_id: uuid.UUID
    title: str
    description: str
    category: str
    content_type: str
    file_urls: list[str]
    # One entry per image that carries content credentials (C2PA); images without: none.
    content_credentials: list[ContentCredentialsRead] = Field(default_factory=list)
    metadata: dict[str, Any]
    verification_status: str
    blockchain_hash: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    parent_license_id: uuid.UUID | None
    content_hash: str
    submitted_at: datetime | None
    rejection_reason: str | None


class ReviewDecision(Schema):
    decision: Literal["approved", "rejected"]
    reason: Reason | None = None
