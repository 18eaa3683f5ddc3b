"""Payment API models: purchases, confirmations, refunds, balances, payouts and history."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AliasChoices, BeforeValidator, Field, PlainSerializer, StringConstraints

from ipmarket.kit.money import Amount, Percentage, PositiveAmount, from_minor
from ipmarket.kit.schemas import ReadSchema, Schema

# A provider's payment method id: `pm_card_visa`, `pm_1Nx…`.
PaymentMethod = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_]{1,50}$")]
# Up to the stock ceiling products accept; above the product's stock is a conflict.
Quantity = Annotated[int, Field(ge=1, le=10_000_000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
# A balance: minor units shown as a decimal, negative after a refund of paid-out earnings.
SignedAmount = Annotated[
    Decimal,
    Field(max_digits=14, decimal_places=2),
    PlainSerializer(float, return_type=float, when_used="json"),
]


def _from_minor(value: object) -> object:
    """Rows keep money in integer minor units; the API shows it as a decimal amount."""
    return from_minor(value) if isinstance(value, int) and not isinstance(value, bool) else value


# An amount a read model takes from a row's integer minor units (or as a decimal, by name).
RowAmount = Annotated[Amount, BeforeValidator(_from_minor)]


def _minor(column: str, name: str) -> AliasChoices:
    """Validate a field from the row's `column` (minor units), or from its own name."""
    return AliasChoices(column, name)


TransactionTypeName = Literal["product_sale", "license_fee", "revenue_share"]
TransactionStatusName = Literal["pending", "completed", "failed", "refunded"]
Role = Literal["buyer", "seller", "licensor"]


class PurchaseRequest(Schema):
    quantity: Quantity
    # Pay at once with this payment method; without it the purchase waits for
    # `POST /payments/confirm` (or the provider's webhook) until the reservation expires.
    payment_method: PaymentMethod | None = None


class IntentRequest(Schema):
    product_id: uuid.UUID
    quantity: Quantity


class ConfirmRequest(Schema):
    transaction_id: uuid.UUID
    payment_method: PaymentMethod


class RefundRequest(Schema):
    transaction_id: uuid.UUID
    # Omitted: whatever remains to refund.
    amount: PositiveAmount | None = None
    reason: Reason


class AdminRefundRequest(Schema):
    amount: PositiveAmount | None = None
    reason: Reason


class PayoutRequest(Schema):
    # Omitted: everything available.
    amount: PositiveAmount | None = None


# Validated from a share as the transaction stores it (`Split.to_json`, camelCase).
class RevenueShareRead(ReadSchema):
    recipient_id: uuid.UUID
    license_id: uuid.UUID
    percentage: Percentage
    amount: RowAmount = Field(validation_alias=_minor("amountMinor", "amount"))


class TransactionRead(ReadSchema):
    """Seed `Transactions`, plus the product's title when it was bought, the quantity, the
    seller's part, the currency, the amount refunded so far and, while pending, when the
    reservation ends.

    `platformFee + sum(revenueShares[].amount) + sellerAmount = amount`, to the cent.
    """

    id: uuid.UUID
    transaction_type: str
    buyer_id: uuid.UUID
    seller_id: uuid.UUID
    product_id: uuid.UUID | None
    # The product's title when it was bought.
    product_title: str | None = None
    license_id: uuid.UUID | None
    quantity: int
    amount: RowAmount = Field(validation_alias=_minor("amount_minor", "amount"))
    platform_fee: RowAmount = Field(validation_alias=_minor("platform_fee_minor", "platform_fee"))
    seller_amount: RowAmount = Field(
        validation_alias=_minor("seller_amount_minor", "seller_amount")
    )
    currency: str
    revenue_shares: list[RevenueShareRead]
    payment_method: str | None
    payment_reference: str | None
    status: str
    failure_reason: str | None
    refunded_amount: RowAmount = Field(validation_alias=_minor("refunded_minor", "refunded_amount"))
    expires_at: datetime | None
    processed_at: datetime | None
    created_at: datetime


ProductAvailability = Literal["on_sale", "sold_out", "suspended", "removed", "unlisted"]


class HistoryItemRead(TransactionRead):
    """A transaction in the caller's history, with the part they played in it and, for a
    sale, whether its product is still on sale: a suspended or removed product is no longer
    public, and this says why (`productUnavailableReason`)."""

    role: Role
    product_availability: ProductAvailability | None = None
    product_unavailable_reason: str | None = None


RefundStatusName = Literal["pending", "succeeded", "failed"]


class RefundRead(ReadSchema):
    """A refund: `succeeded` once the provider made it, `pending` while the provider could
    not be reached (it is made later, once). Its amount counts in the transaction's
    `refundedAmount` from the start."""

    id: uuid.UUID
    transaction_id: uuid.UUID
    amount: Amount
    reason: str
    requested_by: uuid.UUID
    status: RefundStatusName
    provider_reference: str | None
    failure_reason: str | None
    created_at: datetime
    processed_at: datetime | None
    transaction: TransactionRead


class BalanceRead(ReadSchema):
    currency: str
    pending: SignedAmount
    available: SignedAmount


class PayoutRead(ReadSchema):
    id: uuid.UUID
    amount: RowAmount = Field(validation_alias=_minor("amount_minor", "amount"))
    currency: str
    status: str
    provider_reference: str | None
    created_at: datetime
    processed_at: datetime | None


class WebhookAck(ReadSchema):
    received: bool = True
    duplicate: bool = False
