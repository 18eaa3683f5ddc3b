"""The authorization chain: each record is one license authorising one subject.

A product's record links (product, the licensed asset, the license) to the record of that
asset's own derivation, and so on up to an original asset. Derivation records have no
product and no verification code.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Base, IdMixin


class AuthorizationChain(IdMixin, Base):
    __tablename__ = "authorization_chain"
    __table_args__ = (
        Index("idx_authorization_chain_product", "product_id"),
        Index("idx_authorization_chain_license", "license_id"),
        Index("idx_authorization_chain_parent", "parent_chain_id"),
        # One derivation record per derived asset.
        Index(
            "uq_authorization_chain_derivation",
            "derived_asset_id",
            unique=True,
            postgresql_where="derived_asset_id IS NOT NULL",
        ),
    )

    product_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("products.id"))
    # For a derivation record: the derivative asset this license authorised.
    derived_asset_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ip_assets.id"))
    ip_asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ip_assets.id"))
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("license_applications.id"))
    parent_chain_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("authorization_chain.id"))
    blockchain_hash: Mapped[str | None] = mapped_column(String(66))
    verification_code: Mapped[str | None] = mapped_column(String(32), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
