"""The verification pages: check a code, AUTHENTIC or NOT AUTHENTIC with the chain link by
link and a QR code of the page's own address, and the owner's sheet of QR labels."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from ipmarket.config import Settings
from ipmarket.kit.db import Database
from ipmarket.transparency.service import sign_checkpoint
from ipmarket.web.verify.qr import qr_svg, verification_url
from tests.rights import Rights
from tests.support import deliver_events
from tests.web.public_support import browser, market, signed_in
from tests.web.support import main_text


def verdict(html: str) -> str:
    match = re.search(r'<h1 class="verdict [a-z-]+">([^<]+)</h1>', html)
    assert match, html
    return match.group(1)


async def test_a_good_product_is_authentic_with_its_chain_and_a_qr_code_of_the_page(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    # given a published product
    world = await market(client, db)
    product = await world.product(title="Fox mug")
    code = product["verificationCode"]
    # when anyone opens its verification page
    page = await client.get(f"/verify/{code}")
    # then it says AUTHENTIC at the top, then the one link up to the original IP
    assert page.status_code == 200
    assert verdict(page.text) == "AUTHENTIC"
    words = main_text(page.text)
    assert words.startswith("AUTHENTIC Fox mug , sold by " + world.seller.username)
    assert "Link 1: the license the product is made under valid" in words
    assert f"Moonlit Fox by {world.creator.username} — the original IP" in words
    assert "Standard, worldwide Status approved" in words
    # and a QR code of the page's own absolute address, inline: no script, no extra request
    url = verification_url(settings, code)
    assert url == f"{settings.public_base_url}/verify/{code}"
    assert str(qr_svg(url, label="QR code of this verification page")) in page.text
    assert f'<a href="{url}">{url}</a>' in page.text
    # and nothing private; never cached, so a revocation shows at once
    assert world.seller.email not in page.text and world.creator.email not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and "style=" not in page.text


async def test_after_the_license_is_revoked_the_same_page_says_not_authentic_and_why(
    client: httpx.AsyncClient, db: Database
) -> None:
    world = await market(client, db)
    product = await world.product(title="Fox mug")
    code = product["verificationCode"]
    assert verdict((await client.get(f"/verify/{code}")).text) == "AUTHENTIC"  # cached now
    # when the creator revokes the license it is made under
    await world.revoke()
    page = await client.get(f"/verify/{code}")
    # then the same page says NOT AUTHENTIC, and the failing link says why
    assert page.status_code == 200
    assert verdict(page.text) == "NOT AUTHENTIC"
    words = main_text(page.text)
    assert "is not authorised now: The product is suspended The license is revoked" in words
    assert "Link 1: the license the product is made under not valid" in words
    assert "Status revoked" in words
    assert "Why it fails The license is revoked" in words


async def test_a_deep_chain_is_shown_link_by_link_and_the_failing_link_named(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a product three licenses below the original IP
    rights = Rights(client, db)
    world = await rights.chain_of_three()
    code = world["p3"]["verificationCode"]
    page = await client.get(f"/verify/{code}")
    words = main_text(page.text)
    # then every link is listed, from the product's own license up to the original IP
    titles = re.findall(r"<dt>IP</dt>\s*<dd>(?:<a [^>]+>)?([^<]+)", page.text)
    assert titles == ["Winter Tales: The Comic", "Moonlit Fox: Winter Tales", "Moonlit Fox"]
    assert words.count(" valid IP ") == 3
    assert f"Link 2: the license {world['s2'].username} holds" in words
    # when the root license is revoked, every product below loses its authorization
    response = await client.put(
        f"/v1/licenses/{world['l1']['id']}/revoke",
        json={"reason": "Terms broken"},
        headers=world["creator"].auth,
    )
    assert response.status_code == 200, response.text
    after = await client.get(f"/verify/{code}")
    assert verdict(after.text) == "NOT AUTHENTIC"
    failing = re.findall(r'<li class="link (ok|failed)">', after.text)
    assert failing[-1] == "failed"


async def test_an_unknown_code_is_not_authentic_with_a_404(client: httpx.AsyncClient) -> None:
    for code in ("0" * 32, "not-a-code", "Z" * 40):
        page = await client.get(f"/verify/{code}")
        assert page.status_code == 404
        assert verdict(page.text) == "NOT AUTHENTIC"
        assert "We have no product with the code" in main_text(page.text)


async def test_the_check_form_opens_the_page_of_a_typed_or_pasted_code(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    world = await market(client, db)
    code = (await world.product(title="Fox mug"))["verificationCode"]
    form = await client.get("/verify")
    assert form.status_code == 200
    assert '<form method="get" action="/verify"' in form.text
    assert 'name="code"' in form.text
    grouped = " ".join(code[i : i + 4] for i in range(0, 32, 4)).upper()
    for typed in (code, f"  {grouped} ", verification_url(settings, code)):
        response = await client.get("/verify", params={"code": typed})
        assert response.status_code == 303, typed
        assert response.headers["location"] == f"/verify/{code}"
    # and something that is not a code is shown beside the box, kept
    wrong = await client.get("/verify", params={"code": "hello"})
    assert wrong.status_code == 422
    assert 'id="e-code"' in wrong.text and 'value="hello"' in wrong.text


async def test_the_owner_prints_a_sheet_of_qr_labels_and_no_one_else_can(
    client: httpx.AsyncClient, db: Database, app: FastAPI, settings: Settings
) -> None:
    world = await market(client, db)
    product = await world.product(title="Fox mug")
    code = product["verificationCode"]
    labels = f"/shop/products/{product['id']}/labels"
    # when the seller opens the labels of their product
    async with browser(app) as seller:
        await signed_in(seller, world.seller)
        sheet = await seller.get(labels, params={"count": "12"})
        # then there are that many labels, each a QR code of the verification page with
        # the product's name and code
        assert sheet.status_code == 200
        assert sheet.text.count('<li class="label">') == 12
        qr = str(qr_svg(verification_url(settings, code), label="QR code to verify Fox mug"))
        assert sheet.text.count(qr) == 12
        assert sheet.text.count("Fox mug</p>") == 12
        assert " ".join(code[i : i + 4] for i in range(0, 32, 4)) in sheet.text
        # and a count it does not offer falls back to a full sheet
        assert (await seller.get(labels, params={"count": "9999"})).text.count(
            '<li class="label">'
        ) == 24
        # and a draft has no code to print yet
        draft = await world.product(title="Draft mug", publish=False)
        early = await seller.get(f"/shop/products/{draft['id']}/labels")
        assert early.status_code == 409
        assert "no verification code yet" in main_text(early.text)
    # but another seller is refused, and so is a buyer, and nothing of it is shown
    other = await world.rights.user("secondary_creator")
    buyer = await world.rights.user("buyer")
    for account in (other, buyer):
        async with browser(app) as stranger:
            await signed_in(stranger, account)
            refused = await stranger.get(labels)
        assert refused.status_code == 403
        assert code not in refused.text
    # and an anonymous visitor is sent to sign in
    anonymous = await client.get(labels)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/sign-in?next=/shop/products/")
    assert (await client.get("/shop/products/nope/labels")).status_code in (303, 404)


async def test_labels_print_without_the_site_around_them(client: httpx.AsyncClient) -> None:
    page = await client.get("/sign-in")
    css_url = re.search(r'href="(/static/app\.[0-9a-f]+\.css)"', page.text)
    assert css_url
    css = (await client.get(css_url.group(1))).text
    printing = css.split("@media print", 1)[1]
    assert "header.site" in printing and ".no-print" in printing and ".labels" in printing


async def test_the_page_says_where_each_link_is_recorded_and_that_it_is_not_anchored(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a published product whose authorizations the log has recorded and signed
    world = await market(client, db)
    product = await world.product(title="Fox mug")
    await deliver_events(db)
    async with db.transaction() as session:
        checkpoint = await sign_checkpoint(session)
    assert checkpoint is not None
    # when anyone opens its verification page
    page = await client.get(f"/verify/{product['verificationCode']}")
    words = main_text(page.text)
    # then it says, in plain words, at which entry each record is and what proves it
    found = re.search(
        rf"Recorded in the public log at entry (\d+) \(leaf index (\d+), as the log's API "
        rf"and the checker name it\), with a proof that it is in the signed "
        rf"log of {checkpoint.tree_size} entries\. Not anchored on a blockchain yet\.",
        words,
    )
    assert found is not None, words
    # people count from 1, the log from 0, and the page names both
    assert int(found.group(1)) == int(found.group(2)) + 1
    assert f"/v1/verify/{product['verificationCode']}/history" in page.text
    assert "tools/verify_proof.py" in words
