"""The units of sold items as their seller and their licensors watch them: how often each
item's own code was checked, from how many devices, and the "possible copy" warnings.

The seller's page lists one product's units with each item's QR tag to print (the seller
ships the items); the studio's page lists, for a licensor, the units of every product
resting on a license they granted, codes left out (they do not print tags). Both are
provenance's `watched_units`, the list `/v1/units` answers with.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from ipmarket import provenance
from ipmarket.identity import AppSettings
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import Pagination
from ipmarket.products import ProductService
from ipmarket.web.studio.common import Creator
from ipmarket.web.templating import render
from ipmarket.web.verify.qr import qr_svg, verification_url
from ipmarket.web.verify.router import Seller, grouped

router = APIRouter(include_in_schema=False)

UNITS_PER_PAGE = 48


def _entries(lines: Any, settings: Any, title: str | None = None) -> list[dict[str, Any]]:
    entries = []
    for unit in lines:
        entry: dict[str, Any] = {"unit": unit}
        if unit.code is not None:
            url = verification_url(settings, unit.code)
            entry |= {
                "code_grouped": grouped(unit.code),
                "qr": qr_svg(url, label=f"QR tag of item {unit.serial} of {title or ''}"),
            }
        entries.append(entry)
    return entries


@router.get("/shop/products/{product_id}/units", response_class=HTMLResponse)
async def product_units(
    request: Request,
    product_id: uuid.UUID,
    session: DbSession,
    settings: AppSettings,
    principal: Seller,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    copies: Annotated[bool, Query()] = False,
) -> Response:
    product = await ProductService(session, base_url=settings.public_base_url).owned(
        product_id, principal, for_update=False
    )
    lines, total = await provenance.watched_units(
        session,
        principal.id,
        product_id=product.id,
        possible_copies_only=copies,
        offset=(page - 1) * UNITS_PER_PAGE,
        limit=UNITS_PER_PAGE,
    )
    return render(
        request,
        "verify/units.html",
        {
            "heading": f"Items sold: {product.title}",
            "product_id": product.id,
            "entries": _entries(lines, settings, product.title),
            "copies": copies,
            "base_url": f"/shop/products/{product.id}/units",
            "page": Pagination.of(page=page, limit=UNITS_PER_PAGE, total=total),
            "threshold": provenance.POSSIBLE_COPY_CLIENTS,
            "seller": True,
        },
    )


@router.get("/studio/units", response_class=HTMLResponse)
async def licensed_units(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Creator,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    copies: Annotated[bool, Query()] = True,
) -> Response:
    lines, total = await provenance.watched_units(
        session,
        principal.id,
        possible_copies_only=copies,
        offset=(page - 1) * UNITS_PER_PAGE,
        limit=UNITS_PER_PAGE,
    )
    return render(
        request,
        "verify/units.html",
        {
            "heading": "Items sold under my licenses",
            "here": "units",
            "entries": _entries(lines, settings),
            "copies": copies,
            "base_url": "/studio/units",
            "page": Pagination.of(page=page, limit=UNITS_PER_PAGE, total=total),
            "threshold": provenance.POSSIBLE_COPY_CLIENTS,
            "seller": False,
        },
    )
