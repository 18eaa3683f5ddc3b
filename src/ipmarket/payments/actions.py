"""The money-moving requests of the web pages: buy, refund and pay out, each through the
same flow the API's route runs, under an idempotency key with the API's semantics.

A page carries its key in the form (a fresh key each time the form is drawn), so a form
sent twice (a double click, a reload after the answer was lost) does its work once: the
second request gets the first one's answer (`Done.replayed`), a second request while the
first is still running is refused (409), and the key sent with other details is refused
(422). An error answer is kept under its key too; the page draws the form again with a new
key, so the next try is a new request.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity import Principal
from ipmarket.kit.envelope import APIResponse, ok
from ipmarket.kit.errors import AppError, Conflict, ErrorCode, ValidationFailed
from ipmarket.kit.idempotency import KEY_MAX_LENGTH, KEY_PATTERN, REPLAYED_HEADER, IdempotentRequest
from ipmarket.kit.schemas import ReadSchema
from ipmarket.payments.checkout import flows as checkout_flows
from ipmarket.payments.errors import KEEP_ON_ERROR
from ipmarket.payments.money_out import flows as money_out_flows
from ipmarket.payments.refunds import flows as refund_flows

# The form field that carries the key.
KEY_FIELD = "idempotencyKey"

__all__ = ["KEY_FIELD", "Done", "buy", "new_key", "pay_out", "refund"]


def new_key() -> str:
    """A key for a form about to be drawn."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Done:
    """What a request made (a sale, a refund, a payout) and how it stands; `replayed` when
    the form had been sent before and this is that request's answer."""

    id: uuid.UUID
    status: str
    replayed: bool


class _Made(ReadSchema):
    """The answer kept under the key: enough to show the row that was made."""

    id: uuid.UUID
    status: str


def _checked(key: str | None) -> str:
    if not key or len(key) > KEY_MAX_LENGTH or not re.fullmatch(KEY_PATTERN, key):
        raise ValidationFailed.for_field(
            "This form has expired: it was opened again, check it and send it once more",
            field=KEY_FIELD,
            problem="missing or malformed",
        )
    return key


def _replayed_error(status: int, body: dict[str, Any]) -> AppError:
    """The error kept under a key, raised again for the same request."""
    error = body.get("error") or {}
    exc = AppError(
        str(error.get("message") or "The request failed"),
        details=dict(error.get("details") or {}),
        status_code=status,
    )
    exc.code = ErrorCode(str(error.get("code") or ErrorCode.INTERNAL_ERROR))
    return exc


async def _once(
    session: AsyncSession,
    user: Principal,
    *,
    key: str | None,
    path: str,
    inputs: dict[str, Any],
    work: Callable[[IdempotentRequest], Awaitable[_Made]],
    status_code: int,
    keep_on: tuple[type[AppError], ...] = (),
) -> Done:
    request = IdempotentRequest(
        session,
        key=_checked(key),
        method="POST",
        path=path,
        body=json.dumps(inputs, sort_keys=True, default=str).encode(),
    )

    async def answer() -> APIResponse[_Made]:
        return ok(await work(request))

    try:
        response = await request.run(user.id, answer, status_code=status_code, keep_on=keep_on)
    except AppError as exc:
        reason = exc.details.get("reason")
        if reason == "idempotency_key_reused":
            raise ValidationFailed(
                "This form was already sent with other details: check the result, then use "
                "the fresh form below",
                details={"reason": reason},
            ) from exc
        if reason == "idempotency_key_in_flight":
            raise Conflict(
                "This form was already sent and is still being processed: wait a moment, "
                "then check the result",
                details={"reason": reason},
            ) from exc
        raise
    body: dict[str, Any] = json.loads(bytes(response.body))
    if response.status_code >= 400:
        raise _replayed_error(response.status_code, body)
    made = _Made.model_validate(body["data"])
    replayed = response.headers.get(REPLAYED_HEADER) == "true"
    return Done(id=made.id, status=made.status, replayed=replayed)


async def buy(
    session: AsyncSession,
    buyer: Principal,
    product_id: uuid.UUID,
    *,
    quantity: int,
    payment_method: str,
    key: str | None,
    path: str,
) -> Done:
    """Buy and pay at once, as `POST /v1/products/{id}/purchase` with a payment method:
    done (completed), or PaymentDeclinedError (recorded as failed, the stock back on sale)."""

    async def work(request: IdempotentRequest) -> _Made:
        tx = await checkout_flows.purchase(
            session,
            buyer,
            product_id,
            quantity=quantity,
            payment_method=payment_method,
            transaction_id=request.derived_id("transaction"),
        )
        return _Made(id=tx.id, status=tx.status)

    return await _once(
        session,
        buyer,
        key=key,
        path=path,
        inputs={"quantity": quantity, "paymentMethod": payment_method},
        work=work,
        status_code=201,
        keep_on=KEEP_ON_ERROR,
    )


async def refund(
    session: AsyncSession,
    actor: Principal,
    transaction_id: uuid.UUID,
    *,
    amount: Decimal | None,
    reason: str,
    key: str | None,
    path: str,
) -> Done:
    """Refund all (`amount` None) or part of what remains of a payment, as
    `POST /v1/payments/refund`: done (succeeded, or pending while the provider cannot be
    reached), or RefundDeclined."""

    async def work(request: IdempotentRequest) -> _Made:
        result = await refund_flows.refund(
            session,
            actor,
            transaction_id,
            amount=amount,
            reason=reason,
            refund_id=request.derived_id("refund"),
        )
        return _Made(id=result.refund.id, status=result.refund.status)

    return await _once(
        session,
        actor,
        key=key,
        path=path,
        inputs={"transactionId": transaction_id, "amount": amount, "reason": reason},
        work=work,
        status_code=200,
    )


async def pay_out(
    session: AsyncSession, user: Principal, amount: Decimal | None, *, key: str | None, path: str
) -> Done:
    """Pay out `amount` (everything available when None), as `POST /v1/payments/payout`:
    done (paid, or pending while the provider cannot be reached), or an error."""

    async def work(request: IdempotentRequest) -> _Made:
        made = await money_out_flows.payout(
            session, user, amount, payout_id=request.derived_id("payout")
        )
        return _Made(id=made.id, status=made.status)

    return await _once(
        session,
        user,
        key=key,
        path=path,
        inputs={"amount": amount},
        work=work,
        status_code=201,
    )
