"""Free-form JSON with NaN, Infinity or a number too large for a float is a 422, not a 500."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity.models import User
from tests.support import STRONG_PASSWORD, register, unique

# Python's json module reads all three of these as floats that are not finite.
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400"]


@pytest.mark.parametrize("number", NON_FINITE)
async def test_register_refuses_non_finite_numbers(
    client: httpx.AsyncClient, session: AsyncSession, number: str
) -> None:
    # given a registration whose profileData holds a number JSON cannot carry
    name = unique()
    raw = (
        f'{{"username": "{name}", "email": "{name}@example.com", "password": "{STRONG_PASSWORD}", '
        f'"userType": "buyer", "profileData": {{"stats": {{"score": [1, {number}]}}}}}}'
    )
    # when it is sent
    response = await client.post(
        "/v1/auth/register", content=raw, headers={"content-type": "application/json"}
    )
    # then it is a validation error naming the path, and no user was created
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert (
        "profileData.stats.score[1] must be a finite number"
        in error["details"]["errors"][0]["message"]
    )
    assert (await session.execute(select(func.count()).select_from(User))).scalar_one() == 0


@pytest.mark.parametrize("number", NON_FINITE)
async def test_profile_update_refuses_non_finite_numbers(
    client: httpx.AsyncClient, session: AsyncSession, number: str
) -> None:
    # given a user with a profile
    account = await register(client, "creator", profileData={"rating": 4.5})
    # when they send a profile with a non-finite number
    response = await client.put(
        "/v1/users/me",
        content=f'{{"profileData": {{"rating": {number}}}}}',
        headers={**account.auth, "content-type": "application/json"},
    )
    # then it is refused and the profile is unchanged
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    me = await client.get("/v1/users/me", headers=account.auth)
    assert me.json()["data"]["profileData"] == {"rating": 4.5}


async def test_finite_numbers_are_kept(client: httpx.AsyncClient) -> None:
    profile = {"big": 12345678.25, "small": -0.0025, "whole": 7}
    account = await register(client, "creator", profileData=profile)
    me = await client.get("/v1/users/me", headers=account.auth)
    assert me.json()["data"]["profileData"] == profile
