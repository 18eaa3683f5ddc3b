"""Events the payments module publishes (through the outbox, in the transaction that
moves the money)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from ipmarket.eventbus import EventPayload, EventType


class ProductPurchased(EventPayload):
    """A sale completed: the buyer paid and the stock is theirs."""

    event_type: ClassVar[EventType] = EventType.PRODUCT_PURCHASED
    transaction_id: uuid.UUID
    product_id: uuid.UUID
    buyer_id: uuid.UUID
    seller_id: uuid.UUID
    quantity: int
    amount_minor: int
    currency: str


class PaymentCompleted(EventPayload):
    event_type: ClassVar[EventType] = EventType.PAYMENT_COMPLETED
    transaction_id: uuid.UUID
    transaction_type: str
    buyer_id: uuid.UUID
    seller_id: uuid.UUID
    amount_minor: int
    platform_fee_minor: int
    currency: str
    payment_reference: str | None


class PaymentFailedEvent(EventPayload):
    """A payment did not happen: declined, its reservation expired, or a license fee's
    authorisation was released. Any stock it held is back on sale."""

    event_type: ClassVar[EventType] = EventType.PAYMENT_FAILED
    transaction_id: uuid.UUID
    transaction_type: str
    buyer_id: uuid.UUID
    amount_minor: int
    currency: str
    reason: str


class RefundProcessed(EventPayload):
    event_type: ClassVar[EventType] = EventType.REFUND_PROCESSED
    refund_id: uuid.UUID
    transaction_id: uuid.UUID
    buyer_id: uuid.UUID
    seller_id: uuid.UUID
    amount_minor: int
    currency: str
    requested_by: uuid.UUID
    reason: str
    fully_refunded: bool
