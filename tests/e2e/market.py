"""A marketplace with something in it, made through the JSON API, for browser tests about
something else than making it (the story in test_story.py makes it through the pages).

`listed_product(server)`: a creator's approved IP asset with published terms, a secondary
creator's license of it and a product made under that license, on sale. `buyer_of` and
`bought` add a buyer and an order; `revoked` ends the license.
"""

from __future__ import annotations

import random
import string
import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.server import Api, AppServer, Person, approve_ip_asset, make_admin
from tests.e2e.server import register_through_api as registered

_ADMINS: dict[str, Api] = {}


def admin_of(server: AppServer) -> Api:
    """The API signed in as an administrator of `server` (made once per server)."""
    if server.url not in _ADMINS:
        _ADMINS[server.url] = make_admin(server)[1]
    return _ADMINS[server.url]


def word(length: int = 8) -> str:
    """A made-up word of letters only, so a full-text search finds it and nothing else."""
    return "".join(random.choices(string.ascii_lowercase, k=length)).capitalize()


def png_image(width: int = 320, height: int = 240) -> bytes:
    """A PNG of a gradient between two random colours with a disc in the middle: a picture
    of its own each time (its bytes differ from every other one's)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    start, end, disc = (random.choices(range(40, 230), k=3) for _ in range(3))
    # the colour at each x + y, then each row is a slice of that band
    band = b"".join(
        bytes(round(a + (b - a) * i / (width + height)) for a, b in zip(start, end, strict=True))
        for i in range(width + height)
    )
    radius = min(width, height) // 4
    rows = bytearray()
    for y in range(height):
        row = bytearray(band[3 * y : 3 * (y + width)])
        half = max(0, radius**2 - (y - height // 2) ** 2) ** 0.5
        if half:
            left, right = round(width / 2 - half), round(width / 2 + half)
            row[3 * left : 3 * right] = bytes(disc) * (right - left)
        rows += b"\x00" + row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def uploaded(api: Api, data: bytes, name: str = "picture.png") -> str:
    """Upload a file through POST /v1/files as `api`'s user: its URL, for an asset or a
    product."""
    response = httpx.post(
        f"{api.server.url}/v1/files",
        files={"file": (name, data, "image/png")},
        headers={"Authorization": f"Bearer {api.token}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["url"])


@dataclass
class Listed:
    """A product on sale under a license, and everyone who made it."""

    server: AppServer
    creator: Person
    creator_api: Api
    seller: Person
    seller_api: Api
    asset: dict[str, Any]
    terms: dict[str, Any]
    license: dict[str, Any]
    product: dict[str, Any]

    @property
    def product_id(self) -> str:
        return str(self.product["id"])

    @property
    def title(self) -> str:
        return str(self.product["title"])

    @property
    def code(self) -> str:
        return str(self.product["verificationCode"])


def approved_asset(
    server: AppServer, creator: Api, title: str | None = None, description: str | None = None
) -> dict[str, Any]:
    """An IP asset with a picture, submitted and approved by an administrator."""
    asset = creator.post(
        "/ip-assets",
        {
            "title": title or f"{word()} the fox",
            "description": description or "A red fox who keeps the lighthouse on a windy island.",
            "category": "characters",
            "contentType": "image",
            "fileUrls": [uploaded(creator, png_image())],
        },
    )
    creator.post(f"/ip-assets/{asset['id']}/verify")
    return approve_ip_asset(admin_of(server), asset["id"])  # type: ignore[no-any-return]


def published_terms(creator: Api, asset_id: str, **fields: Any) -> dict[str, Any]:
    return creator.post(  # type: ignore[no-any-return]
        f"/ip-assets/{asset_id}/licenses",
        {
            "licenseType": "standard",
            "revenueSharePercentage": 10,
            "territory": "WORLDWIDE",
            "duration": "P1Y",
        }
        | fields,
    )


def licensed(seller: Api, creator: Api, terms: dict[str, Any]) -> dict[str, Any]:
    """The seller's license under `terms`, applied for and approved."""
    application = seller.post(
        "/licenses/apply",
        {
            "ipAssetId": terms["ipAssetId"],
            "licenseTermsId": terms["id"],
            "applicationData": {"plan": "mugs and posters"},
        },
    )
    return creator.put(f"/licenses/{application['id']}/approve")  # type: ignore[no-any-return]


def on_sale(seller: Api, license_id: str, title: str, **fields: Any) -> dict[str, Any]:
    """A product made under the license, with a picture, published."""
    product = seller.post(
        "/products",
        {
            "licenseId": license_id,
            "title": title,
            "description": "A ceramic mug with the fox and its lighthouse.",
            "category": "merchandise",
            "price": 24.5,
            "inventoryCount": 10,
            "images": [uploaded(seller, png_image())],
        }
        | fields,
    )
    product = seller.put(f"/products/{product['id']}", {"status": "active"})
    assert product["verificationCode"], product
    return product  # type: ignore[no-any-return]


def listed_product(
    server: AppServer, *, title: str | None = None, price: float = 24.5, stock: int = 10
) -> Listed:
    """A new creator's approved asset and terms, a new secondary creator's license of it,
    and their product made under it, on sale."""
    creator, creator_api = registered(server, "creator")
    asset = approved_asset(server, creator_api)
    terms = published_terms(creator_api, asset["id"])
    seller, seller_api = registered(server, "secondary_creator")
    license_ = licensed(seller_api, creator_api, terms)
    product = on_sale(
        seller_api,
        license_["id"],
        title or f"{asset['title']} mug {word()}",
        price=price,
        inventoryCount=stock,
    )
    return Listed(server, creator, creator_api, seller, seller_api, asset, terms, license_, product)


def buyer_of(server: AppServer) -> tuple[Person, Api]:
    """A verified buyer, and the API signed in as them."""
    return registered(server, "buyer")


def bought(buyer: Api, product_id: str, quantity: int = 1) -> dict[str, Any]:
    """An order paid with the test Visa card."""
    return buyer.post(  # type: ignore[no-any-return]
        f"/products/{product_id}/purchase",
        {"quantity": quantity, "paymentMethod": "pm_card_visa"},
        **{"Idempotency-Key": str(uuid.uuid4())},
    )


def revoked(listed: Listed, reason: str = "The mugs do not credit the creator.") -> None:
    listed.creator_api.put(f"/licenses/{listed.license['id']}/revoke", {"reason": reason})
