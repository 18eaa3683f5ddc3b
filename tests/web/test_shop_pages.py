"""The seller's shop pages: products made under a license, edited, given images and stock,
published with their verification code, and each product's sales; nobody else's."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from ipmarket.config import Settings
from ipmarket.kit.db import Database
from tests.files.support import PDF, PNG, stored_blobs
from tests.rights import Rights
from tests.support import Account
from tests.web.support import csrf_of, main_text, sign_in, statements_during, submit


async def _row(db: Database, sql: str, **params: Any) -> Any:
    async with db.sessionmaker() as session:
        return (await session.execute(text(sql), params)).mappings().one()


async def _scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.sessionmaker() as session:
        return await session.scalar(text(sql), params)


async def _product_row(db: Database, product_id: str) -> Any:
    return await _row(
        db,
        "SELECT title, description, category, price_minor, inventory_count, status, "
        "image_file_ids, license_id FROM products WHERE id = :p",
        p=product_id,
    )


async def _seller_with_license(
    client: httpx.AsyncClient, rights: Rights
) -> tuple[Account, dict[str, Any]]:
    """A signed-in secondary creator holding an approved license of “Moonlit Fox”."""
    creator = await rights.user("creator")
    asset = await rights.asset(creator, title="Moonlit Fox")
    terms = await rights.terms(creator, asset["id"])
    seller = await rights.user("secondary_creator")
    granted = await rights.license(seller, creator, asset["id"], terms["id"])
    assert (await sign_in(client, seller.email, seller.password)).status_code == 303
    return seller, granted


async def _token(client: httpx.AsyncClient) -> str:
    return csrf_of((await client.get("/shop")).text)


# --- create ------------------------------------------------------------------------------


async def test_a_product_is_created_as_a_draft_under_a_license(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a seller holding a license
    rights = Rights(client, db)
    _seller, granted = await _seller_with_license(client, rights)
    form = await client.get(f"/shop/products/new?license={granted['id']}")
    assert f'<option value="{granted["id"]}" selected>' in form.text
    # when they fill in the new product form
    response = await submit(
        client,
        f"/shop/products/new?license={granted['id']}",
        "/shop/products/new",
        licenseId=granted["id"],
        title="Fox mug",
        description="A ceramic mug.",
        category="merchandise",
        price="19.99",
        inventoryCount="12",
    )
    # then a draft exists under the license and its page opens
    assert response.status_code == 303
    product_id = response.headers["location"].rsplit("/", 1)[-1]
    row = await _product_row(db, product_id)
    assert (row["title"], row["price_minor"], row["inventory_count"], row["status"]) == (
        "Fox mug",
        1999,
        12,
        "draft",
    )
    assert str(row["license_id"]) == granted["id"]
    page = await client.get(response.headers["location"])
    words = main_text(page.text)
    assert "19.99 USD" in words and "draft" in words and "Moonlit Fox" in words
    assert "Publish the product to give it its verification code" in words


async def test_a_product_form_with_bad_input_is_refused_beside_its_fields(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    _seller, granted = await _seller_with_license(client, rights)
    response = await submit(
        client,
        "/shop/products/new",
        licenseId=granted["id"],
        category="merchandise",
        price="-3",
        inventoryCount="2",
    )
    assert response.status_code == 422
    assert 'id="e-title"' in response.text and 'id="e-price"' in response.text
    assert 'value="merchandise"' in response.text
    assert await _scalar(db, "SELECT count(*) FROM products") == 0


async def test_a_product_under_someone_elses_license_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a license another seller holds
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"])
    other = await rights.user("secondary_creator")
    theirs = await rights.license(other, creator, asset["id"], terms["id"])
    await _seller_with_license(client, rights)
    # when this seller names it in the form
    response = await submit(
        client,
        "/shop/products/new",
        licenseId=theirs["id"],
        title="Fox mug",
        category="merchandise",
        price="10",
        inventoryCount="1",
    )
    # then it is refused on the license box, and nothing is made
    assert response.status_code == 422
    assert 'id="e-licenseId"' in response.text
    assert await _scalar(db, "SELECT count(*) FROM products") == 0


async def test_buyers_get_403_on_the_shop(client: httpx.AsyncClient, db: Database) -> None:
    rights = Rights(client, db)
    buyer = await rights.user("buyer")
    await sign_in(client, buyer.email, buyer.password)
    for path in ("/shop", "/shop/products/new", f"/shop/products/{uuid.uuid4()}"):
        assert (await client.get(path)).status_code == 403, path
    token = csrf_of((await client.get("/account")).text)
    posted = await client.post(
        "/shop/products/new",
        data={"csrf_token": token, "title": "x", "category": "y", "price": "1"},
    )
    assert posted.status_code == 403
    assert await _scalar(db, "SELECT count(*) FROM products") == 0


# --- one product -----------------------------------------------------------------------------


async def test_publishing_gives_the_verification_code_and_links_to_it_and_the_labels(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a draft
    rights = Rights(client, db)
    seller, granted = await _seller_with_license(client, rights)
    draft = await rights.product(seller, granted["id"], publish=False)
    page = f"/shop/products/{draft['id']}"
    # when the seller publishes it
    done = await submit(client, page, f"{page}/publish")
    # then it is on sale, and its page shows the code with links to verify it and print labels
    assert done.status_code == 303
    assert (await _product_row(db, draft["id"]))["status"] == "active"
    code = await _scalar(
        db, "SELECT verification_code FROM authorization_chain WHERE product_id = :p", p=draft["id"]
    )
    shown = await client.get(page)
    assert code in shown.text
    assert f'href="/verify/{code}"' in shown.text
    assert f'href="{page}/labels"' in shown.text
    # and unpublishing makes it a draft again
    off = await submit(client, page, f"{page}/unpublish")
    assert off.status_code == 303
    assert (await _product_row(db, draft["id"]))["status"] == "draft"


async def test_a_draft_whose_license_was_revoked_cannot_be_published(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"])
    seller = await rights.user("secondary_creator")
    granted = await rights.license(seller, creator, asset["id"], terms["id"])
    draft = await rights.product(seller, granted["id"], publish=False)
    # when the license it is made under is revoked
    await rights.ok(
        await client.put(
            f"/v1/licenses/{granted['id']}/revoke", json={"reason": "Ended"}, headers=creator.auth
        )
    )
    await sign_in(client, seller.email, seller.password)
    page = f"/shop/products/{draft['id']}"
    # then its page says it is suspended, and offers no publishing
    shown = await client.get(page)
    assert "suspended" in main_text(shown.text)
    assert f'action="{page}/publish"' not in shown.text
    # and a publication posted all the same is refused, changing nothing
    refused = await submit(client, page, f"{page}/publish")
    assert refused.status_code == 409
    assert "its license no longer authorises it" in main_text(refused.text)
    assert (await _product_row(db, draft["id"]))["status"] == "suspended"


async def test_editing_saves_the_changes_and_a_refused_edit_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    seller, granted = await _seller_with_license(client, rights)
    product = await rights.product(seller, granted["id"], title="Fox mug", price=19.99)
    edit = f"/shop/products/{product['id']}/edit"
    form = await client.get(edit)
    assert 'value="Fox mug"' in form.text and 'value="19.99"' in form.text
    # when the seller changes the title and price
    saved = await submit(
        client, edit, title="Big fox mug", description="", category="mugs", price="24.50"
    )
    # then they are saved
    assert saved.status_code == 303
    row = await _product_row(db, product["id"])
    assert (row["title"], row["description"], row["category"], row["price_minor"]) == (
        "Big fox mug",
        "",
        "mugs",
        2450,
    )
    # when they empty the title
    refused = await submit(client, edit, description="x", category="mugs", price="30")
    # then the title box says why, and nothing changes
    assert refused.status_code == 422
    assert 'id="e-title"' in refused.text and 'value="30"' in refused.text
    assert (await _product_row(db, product["id"]))["price_minor"] == 2450


async def test_the_stock_is_set_and_a_negative_count_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    seller, granted = await _seller_with_license(client, rights)
    product = await rights.product(seller, granted["id"], inventoryCount=10)
    page = f"/shop/products/{product['id']}"
    assert (await submit(client, page, f"{page}/stock", inventoryCount="4")).status_code == 303
    assert (await _product_row(db, product["id"]))["inventory_count"] == 4
    refused = await submit(client, page, f"{page}/stock", inventoryCount="-1")
    assert refused.status_code == 422
    assert 'id="e-inventoryCount"' in refused.text
    assert (await _product_row(db, product["id"]))["inventory_count"] == 4


async def test_an_image_is_uploaded_shown_and_removed(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    # given a product without images
    rights = Rights(client, db)
    seller, granted = await _seller_with_license(client, rights)
    product = await rights.product(seller, granted["id"])
    page = f"/shop/products/{product['id']}"
    token = csrf_of((await client.get(page)).text)
    # when the seller uploads a PNG through the page's form
    uploaded = await client.post(
        f"/shop/uploads/{product['id']}",
        data={"csrf_token": token},
        files={"file": ("fox.png", PNG, "image/png")},
    )
    # then it is their file, the product's image, and shown on the page
    assert uploaded.status_code == 303, uploaded.text
    [file_id] = (await _product_row(db, product["id"]))["image_file_ids"]
    owner = await _scalar(db, "SELECT owner_id FROM files WHERE id = :f", f=file_id)
    assert owner == seller.id
    shown = await client.get(page)
    assert f"/v1/files/{file_id}/content?" in shown.text
    assert 'alt="Image 1 of' in shown.text
    # when they remove it
    removed = await submit(client, page, f"{page}/images/remove", fileId=str(file_id))
    # then the product has no image
    assert removed.status_code == 303
    assert (await _product_row(db, product["id"]))["image_file_ids"] == []


async def test_a_refused_upload_keeps_nothing(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    rights = Rights(client, db)
    seller, granted = await _seller_with_license(client, rights)
    product = await rights.product(seller, granted["id"])
    token = csrf_of((await client.get(f"/shop/products/{product['id']}")).text)
    before = len(stored_blobs(settings))
    # when the form carries something that is not a recognised file, or no file at all
    junk = await client.post(
        f"/shop/uploads/{product['id']}",
        data={"csrf_token": token},
        files={"file": ("fox.png", b"just some text", "image/png")},
    )
    none = await client.post(
        f"/shop/uploads/{product['id']}",
        data={"csrf_token": token},
        files={"file": ("", b"", "application/octet-stream")},
    )
    # then the file box says why, and no file, row or image is kept
    assert junk.status_code == 422 and 'id="e-file"' in junk.text
    assert "not a recognised type" in junk.text
    assert none.status_code == 422 and 'id="e-file"' in none.text
    assert await _scalar(db, "SELECT count(*) FROM files") == 0
    assert len(stored_blobs(settings)) == before
    assert (await _product_row(db, product["id"]))["image_file_ids"] == []


async def test_uploads_may_pass_the_1_mb_form_limit_and_other_forms_may_not(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    seller, granted = await _seller_with_license(client, rights)
    product = await rights.product(seller, granted["id"])
    page = f"/shop/products/{product['id']}"
    token = csrf_of((await client.get(page)).text)
    big = PDF + b"%" * (1_300_000)
    uploaded = await client.post(
        f"/shop/uploads/{product['id']}",
        data={"csrf_token": token},
        files={"file": ("book.pdf", big, "application/pdf")},
    )
    assert uploaded.status_code == 303, uploaded.text[:300]
    size = await _scalar(db, "SELECT size FROM files")
    assert size == len(big)
    too_big = await client.post(
        f"{page}/stock", data={"csrf_token": token, "inventoryCount": "1" * 1_300_000}
    )
    assert too_big.status_code == 413


async def test_another_sellers_product_is_refused_on_every_page_and_nothing_changes(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a product of another seller
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"])
    other = await rights.user("secondary_creator")
    theirs_license = await rights.license(other, creator, asset["id"], terms["id"])
    theirs = await rights.product(other, theirs_license["id"], title="Their mug", publish=False)
    await _seller_with_license(client, rights)
    token = await _token(client)
    before = await _product_row(db, theirs["id"])
    base = f"/shop/products/{theirs['id']}"
    # when this seller opens or posts each of its pages
    for path in (base, f"{base}/edit"):
        assert (await client.get(path)).status_code == 403, path
    posts = {
        f"{base}/edit": {"title": "Mine now", "category": "x", "price": "1"},
        f"{base}/stock": {"inventoryCount": "0"},
        f"{base}/publish": {},
        f"{base}/unpublish": {},
        f"{base}/images/remove": {"fileId": str(uuid.uuid4())},
    }
    for path, fields in posts.items():
        response = await client.post(path, data={"csrf_token": token, **fields})
        assert response.status_code == 403, path
    upload = await client.post(
        f"/shop/uploads/{theirs['id']}",
        data={"csrf_token": token},
        files={"file": ("fox.png", PNG, "image/png")},
    )
    assert upload.status_code == 403
    # then the product is as it was, and no file was stored
    assert await _product_row(db, theirs["id"]) == before
    assert await _scalar(db, "SELECT count(*) FROM files") == 0
    assert "Their mug" not in main_text((await client.get("/shop")).text)
    assert (await client.get(f"/shop/products/{uuid.uuid4()}")).status_code == 404


async def test_the_product_page_lists_its_sales(client: httpx.AsyncClient, db: Database) -> None:
    # given a product a buyer bought twice with a test card
    rights = Rights(client, db)
    seller, granted = await _seller_with_license(client, rights)
    product = await rights.product(seller, granted["id"], price=19.99)
    other = await rights.product(seller, granted["id"], price=5)
    buyer = await rights.user("buyer")
    for target, quantity in ((product, 2), (product, 1), (other, 1)):
        await rights.ok(
            await client.post(
                f"/v1/products/{target['id']}/purchase",
                json={"quantity": quantity, "paymentMethod": "pm_card_visa"},
                headers={**buyer.auth, "Idempotency-Key": str(uuid.uuid4())},
            ),
            201,
        )
    # when the seller opens the product's page
    page = main_text((await client.get(f"/shop/products/{product['id']}")).text)
    # then its two sales are there, with their amounts and status, and not the other product's
    assert "39.98 USD" in page and "19.99 USD" in page
    assert page.count("completed") == 2
    assert "5.00 USD" not in page


# --- speed -----------------------------------------------------------------------------------


async def test_the_shop_runs_the_same_statements_for_2_and_20_products(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    seller, granted = await _seller_with_license(client, rights)

    async def count() -> int:
        with statements_during(app.state.db) as seen:
            page = await client.get("/shop")
        assert page.status_code == 200
        return len(seen)

    for _ in range(2):
        await rights.product(seller, granted["id"])
    with_two = await count()
    for i in range(18):
        await rights.product(seller, granted["id"], publish=i % 2 == 0)
    with_twenty = await count()
    assert with_two == with_twenty
    assert (await client.get("/shop")).text.count('class="card"') == 20
