"""The payments module's event consumers (`@subscribe`): each recipient's part of a settled
payment is transferred to their connected account, and taken back by a refund (see
`money_out.transfers`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.eventbus import Event, EventType, Queue, subscribe
from ipmarket.payments.events import PaymentCompleted, RefundProcessed
from ipmarket.payments.money_out.transfers import TransferService

TRANSFER_CONSUMER = "payments.transfer_earnings"
REVERSAL_CONSUMER = "payments.reverse_transfers"


@subscribe(EventType.PAYMENT_COMPLETED, consumer=TRANSFER_CONSUMER, queue=Queue.PAYMENTS)
async def transfer_earnings(session: AsyncSession, event: Event) -> None:
    payload = event.parse(PaymentCompleted)
    await TransferService(session).transfer_parts(payload.transaction_id)


@subscribe(EventType.REFUND_PROCESSED, consumer=REVERSAL_CONSUMER, queue=Queue.PAYMENTS)
async def reverse_transfers(session: AsyncSession, event: Event) -> None:
    payload = event.parse(RefundProcessed)
    await TransferService(session).reverse_for_refund(payload.refund_id)
