"""Checkout, the order page and the order history: the purchase the API's
`POST /v1/products/{id}/purchase` makes, through the same flow, under an idempotency key the
checkout form carries (a fresh one each time it is drawn, so sending it twice buys once).

The product page posts its quantity here; that is sent on to the checkout form (GET), which
shows the price and, in test mode, the test cards, and pays with one (POST).
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from ipmarket import payments, provenance
from ipmarket.identity import AppSettings, Permission, Principal
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import Pagination
from ipmarket.kit.pagination import Paging
from ipmarket.payments.schemas import PurchaseRequest, Quantity
from ipmarket.web.forms import form_values, rejects_form
from ipmarket.web.session import SignedIn
from ipmarket.web.templating import redirect, render
from ipmarket.web.verify.qr import qr_svg, verification_url
from ipmarket.web.verify.router import grouped

router = APIRouter(include_in_schema=False)

Buyer = Annotated[Principal, Depends(SignedIn(Permission.PURCHASE_PRODUCTS))]
Anyone = Annotated[Principal, Depends(SignedIn())]

CHECKOUT = "orders/checkout.html"
_DIGITS = re.compile(r"^\d{1,8}$")


def _checkout_page(quote: payments.Quote) -> dict[str, Any]:
    """What the checkout form needs, drawn afresh: a new idempotency key each time."""
    return {
        "quote": quote,
        "cards": payments.accepted_test_cards(),
        "key": payments.new_key(),
        "key_field": payments.KEY_FIELD,
    }


@router.get("/checkout/{product_id}", response_class=HTMLResponse)
async def checkout_form(
    request: Request,
    product_id: uuid.UUID,
    session: DbSession,
    principal: Buyer,
    quantity: Annotated[Quantity, Query()] = 1,
) -> Response:
    quote = await payments.checkout_quote(session, principal, product_id, quantity=quantity)
    errors = {"quantity": quote.quantity_problem} if quote.quantity_problem else {}
    return render(
        request,
        CHECKOUT,
        _checkout_page(quote) | {"form": {"quantity": str(quantity)}, "errors": errors},
    )


@router.post("/checkout/{product_id}", response_class=HTMLResponse)
async def checkout(
    request: Request, product_id: uuid.UUID, session: DbSession, principal: Buyer
) -> Response:
    values = form_values(await request.form())
    raw_quantity = str(values.get("quantity", "1")).strip()
    key = values.pop(payments.KEY_FIELD, None)
    if key is None and "cardNumber" not in values:
        # From the product page's buy button: on to the checkout form for that quantity.
        query = f"?quantity={raw_quantity}" if _DIGITS.match(raw_quantity) else ""
        return redirect(request, f"/checkout/{product_id}{query}")
    shown = int(raw_quantity) if _DIGITS.match(raw_quantity) and int(raw_quantity) > 0 else 1
    # A product that cannot be bought at all (suspended, sold out, gone) is its error page.
    quote = await payments.checkout_quote(session, principal, product_id, quantity=shown)
    async with rejects_form(CHECKOUT, _checkout_page(quote), values):
        payment_method = payments.payment_method_for_card(str(values.get("cardNumber", "")))
        data = PurchaseRequest.model_validate(
            {"quantity": values.get("quantity"), "paymentMethod": payment_method}
        )
        assert data.payment_method is not None
        done = await payments.buy(
            session,
            principal,
            product_id,
            quantity=data.quantity,
            payment_method=data.payment_method,
            key=key,
            path=request.url.path,
        )
    message = (
        "This order was placed already (the form was sent twice): here it is."
        if done.replayed
        else "Thank you: your order is paid."
    )
    return redirect(request, f"/orders/{done.id}", flash=message)


@router.get("/orders", response_class=HTMLResponse)
async def order_history(
    request: Request, session: DbSession, principal: Anyone, paging: Paging
) -> Response:
    orders, total = await payments.orders_of(
        session, principal, offset=paging.offset, limit=paging.limit
    )
    page = Pagination.of(page=paging.page, limit=paging.limit, total=total)
    return render(request, "orders/history.html", {"orders": orders, "page": page})


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(
    request: Request,
    order_id: uuid.UUID,
    session: DbSession,
    principal: Anyone,
    settings: AppSettings,
) -> Response:
    order = await payments.order_of(session, principal, order_id)  # the viewer's, or 404
    units = [
        {
            "unit": unit,
            "code_grouped": grouped(unit.code),
            "url": verification_url(settings, unit.code),
            "qr": qr_svg(
                verification_url(settings, unit.code),
                label=f"QR code of item {unit.serial} of {order.product_title}",
            ),
        }
        for unit in await provenance.units_of_order(session, order.id)
        if unit.code is not None
    ]
    return render(request, "orders/order.html", {"order": order, "units": units})
