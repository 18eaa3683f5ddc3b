"""Public authenticity verification: /v1/products/{id}/verify and /v1/verify/{code}."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from ipmarket.identity import AppSettings
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, ok
from ipmarket.kit.errors import NotFound
from ipmarket.kit.schemas import ReadSchema
from ipmarket.provenance.queries import verification_history, verify_with_evidence
from ipmarket.provenance.units import UNIT_PREFIX, scan_of, verify_unit
from ipmarket.transparency import CheckpointRead

router = APIRouter(tags=["verification"])

_ERRORS = error_responses(404, 422, 429, 500)


class InclusionProofRead(ReadSchema):
    tree_size: int
    hashes: list[str]


class LogEvidence(ReadSchema):
    """The transparency log's entry that recorded this grant; its inclusion proof is against
    the answer's `checkpoint` (None until a checkpoint covers the entry)."""

    leaf_index: int
    leaf_hash: str
    entry: dict[str, Any]
    inclusion_proof: InclusionProofRead | None


class AnchorEvidence(ReadSchema):
    """The on-chain anchor of the first checkpoint covering the entry, with the entry's
    inclusion proof against that anchored root."""

    chain_id: int
    contract: str
    transaction_hash: str
    block_number: int
    tree_size: int
    root_hash: str
    inclusion_proof: InclusionProofRead


class Evidence(ReadSchema):
    log: LogEvidence | None = None
    anchor: AnchorEvidence | None = None


class AssetLink(Evidence):
    id: uuid.UUID
    title: str
    creator: str


class LicenseLink(ReadSchema):
    id: uuid.UUID
    license_type: str
    status: str
    territory: str
    expires_at: str | None


class ChainLinkRead(Evidence):
    ip_asset: AssetLink
    license: LicenseLink
    active: bool


class ProductNamed(ReadSchema):
    id: uuid.UUID
    title: str
    seller: str


class VerifiedProduct(ProductNamed, Evidence):
    """The product with its own log entry (its publication) and anchor."""


class UnitRead(ReadSchema):
    """The item a unit code names (present only when a unit code was verified)."""

    serial: int
    status: str
    scans: int
    distinct_clients: int
    distinct_places: int
    possible_copy: bool
    warning: str | None


class VerificationRead(ReadSchema):
    authentic: bool
    product: VerifiedProduct
    chain: list[ChainLinkRead]
    reasons: list[str]
    checkpoint: CheckpointRead | None = None
    unit: UnitRead | None = None


class HistoryEntry(ReadSchema):
    leaf_index: int
    leaf_hash: str
    entry: dict[str, Any]


class VerificationHistoryRead(ReadSchema):
    """Every transparency log entry about a product's chain, oldest first: the grants, and
    each revocation, expiry and suspension. Entries are checked with
    `/v1/transparency/proof/inclusion`."""

    authentic: bool
    product: ProductNamed
    events: list[HistoryEntry]


def _read(answer: dict[str, Any]) -> VerificationRead:
    return VerificationRead.model_validate(answer, by_alias=True)


@router.get(
    "/products/{product_id}/verify", responses=_ERRORS, summary="Is this product authentic?"
)
async def verify_product(
    product_id: uuid.UUID, session: DbSession
) -> APIResponse[VerificationRead]:
    answer = await verify_with_evidence(session, product_id=product_id)
    if answer is None:
        raise NotFound("Product not found or not published")
    return ok(_read(answer))


@router.get(
    "/verify/{code}",
    responses=_ERRORS,
    summary="Verify a product by its verification code, or one item by its unit code",
)
async def verify_code(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    code: Annotated[str, Path(pattern=r"^u?[0-9a-f]{32}$")],
    place: Annotated[str | None, Query(max_length=200)] = None,
) -> APIResponse[VerificationRead]:
    if code.startswith(UNIT_PREFIX):
        # Each request is one scan of the unit (counted, never answered from a cache).
        client = request.client.host if request.client else None
        scan = scan_of(settings, client, place)
        answer = await verify_unit(session, code, scan)
    else:
        answer = await verify_with_evidence(session, code=code)
    if answer is None:
        raise NotFound("Unknown verification code")
    return ok(_read(answer))


@router.get(
    "/verify/{code}/history",
    responses=_ERRORS,
    summary="Every logged event of a product's authorization chain, revocations included",
)
async def verify_history(
    session: DbSession, code: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
) -> APIResponse[VerificationHistoryRead]:
    found = await verification_history(session, code=code)
    if found is None:
        raise NotFound("Unknown verification code")
    answer, events = found
    return ok(
        VerificationHistoryRead.model_validate(
            {"authentic": answer["authentic"], "product": answer["product"], "events": events},
            by_alias=True,
        )
    )
