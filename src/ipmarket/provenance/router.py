"""Public authenticity verification: /v1/products/{id}/verify and /v1/verify/{code}."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path

from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, ok
from ipmarket.kit.errors import NotFound
from ipmarket.kit.schemas import ReadSchema
from ipmarket.provenance.queries import verify

router = APIRouter(tags=["verification"])

_ERRORS = error_responses(404, 422, 429, 500)


class AssetLink(ReadSchema):
    id: uuid.UUID
    title: str
    creator: str


class LicenseLink(ReadSchema):
    id: uuid.UUID
    license_type: str
    status: str
    territory: str
    expires_at: str | None


class ChainLinkRead(ReadSchema):
    ip_asset: AssetLink
    license: LicenseLink
    active: bool


class VerifiedProduct(ReadSchema):
    id: uuid.UUID
    title: str
    seller: str


class VerificationRead(ReadSchema):
    authentic: bool
    product: VerifiedProduct
    chain: list[ChainLinkRead]
    reasons: list[str]


def _read(answer: dict[str, Any]) -> VerificationRead:
    return VerificationRead.model_validate(answer, by_alias=True)


@router.get(
    "/products/{product_id}/verify", responses=_ERRORS, summary="Is this product authentic?"
)
async def verify_product(
    product_id: uuid.UUID, session: DbSession
) -> APIResponse[VerificationRead]:
    answer = await verify(session, product_id=product_id)
    if answer is None:
        raise NotFound("Product not found or not published")
    return ok(_read(answer))


@router.get(
    "/verify/{code}", responses=_ERRORS, summary="Verify a product by its verification code"
)
async def verify_code(
    session: DbSession, code: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
) -> APIResponse[VerificationRead]:
    answer = await verify(session, code=code)
    if answer is None:
        raise NotFound("Unknown verification code")
    return ok(_read(answer))
