"""Reservations: a purchase that is not paid within `settings.payments.reservationMinutes`
gives its stock back. The periodic job that ends them is in `payments.jobs`."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import AppError
from ipmarket.payments.checkout.repository import TransactionRepository
from ipmarket.payments.checkout.settlement import Settlement

log = structlog.get_logger(__name__)

# Reservations ended per run; a longer backlog is taken up by the next runs.
BATCH = 200


async def expire_reservations(session: AsyncSession, *, limit: int = BATCH) -> int:
    """Cancel the pending purchases whose reservation is over (at the provider too), put
    their stock back on sale and mark them failed (`reservation_expired`); one the provider
    reports paid is completed instead. Returns how many ended."""
    settlement = Settlement(session)
    ended = 0
    for tx in await TransactionRepository(session).due_reservations(utcnow(), limit=limit):
        tx_id = tx.id  # the row is expired if its savepoint rolls back
        # Each in a savepoint: one reservation that cannot be ended (its late payment
        # cannot be refunded yet, say) must not hold back the others' stock.
        try:
            async with session.begin_nested():
                ended += await settlement.expire(tx)
        except AppError as exc:
            log.warning("payments.expire_failed", transaction_id=str(tx_id), error=str(exc))
    return ended
