"""Every row lock the provenance module takes (order and kind: `ipmarket.kit.locks`)."""

from __future__ import annotations

import uuid
from collections.abc import Set

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.locks import for_no_key_update
from ipmarket.provenance.models import AuthorizationChain


async def lock_active_records_of(session: AsyncSession, license_ids: Set[uuid.UUID]) -> None:
    """The active chain records resting on any of `license_ids`, in primary-key order, so
    that overlapping cascades never deadlock."""
    await session.execute(
        for_no_key_update(
            select(AuthorizationChain.id)
            .where(
                AuthorizationChain.license_id.in_(license_ids),
                AuthorizationChain.is_active.is_(True),
            )
            .order_by(AuthorizationChain.id)
        )
    )
