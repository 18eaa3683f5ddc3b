"""Verification pages: "check a code", the AUTHENTIC / NOT AUTHENTIC page a product's QR
code opens, and the owner's sheet of QR labels to print.

The answer is provenance's public verification query, the same one `/v1/verify/{code}`
answers with (cached, and never outliving a revocation). The pages are plain HTML: people
reach them from a phone camera, so they must be fast and need no script.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from ipmarket import provenance
from ipmarket.identity import AppSettings, Permission, Principal
from ipmarket.kit.deps import DbSession
from ipmarket.kit.errors import Conflict, NotFound
from ipmarket.products import ProductService
from ipmarket.web.session import SignedIn
from ipmarket.web.templating import redirect, render
from ipmarket.web.verify.chain import chain_view
from ipmarket.web.verify.qr import qr_svg, verification_url

router = APIRouter(include_in_schema=False)

CODE = re.compile(r"[0-9a-f]{32}")
# A unit code: one item's own code ("u" and 32 hex digits), printed on the item or its tag.
UNIT_CODE = re.compile(r"u[0-9a-f]{32}")
# An answer must never outlive a revocation, in the browser either.
NO_STORE = {"Cache-Control": "no-store"}
LABEL_COUNTS = (6, 12, 24, 48)
DEFAULT_LABELS = 24

Seller = Annotated[
    Principal, Depends(SignedIn(Permission.CREATE_PRODUCTS, Permission.MANAGE_INVENTORY))
]


def normal_code(text: str) -> str | None:
    """The code in what someone typed or pasted: the code itself (any case, spaces or
    dashes between its groups), or the address of its verification page."""
    text = text.strip()
    if "/verify/" in text:
        text = text.rsplit("/verify/", 1)[1]
    text = re.split(r"[?#]", text, maxsplit=1)[0]
    text = re.sub(r"[\s-]+", "", text).lower()
    return text if CODE.fullmatch(text) or UNIT_CODE.fullmatch(text) else None


def grouped(code: str) -> str:
    """'1a2b 3c4d …' (a unit code: 'u 1a2b 3c4d …'): easier to read off a label and type
    in."""
    if code.startswith("u"):
        return "u " + grouped(code[1:])
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


@router.get("/verify", response_class=HTMLResponse)
async def check_a_code(request: Request) -> Response:
    typed = request.query_params.get("code")
    if typed is None or not typed.strip():
        return render(request, "verify/check.html", {"form": {}})
    code = normal_code(typed[:500])
    if code is None:
        return render(
            request,
            "verify/check.html",
            {
                "form": {"code": typed[:200]},
                "error": "That is not a verification code.",
                "errors": {
                    "code": "A code has 32 letters and digits (0-9 and a-f), as printed "
                    "under the QR code; an item's own code starts with a u."
                },
            },
            status_code=422,
        )
    return redirect(request, f"/verify/{code}")


@router.get("/verify/{code}", response_class=HTMLResponse)
async def verification(
    request: Request, code: str, session: DbSession, settings: AppSettings
) -> Response:
    normal = code.strip().lower()
    answer = None
    if CODE.fullmatch(normal):
        answer = await provenance.verify_with_evidence(session, code=normal)
    elif UNIT_CODE.fullmatch(normal):
        # Opening the page is a scan of the item (counted, as on the API).
        scan = provenance.scan_of(
            settings,
            request.client.host if request.client else None,
            request.query_params.get("place", "")[:200] or None,
        )
        answer = await provenance.verify_unit(session, normal, scan)
    if answer is None:
        return render(
            request, "verify/unknown.html", {"code": code[:64]}, status_code=404, headers=NO_STORE
        )
    url = verification_url(settings, normal)
    return render(
        request,
        "verify/result.html",
        {
            "view": chain_view(answer),
            "unit": answer.get("unit"),
            "code": normal,
            "code_grouped": grouped(normal),
            "url": url,
            "qr": qr_svg(url, label="QR code of this verification page"),
        },
        headers=NO_STORE,
    )


@router.get("/shop/products/{product_id}/labels", response_class=HTMLResponse)
async def labels(
    request: Request,
    product_id: str,
    session: DbSession,
    settings: AppSettings,
    principal: Seller,
) -> Response:
    try:
        wanted = uuid.UUID(product_id)
    except ValueError:
        raise NotFound("Product not found") from None
    product = await ProductService(session, base_url=settings.public_base_url).owned(
        wanted, principal, for_update=False
    )
    code = (await provenance.codes_of(session, [product.id])).get(product.id)
    if code is None:
        raise Conflict(
            "This product has no verification code yet: it gets one when you put it on sale."
        )
    try:
        count = int(request.query_params.get("count", DEFAULT_LABELS))
    except ValueError:
        count = DEFAULT_LABELS
    if count not in LABEL_COUNTS:
        count = DEFAULT_LABELS
    url = verification_url(settings, code)
    return render(
        request,
        "verify/labels.html",
        {
            "product_id": product.id,
            "title": product.title,
            "code": code,
            "code_grouped": grouped(code),
            "url": url,
            "check_url": f"{settings.public_base_url.rstrip('/')}/verify",
            "qr": qr_svg(url, label=f"QR code to verify {product.title}"),
            "count": count,
            "counts": LABEL_COUNTS,
        },
    )
