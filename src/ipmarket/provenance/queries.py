"""Verification: walk a product's authorization chain up to the original asset.

A read model over several modules' tables (products, licenses, assets, users), in two
queries whatever the chain's depth. It reveals usernames and titles, nothing private.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.clock import utcnow
from ipmarket.provenance.cache import answer_key, cached_answer, current_epoch, store_answer
from ipmarket.provenance.evidence import history, with_evidence

_PRODUCT = text(
    """
    SELECT ac.id AS chain_id, p.id, p.title, p.status, p.deleted_at, u.username AS seller
    FROM authorization_chain ac
    JOIN products p ON p.id = ac.product_id
    JOIN users u ON u.id = p.creator_id
    WHERE (CAST(:code AS varchar) IS NOT NULL AND ac.verification_code = :code)
       OR (CAST(:product_id AS uuid) IS NOT NULL AND ac.product_id = :product_id)
    """
)

_CHAIN = text(
    """
    WITH RECURSIVE chain AS (
        SELECT id, parent_chain_id, license_id, ip_asset_id, is_active, 0 AS depth
        FROM authorization_chain WHERE id = :chain_id
        UNION ALL
        SELECT parent.id, parent.parent_chain_id, parent.license_id, parent.ip_asset_id,
               parent.is_active, chain.depth + 1
        FROM authorization_chain parent JOIN chain ON parent.id = chain.parent_chain_id
        WHERE chain.depth < 64
    )
    SELECT chain.depth, chain.is_active,
           la.id AS license_id, la.status AS license_status, la.expires_at,
           COALESCE(la.terms_snapshot ->> 'licenseType', lt.license_type) AS license_type,
           COALESCE(la.terms_snapshot ->> 'territory', lt.territory) AS territory,
           a.id AS asset_id, a.title AS asset_title, a.status AS asset_status,
           a.verification_status, creator.username AS creator
    FROM chain
    JOIN license_applications la ON la.id = chain.license_id
    JOIN license_terms lt ON lt.id = la.license_terms_id
    JOIN ip_assets a ON a.id = chain.ip_asset_id
    JOIN users creator ON creator.id = a.creator_id
    ORDER BY chain.depth
    """
)

LISTED_STATUSES = ("active", "sold_out")


@dataclass(frozen=True)
class NotPublished:
    """No chain record: the code is unknown, or the product was never put on sale."""


# How long an answer with evidence is served from the cache: its proofs stay valid forever
# (the log only grows), but a newer checkpoint or a new anchor should show within a minute.
EVIDENCE_TTL = timedelta(seconds=60)


async def verify(
    session: AsyncSession,
    *,
    code: str | None = None,
    product_id: uuid.UUID | None = None,
    evidence: bool = False,
) -> dict[str, Any] | None:
    """The public verification answer, or None when there is nothing to verify; with
    `evidence`, with what a stranger needs to check it offline (provenance.evidence)."""
    key = answer_key(code=code, product_id=product_id, evidence=evidence)
    cached = await cached_answer(key)
    if cached is not None:
        return cached
    try:
        epoch: str | None = await current_epoch()  # read before the database: see cache
    except Exception:
        epoch = None
    now = utcnow()
    product = (
        await session.execute(_PRODUCT, {"code": code, "product_id": product_id})
    ).one_or_none()
    if product is None:
        return None
    rows = (await session.execute(_CHAIN, {"chain_id": product.chain_id})).all()
    reasons: list[str] = []
    if product.deleted_at is not None:
        reasons.append("the product was withdrawn by its seller")
    elif product.status not in LISTED_STATUSES:
        reasons.append(f"the product is {product.status}")
    chain: list[dict[str, Any]] = []
    earliest_expiry: datetime | None = None
    for row in rows:
        expired = row.expires_at is not None and row.expires_at <= now
        if row.expires_at is not None and (
            earliest_expiry is None or row.expires_at < earliest_expiry
        ):
            earliest_expiry = row.expires_at
        status = "expired" if row.license_status == "approved" and expired else row.license_status
        link_reasons = []
        if status != "approved":
            link_reasons.append(f"license {row.license_id} is {status}")
        if row.asset_status != "active":
            link_reasons.append(f"IP asset {row.asset_id} is {row.asset_status}")
        elif row.verification_status != "approved":
            link_reasons.append(f"IP asset {row.asset_id} is not approved")
        if not row.is_active and not link_reasons:
            link_reasons.append(f"the authorization of license {row.license_id} was withdrawn")
        reasons += link_reasons
        chain.append(
            {
                "ipAsset": {
                    "id": str(row.asset_id),
                    "title": row.asset_title,
                    "creator": row.creator,
                },
                "license": {
                    "id": str(row.license_id),
                    "licenseType": row.license_type,
                    "status": status,
                    "territory": row.territory,
                    "expiresAt": row.expires_at.isoformat() if row.expires_at else None,
                },
                "active": not link_reasons,
                "reasons": link_reasons,
            }
        )
    answer = {
        "authentic": not reasons,
        "product": {"id": str(product.id), "title": product.title, "seller": product.seller},
        "chain": chain,
        "reasons": reasons,
    }
    if evidence:
        answer = await with_evidence(session, answer)
        earliest_expiry = min(filter(None, (earliest_expiry, now + EVIDENCE_TTL)))
    if epoch is not None:
        await store_answer(key, answer, epoch=epoch, now=now, expires=earliest_expiry)
    return answer


async def verify_with_evidence(
    session: AsyncSession, *, code: str | None = None, product_id: uuid.UUID | None = None
) -> dict[str, Any] | None:
    """What `/v1/verify` and the verification page show: the answer with its evidence."""
    return await verify(session, code=code, product_id=product_id, evidence=True)


async def verification_history(
    session: AsyncSession, *, code: str
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The answer for `code` and every log entry about its chain, oldest first."""
    answer = await verify(session, code=code)
    return (answer, await history(session, answer)) if answer is not None else None
