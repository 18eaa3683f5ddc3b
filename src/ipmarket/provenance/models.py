"""The authorization chain: each record is one license authorising one subject.

A product's record links (product, the licensed asset, the license) to the record of that
asset's own derivation, and so on up to an original asset. Derivation records have no
product and no verification code.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
)
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


class Unit(IdMixin, Base):
    """One item sold: its own code (printed on the item or its tag as a QR code), the order
    and line it was sold in, and the chain record of the product it is a unit of.

    Created once per item when a purchase completes; a refund keeps the row (the code may
    be printed already) and the answer says the sale was refunded, read from the order.
    """

    __tablename__ = "units"
    __table_args__ = (
        # One unit per item of an order: a redelivered purchase event makes no new one.
        UniqueConstraint("order_id", "serial", name="uq_units_order_serial"),
        CheckConstraint("serial >= 1", name="serial_positive"),
        CheckConstraint("scan_count >= 0", name="scan_count_not_negative"),
        Index("idx_units_product", "product_id"),
    )

    code: Mapped[str] = mapped_column(String(40), unique=True)
    # The order (a `transactions` row). No foreign key: that table is partitioned and its
    # key includes `created_at`; payments never deletes an order.
    order_id: Mapped[uuid.UUID]
    serial: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"))
    chain_record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("authorization_chain.id"))
    # Every scan, counted even when its client is no longer tracked (see units.TRACKED_CLIENTS).
    scan_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class UnitScan(IdMixin, Base):
    """Who scanned a unit, as a keyed hash of the client (never its address), and where if
    they said: one row per (unit, client, place), however often they scan."""

    __tablename__ = "unit_scans"
    __table_args__ = (
        UniqueConstraint(
            "unit_id",
            "client_hash",
            "place",
            name="uq_unit_scans_client_place",
            postgresql_nulls_not_distinct=True,
        ),
    )

    unit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("units.id"))
    client_hash: Mapped[str] = mapped_column(String(64))
    place: Mapped[str | None] = mapped_column(String(64))
    scans: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    first_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    last_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
