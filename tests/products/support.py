"""A small shop for product tests: a creator's approved asset, license terms, and a secondary
creator holding an approved license, plus the bystanders every ownership test needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ipmarket.kit.db import Database
from tests.files.support import PNG, upload
from tests.rights import Rights
from tests.support import Account


@dataclass
class Shop:
    rights: Rights
    creator: Account
    seller: Account
    asset: dict[str, Any]
    terms: dict[str, Any]
    license: dict[str, Any]

    @property
    def client(self) -> httpx.AsyncClient:
        return self.rights.client

    async def product(self, *, publish: bool = True, **fields: Any) -> dict[str, Any]:
        return await self.rights.product(self.seller, self.license["id"], publish=publish, **fields)

    async def put(self, product_id: str, account: Account | None, **body: Any) -> httpx.Response:
        return await self.client.put(
            f"/v1/products/{product_id}", json=body, headers=account.auth if account else {}
        )

    async def image(self, account: Account | None = None) -> str:
        """The URL of a tiny PNG uploaded by `account` (the seller by default)."""
        response = await upload(
            self.client, account or self.seller, PNG + b"\x00" * 16, filename="mug.png"
        )
        assert response.status_code == 201, response.text
        url: str = response.json()["data"]["url"]
        return url


async def open_shop(client: httpx.AsyncClient, db: Database, **terms: Any) -> Shop:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    seller = await rights.user("secondary_creator")
    asset = await rights.asset(creator, title="Moonlit Fox")
    offered = await rights.terms(creator, asset["id"], **terms)
    license_ = await rights.license(seller, creator, asset["id"], offered["id"])
    assert license_["status"] == "approved"
    return Shop(rights, creator, seller, asset, offered, license_)


def product_body(license_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "licenseId": license_id,
        "title": "Moonlit Fox mug",
        "description": "A ceramic mug with the licensed fox.",
        "category": "merchandise",
        "price": 19.99,
        "inventoryCount": 10,
        **fields,
    }
