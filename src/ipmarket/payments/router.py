"""HTTP routes: purchases (/v1/products/{id}/purchase), /v1/payments and
/v1/admin/transactions.

Every money-moving POST takes an `Idempotency-Key` header (see `ipmarket.kit.idempotency`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.responses import Response

from ipmarket.identity import AppSettings, Authorize, CurrentPrincipal, Permission, Principal
from ipmarket.kit.clock import utcnow
from ipmarket.kit.deps import DbSession
from ipmarket.kit.envelope import APIResponse, error_responses, ok, paged
from ipmarket.kit.errors import ValidationFailed
from ipmarket.kit.idempotency import Idempotency
from ipmarket.kit.money import from_minor
from ipmarket.kit.pagination import Paging
from ipmarket.payments.checkout import flows as checkout_flows
from ipmarket.payments.checkout.repository import TransactionFilters, TransactionRepository
from ipmarket.payments.errors import KEEP_ON_ERROR
from ipmarket.payments.models import Payout, Refund, Transaction
from ipmarket.payments.money_out import flows as money_out_flows
from ipmarket.payments.money_out.payouts import PayoutService
from ipmarket.payments.providers import WebhookSignatureError, verify_stripe_signature
from ipmarket.payments.refunds import flows as refund_flows
from ipmarket.payments.refunds.service import RefundResult
from ipmarket.payments.schemas import (
    AdminRefundRequest,
    BalanceRead,
    ConfirmRequest,
    HistoryItemRead,
    IntentRequest,
    PayoutRead,
    PayoutRequest,
    PurchaseRequest,
    RefundRead,
    RefundRequest,
    Role,
    TransactionRead,
    TransactionStatusName,
    TransactionTypeName,
    WebhookAck,
)
from ipmarket.payments.webhooks import WebhookService
from ipmarket.products import sale_states

purchase_router = APIRouter(prefix="/products", tags=["products"])
router = APIRouter(prefix="/payments", tags=["payments"])
admin_router = APIRouter(prefix="/admin/transactions", tags=["admin"])

_ERRORS = error_responses(400, 401, 403, 404, 409, 413, 422, 429, 500)
_PAYING_ERRORS = error_responses(400, 401, 402, 403, 404, 409, 413, 422, 429, 500)

Buyer = Annotated[Principal, Depends(Authorize(Permission.PURCHASE_PRODUCTS))]
# Sellers refund their sales, licensors their license fees, administrators anything.
Refunder = Annotated[
    Principal,
    Depends(
        Authorize(
            Permission.CREATE_PRODUCTS, Permission.MANAGE_LICENSES, Permission.PROCESS_REFUNDS
        )
    ),
]
TransactionViewer = Annotated[Principal, Depends(Authorize(Permission.VIEW_TRANSACTIONS))]
RefundAdmin = Annotated[Principal, Depends(Authorize(Permission.PROCESS_REFUNDS))]

_IDEMPOTENCY_DOC = (
    "Requires an `Idempotency-Key` header: a retry with the same key and body replays the "
    "first response; the same key with another body is a 422; a retry while the first "
    "request is running is a 409."
)


_REFUND_OUTCOMES = (
    "200 with status `succeeded`, or `pending` when the provider could not be reached (the "
    "refund is made later, once); 402 PAYMENT_FAILED when the provider refused it (nothing "
    "is refunded, the amount may be refunded again); 409 while another refund of the payment "
    "is still pending. "
)


def transaction_read(tx: Transaction) -> TransactionRead:
    return TransactionRead.model_validate(tx)


def _role_of(tx: Transaction, user_id: uuid.UUID) -> Role:
    if tx.seller_id == user_id:
        return "seller"
    if tx.buyer_id == user_id:
        return "buyer"
    return "licensor"


def refund_read(result: RefundResult) -> RefundRead:
    refund: Refund = result.refund
    return RefundRead(
        id=refund.id,
        transaction_id=refund.transaction_id,
        amount=from_minor(refund.amount_minor),
        reason=refund.reason,
        requested_by=refund.requested_by,
        status=refund.status,
        provider_reference=refund.provider_reference,
        failure_reason=refund.failure_reason,
        created_at=refund.created_at,
        processed_at=refund.processed_at,
        transaction=transaction_read(result.transaction),
    )


def payout_read(payout: Payout) -> PayoutRead:
    return PayoutRead.model_validate(payout)


# --- purchase ----------------------------------------------------------------------------


@purchase_router.post(
    "/{product_id}/purchase",
    status_code=status.HTTP_201_CREATED,
    response_model=APIResponse[TransactionRead],
    responses=_PAYING_ERRORS,
    summary="Buy a product (with paymentMethod: paid at once; without: reserved until paid)",
    description=(
        "Reserves the stock and opens a payment. With `paymentMethod` the payment is made at "
        "once: 201 with the completed transaction, or 402 PAYMENT_FAILED (the stock goes back "
        "on sale). Without it the transaction stays pending, holding the stock for "
        "`settings.payments.reservationMinutes`, until `POST /payments/confirm` or the "
        "provider's webhook. " + _IDEMPOTENCY_DOC
    ),
)
async def purchase(
    product_id: uuid.UUID,
    body: PurchaseRequest,
    session: DbSession,
    principal: Buyer,
    idempotency: Idempotency,
) -> Response:
    async def work() -> APIResponse[TransactionRead]:
        tx = await checkout_flows.purchase(
            session,
            principal,
            product_id,
            quantity=body.quantity,
            payment_method=body.payment_method,
            transaction_id=idempotency.derived_id("transaction"),
        )
        return ok(transaction_read(tx))

    return await idempotency.run(principal.id, work, status_code=201, keep_on=KEEP_ON_ERROR)


# --- payments ----------------------------------------------------------------------------


@router.post(
    "/intent",
    status_code=status.HTTP_201_CREATED,
    response_model=APIResponse[TransactionRead],
    responses=_ERRORS,
    summary="Start a purchase: reserve the stock and create its payment intent",
    description=(
        "The pending transaction's `paymentReference` is the provider's payment intent; pay "
        "it with `POST /payments/confirm` before `expiresAt`. " + _IDEMPOTENCY_DOC
    ),
)
async def create_intent(
    body: IntentRequest, session: DbSession, principal: Buyer, idempotency: Idempotency
) -> Response:
    async def work() -> APIResponse[TransactionRead]:
        tx = await checkout_flows.purchase(
            session,
            principal,
            body.product_id,
            quantity=body.quantity,
            payment_method=None,
            transaction_id=idempotency.derived_id("transaction"),
        )
        return ok(transaction_read(tx))

    return await idempotency.run(principal.id, work, status_code=201, keep_on=KEEP_ON_ERROR)


@router.post(
    "/confirm",
    response_model=APIResponse[TransactionRead],
    responses=_PAYING_ERRORS,
    summary="Pay a pending purchase",
    description=(
        "200 with the completed transaction; 402 PAYMENT_FAILED when declined (the "
        "transaction fails and its stock goes back on sale); 409 when it is no longer pending "
        "or its reservation expired. " + _IDEMPOTENCY_DOC
    ),
)
async def confirm(
    body: ConfirmRequest, session: DbSession, principal: Buyer, idempotency: Idempotency
) -> Response:
    async def work() -> APIResponse[TransactionRead]:
        tx = await checkout_flows.confirm(
            session, principal, body.transaction_id, body.payment_method
        )
        return ok(transaction_read(tx))

    return await idempotency.run(principal.id, work, status_code=200, keep_on=KEEP_ON_ERROR)


@router.get(
    "/history",
    responses=_ERRORS,
    summary="Your purchases, sales and revenue-share earnings, newest first",
)
async def history(
    session: DbSession,
    paging: Paging,
    principal: CurrentPrincipal,
    transaction_type: Annotated[TransactionTypeName | None, Query(alias="type")] = None,
    status_filter: Annotated[TransactionStatusName | None, Query(alias="status")] = None,
    role: Annotated[
        Role | None,
        Query(description="buyer: your purchases; seller: your sales; licensor: your shares"),
    ] = None,
) -> APIResponse[list[HistoryItemRead]]:
    rows, total = await TransactionRepository(session).search(
        TransactionFilters(
            transaction_type=transaction_type,
            status=status_filter,
            party_id=principal.id,
            role=role,
        ),
        offset=paging.offset,
        limit=paging.limit,
    )
    states = await sale_states(session, {tx.product_id for tx in rows if tx.product_id})
    items = [
        HistoryItemRead(
            **transaction_read(tx).model_dump(),
            role=role or _role_of(tx, principal.id),
            product_availability=state.availability if state else None,
            product_unavailable_reason=state.reason if state else None,
        )
        for tx in rows
        for state in [states.get(tx.product_id) if tx.product_id else None]
    ]
    return paged(items, page=paging.page, limit=paging.limit, total=total)


@router.post(
    "/refund",
    response_model=APIResponse[RefundRead],
    responses=_PAYING_ERRORS,
    summary="Refund all or part of a payment (its seller, or an administrator)",
    description=(
        "Without `amount`, whatever remains is refunded. The split is reversed in "
        "proportion: the platform, every licensor and the seller give back their parts; "
        "a balance may go negative. " + _REFUND_OUTCOMES + _IDEMPOTENCY_DOC
    ),
)
async def refund(
    body: RefundRequest, session: DbSession, principal: Refunder, idempotency: Idempotency
) -> Response:
    async def work() -> APIResponse[RefundRead]:
        result = await refund_flows.refund(
            session,
            principal,
            body.transaction_id,
            amount=body.amount,
            reason=body.reason,
            refund_id=idempotency.derived_id("refund"),
        )
        return ok(refund_read(result))

    return await idempotency.run(principal.id, work, status_code=200)


@router.get("/balance", responses=_ERRORS, summary="Your earnings: pending and available")
async def balance(session: DbSession, principal: CurrentPrincipal) -> APIResponse[BalanceRead]:
    found = await PayoutService(session).balance(principal.id)
    return ok(
        BalanceRead(
            currency=found.currency,
            pending=from_minor(found.pending_minor),
            available=from_minor(found.available_minor),
        )
    )


@router.post(
    "/payout",
    status_code=status.HTTP_201_CREATED,
    response_model=APIResponse[PayoutRead],
    responses=_PAYING_ERRORS,
    summary="Pay out available earnings (all of them without amount)",
    description=(
        "At least `settings.payments.minimumPayout`, at most what is available; otherwise "
        "422. 201 with status `paid`, or `pending` when the provider could not be reached "
        "(it is paid later, once); 402 PAYMENT_FAILED when the provider refused it (the "
        "amount is available again). " + _IDEMPOTENCY_DOC
    ),
)
async def payout(
    body: PayoutRequest, session: DbSession, principal: CurrentPrincipal, idempotency: Idempotency
) -> Response:
    async def work() -> APIResponse[PayoutRead]:
        made = await money_out_flows.payout(
            session, principal, body.amount, payout_id=idempotency.derived_id("payout")
        )
        return ok(payout_read(made))

    return await idempotency.run(principal.id, work, status_code=201)


@router.post(
    "/webhooks/stripe",
    responses=error_responses(400, 413, 422, 429, 500),
    summary="Stripe's webhook (signed with STRIPE_WEBHOOK_SECRET)",
    description=(
        "Checks the `Stripe-Signature` header (300 s tolerance; 400 otherwise), handles each "
        "event id once (a replay is a 200 that does nothing) and settles pending purchases "
        "on `payment_intent.succeeded` and `payment_intent.payment_failed`."
    ),
)
async def stripe_webhook(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> APIResponse[WebhookAck]:
    secret = (
        settings.stripe_webhook_secret.get_secret_value() if settings.stripe_webhook_secret else ""
    )
    if not secret:
        raise ValidationFailed("Stripe webhooks are not configured here", status_code=400)
    payload = await request.body()
    try:
        event = verify_stripe_signature(
            payload, stripe_signature, secret, now=int(utcnow().timestamp())
        )
    except WebhookSignatureError as exc:
        raise ValidationFailed(
            "The webhook's signature is not valid", details={"reason": str(exc)}, status_code=400
        ) from exc
    fresh = await WebhookService(session).take_provider_event(event, provider="stripe")
    return ok(WebhookAck(received=True, duplicate=not fresh))


# --- administrators ----------------------------------------------------------------------


def _utc(name: str, value: datetime | None) -> datetime | None:
    """A filter's instant in UTC; it must name its timezone and be a representable time."""
    if value is None:
        return None
    problem = "timezone required (e.g. 2026-01-01T00:00:00Z)" if value.tzinfo is None else None
    if problem is None:
        try:
            return value.astimezone(UTC)
        except (OverflowError, ValueError):
            problem = "out of range"
    raise ValidationFailed.for_field(f"{name}: {problem}", field=name, problem=problem)


