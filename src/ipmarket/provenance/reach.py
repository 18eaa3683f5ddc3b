"""What rests on a license: everything its revocation (or expiry) takes down with it.

A read model over licensing's, IP assets' and products' tables, in one query whatever the
depth, that follows the same links as the cascade (`licensing.withdraw_authorization`, the
derivative suspension of `ip_assets` and the products' hook): the derivative assets made
under the license, the licenses granted on those, and so on down; then the products made
under any of those licenses. A licensor sees it before confirming a revocation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_REACH = text(
    """
    WITH RECURSIVE reach AS (
        SELECT CAST(:license_id AS uuid) AS license_id, 0 AS depth
        UNION
        SELECT la.id, reach.depth + 1
        FROM reach
        JOIN ip_assets a ON a.parent_license_id = reach.license_id AND a.status <> 'deleted'
        JOIN license_applications la ON la.ip_asset_id = a.id AND la.status = 'approved'
        WHERE reach.depth < 64
    )
    SELECT 'asset' AS kind, a.id, a.title, u.username AS holder, reach.depth
    FROM reach
    JOIN ip_assets a ON a.parent_license_id = reach.license_id AND a.status = 'active'
    JOIN users u ON u.id = a.creator_id
    UNION ALL
    SELECT 'license', la.id, a.title, u.username, reach.depth
    FROM reach
    JOIN license_applications la ON la.id = reach.license_id
    JOIN ip_assets a ON a.id = la.ip_asset_id
    JOIN users u ON u.id = la.applicant_id
    WHERE reach.depth > 0
    UNION ALL
    SELECT 'product', p.id, p.title, u.username, reach.depth
    FROM reach
    JOIN products p ON p.license_id = reach.license_id
        AND p.deleted_at IS NULL AND p.status <> 'suspended'
    JOIN users u ON u.id = p.creator_id
    ORDER BY depth, kind, title, id
    """
)


@dataclass(frozen=True)
class Dependent:
    """One thing that rests on the license: a derivative asset, a license (titled by its
    asset) or a product, with the user who holds it and how many licenses down it is."""

    id: uuid.UUID
    title: str
    holder: str
    depth: int


@dataclass(frozen=True)
class Reach:
    """What a revocation of the license would suspend, beyond the license itself."""

    assets: list[Dependent] = field(default_factory=list)
    licenses: list[Dependent] = field(default_factory=list)
    products: list[Dependent] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.assets or self.licenses or self.products)


async def resting_on(session: AsyncSession, license_id: uuid.UUID) -> Reach:
    """The active derivative assets, the approved licenses on them and the products not yet
    suspended that revoking `license_id` would take down (one query)."""
    reach = Reach()
    kinds = {"asset": reach.assets, "license": reach.licenses, "product": reach.products}
    for row in (await session.execute(_REACH, {"license_id": license_id})).all():
        kinds[row.kind].append(
            Dependent(id=row.id, title=row.title, holder=row.holder, depth=row.depth)
        )
    return reach
