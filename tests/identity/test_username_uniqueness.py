"""Usernames are unique whatever their case, also when requests race each other."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity.models import User
from ipmarket.identity.repository import UserRepository
from tests.support import STRONG_PASSWORD, register, unique


def _race_after_the_check(monkeypatch: pytest.MonkeyPatch, parties: int) -> None:
    """Hold every request after its "is this name taken?" check until all have made it, so
    each sees the name free and the database alone can stop the duplicates."""
    barrier = asyncio.Barrier(parties)
    real_taken: Callable[..., Any] = UserRepository.taken

    async def taken_then_wait(self: UserRepository, **kwargs: Any) -> list[str]:
        result: list[str] = await real_taken(self, **kwargs)
        async with asyncio.timeout(10):
            await barrier.wait()
        return result

    monkeypatch.setattr(UserRepository, "taken", taken_then_wait)


async def test_concurrent_registrations_differing_in_case_admit_one(
    client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given three people registering at the same moment with names differing only in case
    base = unique("Mixed")
    names = [base, base.lower(), base.upper()]
    _race_after_the_check(monkeypatch, parties=len(names))

    async def sign_up(name: str, n: int) -> httpx.Response:
        return await client.post(
            "/v1/auth/register",
            json={
                "username": name,
                "email": f"racer{n}-{unique()}@example.com",
                "password": STRONG_PASSWORD,
                "userType": "buyer",
            },
        )

    # when the requests race
    responses = await asyncio.gather(*(sign_up(name, n) for n, name in enumerate(names)))
    # then exactly one account is created and the others are told the name is taken
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409], [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "CONFLICT"
            assert response.json()["error"]["details"]["fields"] == ["username"]
    count = await session.execute(
        select(func.count()).select_from(User).where(func.lower(User.username) == base.lower())
    )
    assert count.scalar_one() == 1


async def test_concurrent_renames_differing_in_case_admit_one(
    client: httpx.AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given two users who rename themselves at the same moment to names differing in case
    first = await register(client, "buyer")
    second = await register(client, "buyer")
    wanted = unique("Wanted")
    _race_after_the_check(monkeypatch, parties=2)
    # when the renames race
    responses = await asyncio.gather(
        client.put("/v1/users/me", headers=first.auth, json={"username": wanted}),
        client.put("/v1/users/me", headers=second.auth, json={"username": wanted.lower()}),
    )
    # then one gets the name and the other a 409, keeping their old name
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    loser = first if responses[0].status_code == 409 else second
    assert responses[[first, second].index(loser)].json()["error"]["details"]["fields"] == [
        "username"
    ]
    row = (await session.execute(select(User).where(User.id == loser.id))).scalar_one()
    assert row.username == loser.username
