"""Building blocks for rights tests: verified users, approved assets, terms, licenses and
published products, all made through the API as users would."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import update

from ipmarket.identity import User
from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import Database
from tests.support import Account, create_admin, register


@dataclass
class Rights:
    client: httpx.AsyncClient
    db: Database
    admin: Account | None = None

    async def user(self, user_type: str) -> Account:
        """A registered user whose email is verified."""
        account = await register(self.client, user_type)
        async with self.db.transaction() as session:
            await session.execute(
                update(User).where(User.id == account.id).values(email_verified_at=utcnow())
            )
        return account

    async def reviewer(self) -> Account:
        if self.admin is None:
            self.admin = await create_admin(self.client, self.db, level="super_admin")
        return self.admin

    async def ok(self, response: httpx.Response, status: int = 200) -> dict[str, Any]:
        assert response.status_code == status, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def asset(
        self,
        owner: Account,
        *,
        approve: bool = True,
        parent_license_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        body = {
            "title": fields.pop("title", f"Original work {uuid.uuid4().hex[:6]}"),
            "description": fields.pop(
                "description", "A character with a long history of adventures."
            ),
            "category": fields.pop("category", "characters"),
            "contentType": fields.pop("contentType", "image"),
            **fields,
        }
        if parent_license_id:
            body["parentLicenseId"] = parent_license_id
        asset = await self.ok(
            await self.client.post("/v1/ip-assets", json=body, headers=owner.auth), 201
        )
        if approve:
            await self.ok(
                await self.client.post(f"/v1/ip-assets/{asset['id']}/verify", headers=owner.auth)
            )
            admin = await self.reviewer()
            asset = await self.ok(
                await self.client.put(
                    f"/v1/admin/ip-assets/{asset['id']}/verify",
                    json={"decision": "approved"},
                    headers=admin.auth,
                )
            )
        return asset

    async def terms(self, owner: Account, asset_id: str, **fields: Any) -> dict[str, Any]:
        body = {
            "licenseType": "standard",
            "revenueSharePercentage": 10,
            "territory": "WORLDWIDE",
            "duration": "P1Y",
            **fields,
        }
        return await self.ok(
            await self.client.post(
                f"/v1/ip-assets/{asset_id}/licenses", json=body, headers=owner.auth
            ),
            201,
        )

    async def license(
        self,
        applicant: Account,
        licensor: Account,
        asset_id: str,
        terms_id: str,
        *,
        approve: bool = True,
    ) -> dict[str, Any]:
        application = await self.ok(
            await self.client.post(
                "/v1/licenses/apply",
                json={
                    "ipAssetId": asset_id,
                    "licenseTermsId": terms_id,
                    "applicationData": {"plan": "mugs"},
                },
                headers=applicant.auth,
            ),
            201,
        )
        if approve and application["status"] == "pending":
            application = await self.ok(
                await self.client.put(
                    f"/v1/licenses/{application['id']}/approve", headers=licensor.auth
                )
            )
        return application

    async def product(
        self, seller: Account, license_id: str, *, publish: bool = True, **fields: Any
    ) -> dict[str, Any]:
        body = {
            "licenseId": license_id,
            "title": fields.pop("title", f"Licensed mug {uuid.uuid4().hex[:6]}"),
            "description": fields.pop("description", "A ceramic mug with the licensed character."),
            "category": fields.pop("category", "merchandise"),
            "price": fields.pop("price", 19.99),
            "inventoryCount": fields.pop("inventoryCount", 10),
            **fields,
        }
        product = await self.ok(
            await self.client.post("/v1/products", json=body, headers=seller.auth), 201
        )
        if publish:
            product = await self.ok(
                await self.client.put(
                    f"/v1/products/{product['id']}", json={"status": "active"}, headers=seller.auth
                )
            )
        return product

    async def chain_of_three(self) -> dict[str, Any]:
        """Original asset A (creator) → license L1 to S1 → derivative D1 → L2 to S2 →
        derivative D2 → L3 to S3; each level has a published product."""
        creator = await self.user("creator")
        s1 = await self.user("secondary_creator")
        s2 = await self.user("secondary_creator")
        s3 = await self.user("secondary_creator")
        a = await self.asset(creator, title="Moonlit Fox")
        t1 = await self.terms(creator, a["id"], revenueSharePercentage=10)
        l1 = await self.license(s1, creator, a["id"], t1["id"])
        d1 = await self.asset(s1, title="Moonlit Fox: Winter Tales", parent_license_id=l1["id"])
        t2 = await self.terms(s1, d1["id"], revenueSharePercentage=5)
        l2 = await self.license(s2, s1, d1["id"], t2["id"])
        d2 = await self.asset(s2, title="Winter Tales: The Comic", parent_license_id=l2["id"])
        t3 = await self.terms(s2, d2["id"], revenueSharePercentage=5)
        l3 = await self.license(s3, s2, d2["id"], t3["id"])
        p1 = await self.product(s1, l1["id"], title="Fox plush")
        p2 = await self.product(s2, l2["id"], title="Winter Tales poster")
        p3 = await self.product(s3, l3["id"], title="Comic tote bag")
        return {
            "creator": creator,
            "s1": s1,
            "s2": s2,
            "s3": s3,
            "a": a,
            "d1": d1,
            "d2": d2,
            "l1": l1,
            "l2": l2,
            "l3": l3,
            "p1": p1,
            "p2": p2,
            "p3": p3,
        }
