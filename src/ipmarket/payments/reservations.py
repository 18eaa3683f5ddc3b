"""Reservations: a purchase that is not paid within `settings.payments.reservationMinutes`
gives its stock back. The periodic job that ends them is registered in `handlers`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.payments.service import PaymentService

# Reservations ended per run; a longer backlog is taken up by the next runs.
BATCH = 200


async def expire_reservations(session: AsyncSession, *, limit: int = BATCH) -> int:
    """Cancel the pending purchases whose reservation is over (at the provider too), put
    their stock back on sale and mark them failed (`reservation_expired`); one the provider
    reports paid is completed instead. Returns how many ended."""
    return await PaymentService(session).expire_due(limit=limit)
