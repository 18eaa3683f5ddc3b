"""Request-scoped dependencies of the kernel: the database session and runtime services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.kit.db import Database, commit, discard_after_commit


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed when the route returns, else rolled back."""
    db: Database = request.app.state.db
    async with db.sessionmaker() as session:
        try:
            yield session
            await commit(session)
        except BaseException:
            discard_after_commit(session)
            await session.rollback()
            raise


# scope="function": commit before the response is sent, so a failed commit is an error
# response, not a success the client saw for work that was lost.
DbSession = Annotated[AsyncSession, Depends(_session, scope="function")]
