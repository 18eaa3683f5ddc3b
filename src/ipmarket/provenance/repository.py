"""All SQL of the authorization chain: derivation and product records, deactivation."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.ids import new_id
from ipmarket.provenance.locks import lock_active_records_of
from ipmarket.provenance.models import AuthorizationChain


def new_verification_code() -> str:
    """32 hex characters: 128 bits from the CSPRNG."""
    return secrets.token_hex(16)


async def _derivation_of(session: AsyncSession, asset_id: uuid.UUID) -> AuthorizationChain | None:
    return (
        await session.execute(
            select(AuthorizationChain).where(AuthorizationChain.derived_asset_id == asset_id)
        )
    ).scalar_one_or_none()


async def record_derivation(
    session: AsyncSession,
    *,
    derived_asset_id: uuid.UUID,
    parent_asset_id: uuid.UUID,
    license_id: uuid.UUID,
) -> AuthorizationChain:
    """Record that `license_id` (on `parent_asset_id`) authorised the derivative asset."""
    existing = await _derivation_of(session, derived_asset_id)
    if existing is not None:
        existing.is_active = True
        return existing
    parent = await _derivation_of(session, parent_asset_id)
    record = AuthorizationChain(
        id=new_id(),
        derived_asset_id=derived_asset_id,
        ip_asset_id=parent_asset_id,
        license_id=license_id,
        parent_chain_id=parent.id if parent else None,
        is_active=True,
    )
    session.add(record)
    await session.flush()
    return record


async def record_product(
    session: AsyncSession, *, product_id: uuid.UUID, asset_id: uuid.UUID, license_id: uuid.UUID
) -> AuthorizationChain:
    """The chain record of a published product, with its verification code. Publishing the
    same product again returns its existing record."""
    existing = (
        await session.execute(
            select(AuthorizationChain).where(AuthorizationChain.product_id == product_id)
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    parent = await _derivation_of(session, asset_id)
    record = AuthorizationChain(
        id=new_id(),
        product_id=product_id,
        ip_asset_id=asset_id,
        license_id=license_id,
        parent_chain_id=parent.id if parent else None,
        verification_code=new_verification_code(),
        is_active=True,
    )
    session.add(record)
    await session.flush()
    return record


async def deactivate(session: AsyncSession, license_ids: Iterable[uuid.UUID]) -> None:
    """Mark every record that rests on one of `license_ids` inactive."""
    ids = set(license_ids)
    if ids:
        await lock_active_records_of(session, ids)
        await session.execute(
            update(AuthorizationChain)
            .where(AuthorizationChain.license_id.in_(ids), AuthorizationChain.is_active.is_(True))
            .values(is_active=False)
        )


async def codes_of(session: AsyncSession, product_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    ids = set(product_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(AuthorizationChain.product_id, AuthorizationChain.verification_code).where(
            AuthorizationChain.product_id.in_(ids)
        )
    )
    return {r.product_id: r.verification_code for r in rows if r.product_id and r.verification_code}


async def set_blockchain_hash(
    session: AsyncSession,
    tx_hash: str,
    *,
    record_ids: Iterable[uuid.UUID] = (),
    license_id: uuid.UUID | None = None,
) -> None:
    """The transaction that recorded these records on chain: product records by id, and
    the derivation records (no product) authorised by `license_id`."""
    ids = list(record_ids)
    if ids:
        await session.execute(
            update(AuthorizationChain)
            .where(AuthorizationChain.id.in_(ids))
            .values(blockchain_hash=tx_hash)
            .execution_options(synchronize_session=False)
        )
    if license_id is not None:
        await session.execute(
            update(AuthorizationChain)
            .where(
                AuthorizationChain.license_id == license_id,
                AuthorizationChain.product_id.is_(None),
            )
            .values(blockchain_hash=tx_hash)
            .execution_options(synchronize_session=False)
        )
