"""What content credentials keep: the signed copies of product images, and what the
credentials an uploaded image carried said."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Base, IdMixin


class SignedImage(IdMixin, Base):
    """A product image's signed copy. The original file stays as it was (the seller edits
    with it); pages serve the copy. No copy (`signed_file_id` null) records a signature that
    failed, with why, so the job does not retry it at every run."""

    __tablename__ = "signed_images"
    __table_args__ = (UniqueConstraint("product_id", "original_file_id"),)

    # The product's id (the products module is above this one: no ORM link to it).
    product_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    original_file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("files.id"))
    signed_file_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("files.id"))
    problem: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class ImageCredentials(Base):
    """What the C2PA manifest of an uploaded image said, read once. `validation` null: the
    image carried no credentials."""

    __tablename__ = "image_credentials"

    file_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("files.id"), primary_key=True)
    validation: Mapped[str | None] = mapped_column(String(20))
    author: Mapped[str | None] = mapped_column(Text)
    tool: Mapped[str | None] = mapped_column(Text)
    signer: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
