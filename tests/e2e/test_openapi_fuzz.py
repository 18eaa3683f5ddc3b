"""Schemathesis fuzzes the OpenAPI document against the running server: no 5xx, and every
response matches its documented status, content type and schema."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ipmarket.identity import create_admin
from ipmarket.kit.db import Database
from tests.support import STRONG_PASSWORD, unique

# minutes of fuzzing: `make test` runs it, `make test-fast` does not
pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 25


def _token(live_server: str) -> str:
    name = unique("fuzz")
    response = httpx.post(
        f"{live_server}/v1/auth/register",
        json={
            "username": name,
            "email": f"{name}@example.com",
            "password": STRONG_PASSWORD,
            "userType": "creator",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["token"])


def _super_admin_token(live_server: str, database_url: str) -> str:
    async def make() -> str:
        db = Database(database_url, pool_size=1)
        name = unique("fuzzboss")
        async with db.transaction() as session:
            await create_admin(
                session,
                username=name,
                email=f"{name}@example.com",
                password=STRONG_PASSWORD,
                level="super_admin",
            )
        await db.dispose()
        return f"{name}@example.com"

    email = asyncio.run(make())
    response = httpx.post(
        f"{live_server}/v1/auth/login", json={"email": email, "password": STRONG_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["token"])


@pytest.mark.parametrize("caller", ["creator", "super_admin"])
def test_every_operation_conforms_to_its_schema(
    live_server: str, database_url: str, caller: str
) -> None:
    # The first request builds the whole OpenAPI document: on a loaded machine that takes a
    # while, so the loader waits longer than its 10 s default.
    schema = schemathesis.openapi.from_url(f"{live_server}/openapi.json", timeout=120)
    token = (
        _token(live_server)
        if caller == "creator"
        else _super_admin_token(live_server, database_url)
    )
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises here
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            # Business rules the schema cannot state (the password policy comes from
            # platform settings, uniqueness, state) may refuse schema-valid data with 4xx.
            case.call_and_validate(
                base_url=live_server, headers=headers, excluded_checks=[positive_data_acceptance]
            )

        try:
            exercise()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert operations > 10
    assert not failures, "\n\n".join(failures)
