"""In-transaction domain hooks: a module announces a change, and modules above it react in
the same transaction (the outbox is for effects that may happen later, elsewhere).

A lower module dispatches; higher modules register. This keeps the import layers one-way
while a revocation still suspends products at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

E = TypeVar("E")
Hook = Callable[[AsyncSession, Any], Awaitable[None]]

_hooks: dict[type, list[Hook]] = defaultdict(list)


def on(
    event_type: type[E],
) -> Callable[
    [Callable[[AsyncSession, E], Awaitable[None]]], Callable[[AsyncSession, E], Awaitable[None]]
]:
    def register(
        hook: Callable[[AsyncSession, E], Awaitable[None]],
    ) -> Callable[[AsyncSession, E], Awaitable[None]]:
        if hook not in _hooks[event_type]:
            _hooks[event_type].append(hook)
        return hook

    return register


async def dispatch(session: AsyncSession, event: object) -> None:
    for hook in _hooks.get(type(event), []):
        await hook(session, event)
