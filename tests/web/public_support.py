"""A small marketplace for the public and verification page tests, made through the API as
users make it (tests/rights.py), and browsers that keep their own cookies."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from ipmarket.kit.db import Database
from tests.rights import Rights
from tests.support import Account
from tests.web.support import sign_in


@dataclass
class Market:
    rights: Rights
    creator: Account
    seller: Account
    asset: dict[str, Any]
    terms: dict[str, Any]
    license: dict[str, Any]
    products: list[dict[str, Any]] = field(default_factory=list)

    async def product(self, **fields: Any) -> dict[str, Any]:
        made = await self.rights.product(self.seller, self.license["id"], **fields)
        self.products.append(made)
        return made

    async def revoke(self) -> None:
        response = await self.rights.client.put(
            f"/v1/licenses/{self.license['id']}/revoke",
            json={"reason": "The seller broke the terms"},
            headers=self.creator.auth,
        )
        assert response.status_code == 200, response.text


async def market(client: httpx.AsyncClient, db: Database, **asset: Any) -> Market:
    """A creator's approved asset with published terms, licensed to a secondary creator."""
    rights = Rights(client, db)
    creator = await rights.user("creator")
    seller = await rights.user("secondary_creator")
    made = await rights.asset(creator, **({"title": "Moonlit Fox"} | asset))
    terms = await rights.terms(creator, made["id"], revenueSharePercentage=12.5, duration="P1Y")
    license_ = await rights.license(seller, creator, made["id"], terms["id"])
    return Market(rights, creator, seller, made, terms, license_)


@contextlib.asynccontextmanager
async def browser(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same server: cookies of its own."""
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=False, client=("203.0.113.8", 5556)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def signed_in(client: httpx.AsyncClient, account: Account) -> httpx.AsyncClient:
    response = await sign_in(client, account.email, account.password)
    assert response.status_code == 303, response.text
    return client
