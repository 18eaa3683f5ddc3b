"""The log's consumer: every logged event is appended once, in causal order (see
`service.record_event`), from the blockchain queue (the trust layer's own)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.eventbus import Event, Queue, subscribe
from ipmarket.transparency.entries import LOGGED_EVENTS
from ipmarket.transparency.service import record_event

CONSUMER = "transparency.log"


@subscribe(*sorted(LOGGED_EVENTS), consumer=CONSUMER, queue=Queue.BLOCKCHAIN)
async def append_to_log(session: AsyncSession, event: Event) -> None:
    await record_event(session, event)
