"""Money pages for everyone who earns: the balance (pending and available), the sales and
shares that paid them, the payout form (with the platform's minimum) and payout history;
and the seller's view of one sale, with the refund form. The payout and the refund are the
API's `POST /v1/payments/payout` and `POST /v1/payments/refund`, through the same flows,
under an idempotency key each form carries."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from ipmarket import payments
from ipmarket.identity import Permission, Principal
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import Pagination
from ipmarket.kit.pagination import Paging
from ipmarket.payments.schemas import PayoutRequest, RefundRequest
from ipmarket.web.forms import form_values, rejects_form
from ipmarket.web.session import SignedIn
from ipmarket.web.templating import money as format_money
from ipmarket.web.templating import redirect, render

router = APIRouter(prefix="/money", include_in_schema=False)

P = Permission
# Creators earn licence fees and shares; secondary creators sell (and may license on).
Earner = Annotated[Principal, Depends(SignedIn(P.CREATE_IP, P.MANAGE_LICENSES, P.CREATE_PRODUCTS))]

MONEY = "money/money.html"
SALE = "money/sale.html"


async def _money_page(session: DbSession, principal: Principal, paging: Paging) -> dict[str, Any]:
    summary = await payments.money_summary(session, principal)
    earnings, total = await payments.earnings_of(
        session, principal, offset=paging.offset, limit=paging.limit
    )
    return {
        "summary": summary,
        "earnings": earnings,
        "page": Pagination.of(page=paging.page, limit=paging.limit, total=total),
        "key": payments.new_key(),
        "key_field": payments.KEY_FIELD,
    }


@router.get("", response_class=HTMLResponse)
async def money_page(
    request: Request, session: DbSession, principal: Earner, paging: Paging
) -> Response:
    page = await _money_page(session, principal, paging)
    return render(request, MONEY, page | {"form": {}})


@router.post("/payout", response_class=HTMLResponse)
async def request_payout(
    request: Request, session: DbSession, principal: Earner, paging: Paging
) -> Response:
    values = form_values(await request.form())
    key = values.pop(payments.KEY_FIELD, None)
    page = await _money_page(session, principal, paging)
    async with rejects_form(MONEY, page, values):
        data = PayoutRequest.model_validate(values)
        done = await payments.pay_out(
            session, principal, data.amount, key=key, path=request.url.path
        )
    if done.replayed:
        message = "This payout was requested already (the form was sent twice)."
    elif done.status == "paid":
        message = "Your payout is on its way to your bank account."
    else:
        message = "Your payout is recorded; the payment provider will send it shortly."
    return redirect(request, "/money/payouts", flash=message)


@router.get("/payouts", response_class=HTMLResponse)
async def payout_history(
    request: Request, session: DbSession, principal: Earner, paging: Paging
) -> Response:
    summary = await payments.money_summary(session, principal)
    payouts, total = await payments.payouts_of(
        session, principal, offset=paging.offset, limit=paging.limit
    )
    page = Pagination.of(page=paging.page, limit=paging.limit, total=total)
    return render(
        request, "money/payouts.html", {"summary": summary, "payouts": payouts, "page": page}
    )


def _sale_page(sale: payments.Sale) -> dict[str, Any]:
    return {"sale": sale, "key": payments.new_key(), "key_field": payments.KEY_FIELD}


@router.get("/sales/{order_id}", response_class=HTMLResponse)
async def sale_page(
    request: Request, order_id: uuid.UUID, session: DbSession, principal: Earner
) -> Response:
    sale = await payments.sale_of(session, principal, order_id)
    return render(request, SALE, _sale_page(sale) | {"form": {}})


@router.post("/sales/{order_id}/refund", response_class=HTMLResponse)
async def refund_sale(
    request: Request, order_id: uuid.UUID, session: DbSession, principal: Earner
) -> Response:
    values = form_values(await request.form())
    key = values.pop(payments.KEY_FIELD, None)
    sale = await payments.sale_of(session, principal, order_id)  # someone else's: not found
    async with rejects_form(SALE, _sale_page(sale), values):
        data = RefundRequest.model_validate(values | {"transactionId": str(order_id)})
        done = await payments.refund(
            session,
            principal,
            data.transaction_id,
            amount=data.amount,
            reason=data.reason,
            key=key,
            path=request.url.path,
        )
    what = (
        format_money(data.amount, sale.order.currency)
        if data.amount is not None
        else "what remained of the order"
    )
    if done.replayed:
        message = "This refund was made already (the form was sent twice)."
    elif done.status == "succeeded":
        message = f"Refunded {what} to the buyer."
    else:
        message = f"Refund of {what} recorded: it reaches the buyer once the provider confirms."
    return redirect(request, f"/money/sales/{order_id}", flash=message)
