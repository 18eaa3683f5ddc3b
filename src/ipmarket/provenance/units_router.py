"""The units a seller or a licensor watches: /v1/units, with their scans and any "possible
copy" warning. A stranger's list is empty (ownership is decided in the query, by who sells
or licensed each product)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ipmarket.identity import Authorize, Principal
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, paged
from ipmarket.kit.pagination import Paging
from ipmarket.provenance.router import UnitRead
from ipmarket.provenance.units import watched_units

router = APIRouter(tags=["verification"])


class WatchedUnitRead(UnitRead):
    """A unit as a verification answer shows it, with what names it in a list."""

    id: uuid.UUID
    # The code and the order: shown to the seller (who prints the tags), not to licensors.
    code: str | None
    order_id: uuid.UUID | None
    product_id: uuid.UUID
    product_title: str
    created_at: datetime


@router.get(
    "/units",
    responses=error_responses(401, 403, 422, 429, 500),
    summary="Units of the products I sell or licensed, with their scans and copy warnings",
)
async def list_units(
    session: DbSession,
    principal: Annotated[Principal, Depends(Authorize())],
    paging: Paging,
    product_id: Annotated[uuid.UUID | None, Query(alias="productId")] = None,
    possible_copy: Annotated[bool, Query(alias="possibleCopy")] = False,
) -> APIResponse[list[WatchedUnitRead]]:
    lines, total = await watched_units(
        session,
        principal.id,
        product_id=product_id,
        possible_copies_only=possible_copy,
        offset=paging.offset,
        limit=paging.limit,
    )
    items = [WatchedUnitRead.model_validate(line) for line in lines]
    return paged(items, page=paging.page, limit=paging.limit, total=total)
