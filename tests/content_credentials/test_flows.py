"""What buyers and visitors notice: product images carry signed credentials that point to the
product's verification page; an uploaded image's own credentials are shown."""

from __future__ import annotations

import io

import c2pa
import httpx

from ipmarket.content_credentials import PRODUCT_ASSERTION, Validation, read_credentials
from ipmarket.kit.db import Database
from ipmarket.products.credentials import sign_listed_images
from tests.content_credentials.support import credentialed_png, png
from tests.files.support import path_of, upload
from tests.products.support import open_shop
from tests.rights import Rights


async def _uploaded(client: httpx.AsyncClient, account, content: bytes, name: str) -> str:  # type: ignore[no-untyped-def]
    response = await upload(client, account, content, filename=name, declared_type="image/png")
    assert response.status_code == 201, response.text
    url: str = response.json()["data"]["url"]
    return url


async def test_a_published_products_image_is_served_signed(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a product on sale with a PNG image
    shop = await open_shop(client, db)
    original = png()
    image = await _uploaded(client, shop.seller, original, "mug.png")
    product = await shop.product(images=[image])
    # when the worker's job signs the images of products on sale
    async with db.sessionmaker() as session:
        assert await sign_listed_images(session) == 1
        await session.commit()
        assert await sign_listed_images(session) == 0  # once only
    # then a visitor gets a signed copy naming the product, its chain and its verification page
    seen = (await client.get(f"/v1/products/{product['id']}")).json()["data"]
    served = await client.get(path_of(seen["images"][0]))
    assert served.status_code == 200
    assert served.content != original
    with c2pa.Reader("image/png", io.BytesIO(served.content)) as reader:
        assert reader.get_validation_state() == "Valid"
        manifest = reader.get_active_manifest()
    stated = next(a for a in manifest["assertions"] if a["label"] == PRODUCT_ASSERTION)["data"]
    assert stated["productId"] == product["id"]
    assert shop.license["id"] in stated["licenseChain"]
    code = (await client.get(f"/v1/products/{product['id']}", headers=shop.seller.auth)).json()[
        "data"
    ]["verificationCode"]
    assert stated["verificationUrl"].endswith(f"/verify/{code}")
    # and the seller still edits with the original
    own = (await client.get(f"/v1/products/{product['id']}", headers=shop.seller.auth)).json()
    assert (await client.get(path_of(own["data"]["images"][0]))).content == original
    # and the public product page shows the signed copy
    signed_id = seen["images"][0].split("/v1/files/")[1].split("/")[0]
    page = await client.get(f"/products/{product['id']}")
    assert page.status_code == 200
    assert signed_id in page.text
    # and so does the catalogue's card of it
    assert signed_id in (await client.get("/products")).text


async def test_a_changed_copy_no_longer_validates(client: httpx.AsyncClient, db: Database) -> None:
    shop = await open_shop(client, db)
    product = await shop.product(images=[await _uploaded(client, shop.seller, png(), "a.png")])
    async with db.sessionmaker() as session:
        await sign_listed_images(session)
        await session.commit()
    seen = (await client.get(f"/v1/products/{product['id']}")).json()["data"]
    signed = bytearray((await client.get(path_of(seen["images"][0]))).content)
    signed[signed.rindex(b"IDAT") + 8] ^= 0xFF
    found = read_credentials(bytes(signed), "image/png")
    assert found is not None
    assert found.validation == Validation.INVALID


async def test_an_uploaded_image_with_credentials_shows_them(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a creator uploading an image that carries credentials, and one that carries none
    rights = Rights(client, db)
    creator = await rights.user("creator")
    with_credentials = await _uploaded(client, creator, credentialed_png(), "sketch.png")
    plain = await _uploaded(client, creator, png(), "plain.png")
    # when they register assets with them
    asset = await rights.asset(creator, fileUrls=[with_credentials])
    bare = await rights.asset(creator, fileUrls=[plain])
    # then the API read states the author, tool and that they validate; the other, nothing
    read = (await client.get(f"/v1/ip-assets/{asset['id']}", headers=creator.auth)).json()["data"]
    [credentials] = read["contentCredentials"]
    assert credentials["author"] == "Ada Example"
    assert credentials["tool"] == "Test Studio Painter 1.0"
    assert credentials["validation"] == "valid"
    assert "Ada Example" in credentials["summary"]
    other = (await client.get(f"/v1/ip-assets/{bare['id']}", headers=creator.auth)).json()
    assert other["data"]["contentCredentials"] == []
    # and the public IP page says so in plain words
    page = await client.get(f"/ip/{asset['id']}")
    assert "Content credentials" in page.text
    assert "Ada Example" in page.text
    assert "Content credentials" not in (await client.get(f"/ip/{bare['id']}")).text


async def test_a_renamed_product_gets_its_images_signed_again(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a product on sale whose image is signed
    shop = await open_shop(client, db)
    product = await shop.product(images=[await _uploaded(client, shop.seller, png(), "b.png")])
    async with db.sessionmaker() as session:
        await sign_listed_images(session)
        await session.commit()
    # when the seller renames it
    renamed = await shop.put(product["id"], shop.seller, title="Sunlit Fox mug")
    assert renamed.status_code == 200, renamed.text
    # then the next run signs the image anew, stating the new title
    async with db.sessionmaker() as session:
        assert await sign_listed_images(session) == 1
        await session.commit()
    seen = (await client.get(f"/v1/products/{product['id']}")).json()["data"]
    found = read_credentials((await client.get(path_of(seen["images"][0]))).content, "image/png")
    assert found is not None
    assert found.title == "Sunlit Fox mug"
    assert found.validation == Validation.VALID
