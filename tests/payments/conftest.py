"""Every payments scenario must leave books that `ipmarket ledger check` passes: after each
test here, the ledger check runs over whatever the test left in the database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ipmarket.kit.db import Database
from ipmarket.payments.ledger.checks import check_ledger


@pytest.fixture(autouse=True)
async def books_pass_the_ledger_check(
    request: pytest.FixtureRequest, db: Database
) -> AsyncIterator[None]:
    yield
    if request.node.get_closest_marker("corrupts_ledger") is not None:
        return  # the test damages the books on purpose (and checks that it is caught)
    async with db.sessionmaker() as session:
        problems = await check_ledger(session)
    assert problems == [], f"ledger check after {request.node.name}: {problems}"