@admin_router.get("", responses=_ERRORS, summary="Transactions, newest first, with filters")
async def admin_transactions(
    session: DbSession,
    paging: Paging,
    _: TransactionViewer,
    transaction_type: Annotated[TransactionTypeName | None, Query(alias="type")] = None,
    status_filter: Annotated[TransactionStatusName | None, Query(alias="status")] = None,
    user_id: Annotated[
        uuid.UUID | None,
        Query(alias="userId", description="The buyer, the seller or a licensor paid a share"),
    ] = None,
    created_from: Annotated[
        datetime | None, Query(alias="from", description="Created at or after")
    ] = None,
    created_to: Annotated[datetime | None, Query(alias="to", description="Created before")] = None,
) -> APIResponse[list[TransactionRead]]:
    rows, total = await TransactionRepository(session).search(
        TransactionFilters(
            transaction_type=transaction_type,
            status=status_filter,
            party_id=user_id,
            created_from=_utc("from", created_from),
            created_to=_utc("to", created_to),
        ),
        offset=paging.offset,
        limit=paging.limit,
    )
    return paged(
        [transaction_read(tx) for tx in rows], page=paging.page, limit=paging.limit, total=total
    )


@admin_router.post(
    "/{transaction_id}/refund",
    response_model=APIResponse[RefundRead],
    responses=_PAYING_ERRORS,
    summary="Refund all or part of a payment",
    description="Audited. " + _REFUND_OUTCOMES + _IDEMPOTENCY_DOC,
)
async def admin_refund(
    transaction_id: uuid.UUID,
    body: AdminRefundRequest,
    session: DbSession,
    principal: RefundAdmin,
    idempotency: Idempotency,
) -> Response:
    async def work() -> APIResponse[RefundRead]:
        result = await refund_flows.refund(
            session,
            principal,
            transaction_id,
            amount=body.amount,
            reason=body.reason,
            refund_id=idempotency.derived_id("refund"),
        )
        return ok(refund_read(result))

    return await idempotency.run(principal.id, work, status_code=200)
