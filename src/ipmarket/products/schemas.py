"""Product API models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from ipmarket.kit.money import Amount, PositiveAmount
from ipmarket.kit.schemas import JsonObject, PatchSchema, ReadSchema, Schema

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Description = Annotated[str, StringConstraints(max_length=20_000)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ImageUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
# Units on sale now. Units held by pending purchases are not counted: they come back when
# such a purchase fails or its reservation expires, so a seller setting the count sets what
# is free to buy, not the total they hold.
Inventory = Annotated[
    int,
    Field(
        ge=0,
        le=10_000_000,
        description=(
            "Units free to buy now. Units held by pending purchases are not counted; they "
            "return to this count if the purchase fails or its reservation expires."
        ),
    ),
]

Specifications = JsonObject


class ProductCreate(Schema):
    license_id: uuid.UUID
    title: Title
    description: Description
    category: Category
    price: PositiveAmount
    inventory_count: Inventory
    images: list[ImageUrl] = Field(default_factory=list, max_length=20)
    specifications: Specifications = Field(default_factory=dict)


class ProductUpdate(PatchSchema):
    title: Title | None = None
    description: Description | None = None
    category: Category | None = None
    price: PositiveAmount | None = None
    inventory_count: Inventory | None = None
    images: list[ImageUrl] | None = Field(default=None, max_length=20)
    specifications: Specifications | None = None
    # draft <-> active; sold_out and suspended are set by the platform.
    status: Literal["draft", "active"] | None = None


class ProductRead(ReadSchema):
    """Seed `Products`, with the licensed asset and, for its owner, the verification code."""

    id: uuid.UUID
    creator_id: uuid.UUID
    license_id: uuid.UUID
    ip_asset_id: uuid.UUID
    title: str
    description: str
    category: str
    price: Amount
    currency: str
    inventory_count: int
    images: list[str]
    specifications: dict[str, Any]
    status: str
    authenticity_verified: bool
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    verification_code: str | None = None
