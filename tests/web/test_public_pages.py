"""The public marketplace pages: home, product search and product pages, the IP catalogue
and asset pages, public profiles. Plain HTML, no sign-in needed, a fixed number of SQL
statements whatever the page size."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from ipmarket.kit.db import Database
from tests.files.support import PNG, upload
from tests.rights import Rights
from tests.web.public_support import browser, market, signed_in
from tests.web.support import main_text, statements_during


def card_titles(html: str) -> list[str]:
    """The titles of the product or asset cards on a page, in order."""
    return re.findall(r'<a class="title" href="/(?:products|ip)/[^"]+">([^<]+)</a>', html)


def only_the_app_script(html: str) -> None:
    """A page works without JavaScript: the one script is the deferred service-worker
    registration, nothing inline, no inline style."""
    scripts = re.findall(r"<script[^>]*>", html)
    assert len(scripts) == 1
    assert re.fullmatch(r'<script src="/static/app\.[0-9a-f]+\.js" defer>', scripts[0])
    assert "style=" not in html


# --- home ------------------------------------------------------------------------------------


async def test_the_home_page_shows_the_newest_products_and_categories_that_open_the_search(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given three products in two categories, the newest last, and a draft in a third
    world = await market(client, db)
    await world.product(title="Hidden draft", category="secrets", publish=False)
    await world.product(title="Fox mug", category="merchandise")
    await world.product(title="Fox poster", category="prints")
    await world.product(title="Fox cup", category="merchandise")
    # when anyone opens the home page
    home = await client.get("/")
    # then it lists the products newest first, and the categories that have products on sale
    assert home.status_code == 200
    assert card_titles(home.text)[:3] == ["Fox cup", "Fox poster", "Fox mug"]
    assert re.findall(r'href="/products\?category=([^"]+)"', home.text) == ["merchandise", "prints"]
    # and a category link narrows the search to it
    narrowed = await client.get("/products?category=merchandise")
    assert sorted(card_titles(narrowed.text)) == ["Fox cup", "Fox mug"]
    only_the_app_script(home.text)


async def test_the_home_page_lists_the_best_sellers_of_the_month(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given three products: one sold three units, one sold one, one not sold
    world = await market(client, db)
    mug = await world.product(title="Fox mug", inventoryCount=10)
    poster = await world.product(title="Fox poster", inventoryCount=10)
    await world.product(title="Fox socks", inventoryCount=10)
    buyer = await world.rights.user("buyer")
    for product, quantity in ((poster, 1), (mug, 3)):
        bought = await client.post(
            f"/v1/products/{product['id']}/purchase",
            json={"quantity": quantity, "paymentMethod": "pm_card_visa"},
            headers=buyer.auth | {"Idempotency-Key": f"popular-{product['id']}"},
        )
        assert bought.status_code in (200, 201), bought.text
    # when anyone opens the home page
    home = await client.get("/")
    # then "popular" lists the sold products, most units first, and not the unsold one
    popular = home.text.split('id="h-popular"', 1)[1].split("</section>", 1)[0]
    assert card_titles(popular) == ["Fox mug", "Fox poster"]
    # and a product taken off sale leaves the list
    await world.revoke()
    assert 'id="h-popular"' not in (await client.get("/")).text


async def test_an_empty_marketplace_says_so(client: httpx.AsyncClient) -> None:
    home = await client.get("/")
    assert home.status_code == 200
    assert "Nothing is on sale yet" in main_text(home.text)
    assert "No IP is open for licensing yet" in main_text(home.text)


# --- search ----------------------------------------------------------------------------------


async def test_a_search_keeps_its_term_in_the_box_and_counts_the_results(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given products of which two mention a lantern
    world = await market(client, db)
    await world.product(title="Lantern mug")
    await world.product(title="Paper lantern", description="A lantern with the fox on it.")
    await world.product(title="Fox socks")
    # when a visitor searches for it
    page = await client.get("/products", params={"q": "lantern"})
    # then the term stays in the box, and the count and the results match it
    assert page.status_code == 200
    assert 'name="q" value="lantern"' in page.text
    assert "2 results for “lantern”" in main_text(page.text)
    assert sorted(card_titles(page.text)) == ["Lantern mug", "Paper lantern"]
    # and the results can be sorted by the relevance the API offers for a search
    assert '<option value="relevance" selected>' in page.text
    only_the_app_script(page.text)


async def test_facets_narrow_the_results_and_each_can_be_removed(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given two sellers' products under two IP assets, at several prices and categories
    world = await market(client, db)
    await world.product(title="Cheap mug", category="merchandise", price=5)
    await world.product(title="Dear mug", category="merchandise", price=50)
    await world.product(title="Mid poster", category="prints", price=20)
    other = await market(client, db, title="Sunny Otter")
    await other.product(title="Otter mug", category="merchandise", price=25)

    async def titles(**params: str) -> list[str]:
        page = await client.get("/products", params=params)
        assert page.status_code == 200, page.text
        return sorted(card_titles(page.text))

    # when the search is narrowed by category, price range, seller and IP asset
    assert await titles(category="merchandise") == ["Cheap mug", "Dear mug", "Otter mug"]
    assert await titles(minPrice="10", maxPrice="30") == ["Mid poster", "Otter mug"]
    assert await titles(category="merchandise", maxPrice="30") == ["Cheap mug", "Otter mug"]
    assert await titles(seller=other.seller.username) == ["Otter mug"]
    assert await titles(ipAssetId=world.asset["id"]) == ["Cheap mug", "Dear mug", "Mid poster"]
    # then the boxes keep the choices, and each filter shows as a chip that removes it
    page = await client.get(
        "/products", params={"category": "merchandise", "maxPrice": "30", "sort": "-price"}
    )
    assert '<option value="merchandise" selected>merchandise</option>' in page.text
    assert 'name="maxPrice" type="number" value="30"' in page.text
    assert card_titles(page.text) == ["Otter mug", "Cheap mug"]  # dearest first
    assert 'href="/products?maxPrice=30&amp;sort=-price">Category: merchandise' in page.text
    assert "2 products on sale" in main_text(page.text)
    # and the IP asset filter is named by its title
    by_asset = await client.get("/products", params={"ipAssetId": world.asset["id"]})
    assert "Made under: Moonlit Fox" in main_text(by_asset.text)
    # and a seller nobody has finds nothing, and says so
    nobody = await client.get("/products", params={"seller": "no_such_seller"})
    assert "No seller is called “no_such_seller”" in main_text(nobody.text)
    assert card_titles(nobody.text) == []


async def test_a_bad_filter_is_shown_beside_its_box_with_the_input_kept(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/products", params={"q": "mug", "minPrice": "cheap"})
    assert page.status_code == 422
    assert 'id="e-minPrice"' in page.text
    assert 'value="cheap"' in page.text and 'name="q" value="mug"' in page.text
    negative = await client.get("/ip", params={"sort": "sideways"})
    assert negative.status_code == 422
    assert 'id="e-sort"' in negative.text


async def test_results_come_in_pages_with_the_filters_kept(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given 21 products in one category
    world = await market(client, db)
    for n in range(21):
        await world.product(title=f"Mug {n:02d}", category="mugs", price=10 + n)
    # when the cheapest first are listed
    first = await client.get("/products", params={"category": "mugs", "sort": "price"})
    # then the first page has 20, and links to the second with the same filters
    assert card_titles(first.text) == [f"Mug {n:02d}" for n in range(20)]
    assert "Page 1 of 2 · 21 in all" in main_text(first.text)
    assert 'href="/products?category=mugs&amp;sort=price&amp;page=2" rel="next"' in first.text
    second = await client.get("/products?category=mugs&sort=price&page=2")
    assert card_titles(second.text) == ["Mug 20"]
    assert 'rel="prev"' in second.text
    # and a page past the end says so
    beyond = await client.get("/products?category=mugs&sort=price&page=9")
    assert "fewer pages than that" in main_text(beyond.text)


async def test_catalogue_pages_run_the_same_statements_for_2_and_for_20_rows(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    world = await market(client, db)
    rights = world.rights

    async def counted(url: str) -> int:
        with statements_during(app.state.db) as seen:
            page = await client.get(url)
        assert page.status_code == 200, page.text
        return len(seen)

    async def counts() -> list[int]:
        return [await counted(u) for u in ("/", "/products", "/products?q=mug", "/ip")]

    # given 2 products and 2 assets (each of its own creator)
    await world.product(title="Mug 0")
    await world.product(title="Mug 1")
    await rights.asset(await rights.user("creator"), title="Asset 1")
    small = await counts()
    # when there are 20 of each
    for n in range(2, 20):
        await world.product(title=f"Mug {n}")
    for n in range(2, 20):
        await rights.asset(await rights.user("creator"), title=f"Asset {n}")
    page = await client.get("/products")
    assert len(card_titles(page.text)) == 20
    ip = await client.get("/ip")
    assert len(card_titles(ip.text)) == 20
    # then each page runs as many statements as before
    assert await counts() == small


# --- product page ----------------------------------------------------------------------------


async def test_the_product_page_shows_price_stock_seller_chain_and_badge(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a product with a picture, under a derivative of an original IP
    rights = Rights(client, db)
    creator = await rights.user("creator")
    s1 = await rights.user("secondary_creator")
    s2 = await rights.user("secondary_creator")
    original = await rights.asset(creator, title="Moonlit Fox")
    t1 = await rights.terms(creator, original["id"])
    l1 = await rights.license(s1, creator, original["id"], t1["id"])
    derivative = await rights.asset(s1, title="Winter Tales", parent_license_id=l1["id"])
    t2 = await rights.terms(s1, derivative["id"], licenseType="premium", territory="FR,DE")
    l2 = await rights.license(s2, s1, derivative["id"], t2["id"])
    picture = (await upload(client, s2, PNG, filename="mug.png")).json()["data"]
    product = await rights.product(
        s2,
        l2["id"],
        title="Winter mug",
        price=24.5,
        inventoryCount=7,
        images=[picture["url"]],
        description="Hand glazed.\nDishwasher safe.",
    )
    # when anyone opens it
    page = await client.get(f"/products/{product['id']}")
    assert page.status_code == 200
    words = main_text(page.text)
    # then it shows the price with its currency, the stock, the seller and the picture
    assert "24.50 USD" in words and "7 in stock" in words
    assert f'href="/people/{s2.username}"' in page.text
    assert f"/v1/files/{picture['id']}/content?expires=" in page.text
    assert 'alt="Winter mug, picture 1 of 1"' in page.text
    # and the chain up to the original IP in plain words, with the authenticity badge
    assert "Authentic — licensed all the way up to the original IP" in words
    assert (
        f"Winter mug is made under a premium license of Winter Tales by {s1.username} , "
        "valid only in DE, FR until" in words
    )
    assert (
        f"Winter Tales is itself licensed: {s1.username} made it under a standard license of "
        f"Moonlit Fox by {creator.username} , valid worldwide" in words
    )
    assert f"Moonlit Fox by {creator.username} is the original IP" in words
    # and no verification code: only its owner sees that
    assert product["verificationCode"] not in page.text
    only_the_app_script(page.text)


async def test_the_buy_form_is_for_signed_in_buyers_and_the_owner_sees_the_code(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    world = await market(client, db)
    product = await world.product(title="Fox mug", inventoryCount=3)
    url = f"/products/{product['id']}"
    # given an anonymous visitor: a link to sign in and come back
    anonymous = await client.get(url)
    assert f'href="/sign-in?next=/products/{product["id"]}">Sign in to buy' in anonymous.text
    assert "/checkout/" not in anonymous.text
    # given a signed-in buyer: the form posts the quantity to the checkout, with its token
    buyer = await world.rights.user("buyer")
    async with browser(app) as shopper:
        page = await (await signed_in(shopper, buyer)).get(url)
    form = re.search(
        rf'<form method="post" action="/checkout/{product["id"]}" class="buy">(.*?)</form>',
        page.text,
        re.DOTALL,
    )
    assert form, page.text
    assert 'name="csrf_token"' in form.group(1)
    assert 'name="quantity" type="number" value="1" min="1" max="3"' in form.group(1)
    # given the seller: no buy form, their verification code and the labels
    async with browser(app) as seller:
        own = await (await signed_in(seller, world.seller)).get(url)
    assert "/checkout/" not in own.text
    assert product["verificationCode"] in own.text
    assert f'href="/shop/products/{product["id"]}/labels"' in own.text
    # given a creator (who cannot buy): told so, no form
    async with browser(app) as creator:
        other = await (await signed_in(creator, world.creator)).get(url)
    assert "/checkout/" not in other.text
    assert "Buying is for buyer accounts" in main_text(other.text)


async def test_a_sold_out_product_has_no_buy_form(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    world = await market(client, db)
    product = await world.product(title="Last mug", inventoryCount=0)
    buyer = await world.rights.user("buyer")
    async with browser(app) as shopper:
        page = await (await signed_in(shopper, buyer)).get(f"/products/{product['id']}")
    assert page.status_code == 200
    assert "Sold out" in main_text(page.text)
    assert "/checkout/" not in page.text


async def test_a_draft_or_suspended_product_is_not_found_for_the_public(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    world = await market(client, db)
    draft = await world.product(title="Draft mug", publish=False)
    listed = await world.product(title="Listed mug")
    assert (await client.get(f"/products/{draft['id']}")).status_code == 404
    assert (await client.get(f"/products/{listed['id']}")).status_code == 200
    # when the creator revokes the license, the product is suspended
    await world.revoke()
    gone = await client.get(f"/products/{listed['id']}")
    assert gone.status_code == 404
    assert "We could not find that" in gone.text
    assert card_titles((await client.get("/products")).text) == []
    # and its seller still sees it, marked not authentic
    async with browser(app) as seller:
        own = await (await signed_in(seller, world.seller)).get(f"/products/{listed['id']}")
    assert own.status_code == 200
    assert "Not authentic" in main_text(own.text)
    assert "The license is revoked" in main_text(own.text)
    # and an id that cannot exist is not found either
    assert (await client.get("/products/not-a-uuid")).status_code == 404


# --- IP catalogue and asset pages ------------------------------------------------------------


async def test_the_ip_catalogue_lists_approved_assets_with_facets(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given approved assets of two creators, in two categories and types, and one in review
    rights = Rights(client, db)
    ann = await rights.user("creator")
    bob = await rights.user("creator")
    await rights.asset(ann, title="Moonlit Fox", category="characters", contentType="image")
    await rights.asset(ann, title="Fox Forest", category="worlds", contentType="text")
    await rights.asset(bob, title="Sunny Otter", category="characters", contentType="image")
    await rights.asset(bob, title="Secret draft", approve=False)
    # when anyone browses the catalogue
    everything = await client.get("/ip")
    # then only the approved ones are listed, with the facets and their counts
    assert sorted(card_titles(everything.text)) == ["Fox Forest", "Moonlit Fox", "Sunny Otter"]
    assert "3 IP assets open for licensing" in main_text(everything.text)
    assert '<option value="characters">characters (2)</option>' in everything.text
    assert '<option value="image">image (2)</option>' in everything.text
    # and the facets, the search and the creator narrow it
    by_type = await client.get("/ip", params={"contentType": "text"})
    assert card_titles(by_type.text) == ["Fox Forest"]
    by_creator = await client.get("/ip", params={"creator": bob.username})
    assert card_titles(by_creator.text) == ["Sunny Otter"]
    search = await client.get("/ip", params={"q": "fox", "category": "characters"})
    assert card_titles(search.text) == ["Moonlit Fox"]
    assert 'name="q" value="fox"' in search.text
    by_title = await client.get("/ip", params={"sort": "title"})
    assert card_titles(by_title.text) == ["Fox Forest", "Moonlit Fox", "Sunny Otter"]
    only_the_app_script(everything.text)


async def test_the_asset_page_states_its_terms_in_plain_words_and_links_to_apply(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    # given an approved asset with terms that ask a fee, for some countries, for six months
    rights = Rights(client, db)
    creator = await rights.user("creator")
    asset = await rights.asset(creator, title="Moonlit Fox")
    await rights.terms(
        creator,
        asset["id"],
        licenseType="exclusive",
        revenueSharePercentage=7.5,
        baseFee=150,
        territory=["JP", "FR"],
        duration="P6M",
        derivativesAllowed=False,
        restrictions="No adult content.",
    )
    # when anyone opens it
    page = await client.get(f"/ip/{asset['id']}")
    words = main_text(page.text)
    # then its creator and terms read in plain words
    assert page.status_code == 200
    assert f'href="/people/{creator.username}"' in page.text
    assert "Exclusive license · version 1" in words
    assert "nobody else may hold a license of this work for the same territory" in words
    assert "7.50% of the price of every sale goes to the licensor" in words
    assert "150.00 USD : held on your card when you apply" in words
    assert "Only in FR, JP." in words
    assert "6 months from approval" in words
    assert "Not allowed: products only, no derivative IP" in words
    assert "No adult content." in words
    # and a button to apply for a license
    assert f'href="/ip/{asset["id"]}/apply">Apply for a license</a>' in page.text
    # but a buyer is told licenses are for secondary creators
    buyer = await rights.user("buyer")
    async with browser(app) as other:
        as_buyer = await (await signed_in(other, buyer)).get(f"/ip/{asset['id']}")
    assert "/apply" not in as_buyer.text
    assert "Licenses are for secondary creator accounts" in main_text(as_buyer.text)


async def test_edited_terms_show_their_versions_to_the_owner(
    client: httpx.AsyncClient, db: Database, app: FastAPI
) -> None:
    # given terms that someone applied under, then changed (a new version)
    world = await market(client, db)
    response = await client.put(
        f"/v1/ip-assets/{world.asset['id']}/licenses/{world.terms['id']}",
        json={"revenueSharePercentage": 20},
        headers=world.creator.auth,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["version"] == 2
    # then the public sees the current version only
    public = await client.get(f"/ip/{world.asset['id']}")
    assert "version 2" in main_text(public.text)
    assert "Earlier versions" not in public.text
    # and the owner sees the earlier one too
    async with browser(app) as owner:
        own = await (await signed_in(owner, world.creator)).get(f"/ip/{world.asset['id']}")
    assert "Earlier versions" in own.text
    assert "12.50%" in main_text(own.text.split("Earlier versions", 1)[1])


async def test_an_asset_in_review_is_not_found_for_the_public(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    hidden = await rights.asset(creator, title="In review", approve=False)
    assert (await client.get(f"/ip/{hidden['id']}")).status_code == 404
    assert (await client.get("/ip/nope")).status_code == 404


# --- people ----------------------------------------------------------------------------------


async def test_a_profile_lists_what_they_license_or_sell_and_nothing_private(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a creator with a bio, and the seller of two products under their IP
    world = await market(client, db)
    response = await client.put(
        "/v1/users/me",
        json={"profileData": {"displayName": "Ann Fox", "bio": "I draw foxes.", "phone": "555"}},
        headers=world.creator.auth,
    )
    assert response.status_code == 200, response.text
    await world.product(title="Fox mug")
    await world.product(title="Fox cup")
    # when anyone opens their profiles
    creator = await client.get(f"/people/{world.creator.username}")
    seller = await client.get(f"/people/{world.seller.username.upper()}")
    # then the creator's shows their IP, the seller's their products
    assert creator.status_code == 200
    assert "Ann Fox" in creator.text and "I draw foxes." in creator.text
    assert card_titles(creator.text) == ["Moonlit Fox"]
    assert seller.status_code == 200
    assert sorted(card_titles(seller.text)) == ["Fox cup", "Fox mug"]
    # and no email or other private data
    for page, account in ((creator, world.creator), (seller, world.seller)):
        assert account.email not in page.text
    assert "555" not in creator.text
    # and no one by that name is a 404
    assert (await client.get("/people/nobody_here")).status_code == 404


async def test_a_suspended_user_has_no_public_profile(
    client: httpx.AsyncClient, db: Database
) -> None:
    world = await market(client, db)
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE users SET status = 'suspended' WHERE id = :id"),
            {"id": world.creator.id},
        )
    assert (await client.get(f"/people/{world.creator.username}")).status_code == 404
