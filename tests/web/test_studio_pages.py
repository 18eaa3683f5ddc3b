"""The creator studio: IP assets with their files and review, license terms and their
versions, applications received, licenses granted and their revocation, earnings. Every
POST is checked in the database afterwards, refusals included."""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from ipmarket.config import Settings
from ipmarket.kit.db import Database
from tests.files.support import PNG, path_of, stored_blobs
from tests.payments.shop import Shop, freeze
from tests.rights import Rights
from tests.support import Account
from tests.web.support import csrf_of, main_text, sign_in, statements_during, submit


@pytest.fixture
def rights(client: httpx.AsyncClient, db: Database) -> Rights:
    return Rights(client, db)


async def browse_as(client: httpx.AsyncClient, account: Account) -> None:
    """The browser signs in as `account` (anyone signed in before is forgotten)."""
    client.cookies.clear()
    signed_in = await sign_in(client, account.email, account.password)
    assert signed_in.status_code == 303, signed_in.text


async def creator_in_browser(client: httpx.AsyncClient, rights: Rights) -> Account:
    creator = await rights.user("creator")
    await browse_as(client, creator)
    return creator


def png(extra: int = 64) -> bytes:
    """A PNG the sniffer recognises, with content of its own."""
    return PNG + uuid.uuid4().bytes + b"\x00" * extra


async def post_form(
    client: httpx.AsyncClient,
    form_page: str,
    action: str,
    fields: dict[str, Any],
    files: Sequence[tuple[str, bytes]] = (),
) -> httpx.Response:
    """Open `form_page` and post `fields` and `files` (multipart, field `file`) to `action`,
    as the browser does with a form that carries files."""
    page = await client.get(form_page)
    assert page.status_code == 200, page.text
    return await client.post(
        action,
        data={"csrf_token": csrf_of(page.text), **fields},
        files=[("file", (name, content, "application/octet-stream")) for name, content in files]
        or [("file", ("", b"", "application/octet-stream"))],
    )


async def rows(db: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    async with db.sessionmaker() as session:
        result = await session.execute(text(sql), params)
        return [dict(r._mapping) for r in result]


async def count(db: Database, table: str) -> int:
    [row] = await rows(db, f"SELECT count(*) AS n FROM {table}")
    return int(row["n"])


ASSET: dict[str, Any] = {
    "title": "Moonlit Fox",
    "description": "A fox who walks the rooftops at night.",
    "category": "characters",
    "contentType": "image",
}


# --- who may use the studio ------------------------------------------------------------------


@pytest.mark.parametrize("user_type", ["buyer", "secondary_creator"])
async def test_users_who_are_not_creators_get_403(
    client: httpx.AsyncClient, rights: Rights, user_type: str
) -> None:
    # given a signed-in buyer or secondary creator
    await browse_as(client, await rights.user(user_type))
    # when they open studio pages, then they are refused
    for path in ("/studio", "/studio/assets/new", "/studio/applications", "/studio/licenses"):
        page = await client.get(path)
        assert page.status_code == 403, path
        assert "permission" in main_text(page.text)


async def test_signed_out_visitors_are_sent_to_sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/studio/licenses")
    assert page.status_code == 303
    assert page.headers["location"] == "/sign-in?next=/studio/licenses"


async def test_an_upload_from_someone_who_may_not_register_is_refused_unread(
    client: httpx.AsyncClient, rights: Rights, db: Database, settings: Settings
) -> None:
    # given a signed-out browser, then a buyer's
    for who in (None, await rights.user("buyer")):
        client.cookies.clear()
        if who is not None:
            await browse_as(client, who)
        # when it posts a file to the register form (no CSRF token: the visitor is
        # checked before the body is read, so the refusal is about the visitor)
        response = await client.post(
            "/studio/assets/new", data=ASSET, files={"file": ("fox.png", png(), "image/png")}
        )
        # then it is sent to sign in, or refused, and nothing is stored
        assert response.status_code == (303 if who is None else 403), response.text
    assert await count(db, "ip_assets") == 0
    assert await count(db, "files") == 0
    assert stored_blobs(settings) == []


async def test_an_upload_without_the_csrf_token_stores_nothing(
    client: httpx.AsyncClient, rights: Rights, db: Database, settings: Settings
) -> None:
    await creator_in_browser(client, rights)
    await client.get("/studio/assets/new")
    response = await client.post(
        "/studio/assets/new", data=ASSET, files={"file": ("fox.png", png(), "image/png")}
    )
    assert response.status_code == 403
    assert "did not come from this site" in main_text(response.text)
    assert await count(db, "ip_assets") == 0
    assert stored_blobs(settings) == []


# --- registering an asset with its files -----------------------------------------------------


async def test_registering_an_asset_stores_its_files_as_the_api_does(
    client: httpx.AsyncClient, rights: Rights, db: Database, settings: Settings
) -> None:
    # given a creator in the browser, and an image larger than a plain form may be
    creator = await creator_in_browser(client, rights)
    image = png(extra=1_200_000)
    assert len(image) > settings.max_body_bytes
    # when they register an asset with it and a second file
    response = await post_form(
        client,
        "/studio/assets/new",
        "/studio/assets/new",
        ASSET,
        files=[("fox.png", image), ("sketch.png", png())],
    )
    # then the asset is theirs, a draft, with both files in order
    assert response.status_code == 303, response.text
    [asset] = await rows(db, "SELECT * FROM ip_assets")
    assert response.headers["location"] == f"/studio/assets/{asset['id']}"
    assert asset["creator_id"] == creator.id and asset["title"] == "Moonlit Fox"
    assert asset["verification_status"] == "pending" and asset["submitted_at"] is None
    files = {
        f["id"]: f for f in await rows(db, "SELECT * FROM files WHERE owner_id = :u", u=creator.id)
    }
    assert set(asset["file_ids"]) == set(files) and len(files) == 2
    first = files[asset["file_ids"][0]]
    # and the first file was sniffed, hashed and stored like an upload to /v1/files
    assert first["content_type"] == "image/png"
    assert first["size"] == len(image)
    assert first["sha256"] == hashlib.sha256(image).hexdigest()
    assert first["original_filename"] == "fox.png"
    assert len(stored_blobs(settings)) == 2
    # and the asset's page says so, and links the file, whose bytes come back
    page = await client.get(response.headers["location"])
    assert "registered as a draft" in main_text(page.text)
    assert "draft" in main_text(page.text)
    link = re.search(rf'href="([^"]*/v1/files/{first["id"]}/content[^"]*)"', page.text)
    assert link is not None
    served = await client.get(path_of(html.unescape(link.group(1))))
    assert served.status_code == 200 and served.content == image


async def test_a_file_the_sniffer_does_not_recognise_is_refused_beside_the_field(
    client: httpx.AsyncClient, rights: Rights, db: Database, settings: Settings
) -> None:
    # given a creator, and a text file named like an image
    await creator_in_browser(client, rights)
    # when they register an asset with it beside a good image
    response = await post_form(
        client,
        "/studio/assets/new",
        "/studio/assets/new",
        ASSET,
        files=[("fine.png", png()), ("fake.png", b"just some text, not an image at all")],
    )
    # then the form comes back with the sniffer's message on the file box, the typed
    # input kept, and nothing at all is stored: no asset, no file row, no blob
    assert response.status_code == 422
    assert 'id="e-file"' in response.text
    assert "not a recognised type" in response.text
    assert 'value="Moonlit Fox"' in response.text
    assert await count(db, "ip_assets") == 0
    assert await count(db, "files") == 0
    assert stored_blobs(settings) == []


async def test_a_refused_form_stores_no_file(
    client: httpx.AsyncClient, rights: Rights, db: Database, settings: Settings
) -> None:
    await creator_in_browser(client, rights)
    response = await post_form(
        client,
        "/studio/assets/new",
        "/studio/assets/new",
        {"description": "No title", "category": "characters", "contentType": "image"},
        files=[("fox.png", png())],
    )
    assert response.status_code == 422
    assert 'id="e-title"' in response.text and "Field required" in response.text
    assert await count(db, "ip_assets") == 0
    assert await count(db, "files") == 0
    assert stored_blobs(settings) == []


async def test_other_forms_keep_the_plain_body_limit(
    client: httpx.AsyncClient, rights: Rights, db: Database, settings: Settings
) -> None:
    # given a creator's asset
    creator = await creator_in_browser(client, rights)
    asset = await rights.asset(creator, approve=False)
    page = await client.get(f"/studio/assets/{asset['id']}/terms")
    # when a terms form arrives larger than a plain form may be
    response = await client.post(
        f"/studio/assets/{asset['id']}/terms",
        data={
            "csrf_token": csrf_of(page.text),
            "licenseType": "standard",
            "revenueSharePercentage": "10",
            "territory": "WORLDWIDE",
            "duration": "P1Y",
            "requirements": "x" * (settings.max_body_bytes + 1),
        },
    )
    # then it is refused for its size, and no terms are made
    assert response.status_code == 413
    assert await count(db, "license_terms") == 0


# --- review, editing ----------------------------------------------------------------------------


async def test_submitting_for_review_shows_on_the_overview(
    client: httpx.AsyncClient, rights: Rights, db: Database
) -> None:
    # given a creator's draft
    creator = await creator_in_browser(client, rights)
    asset = await rights.asset(creator, approve=False, title="Draft fox")
    overview = await client.get("/studio")
    assert "Draft fox" in overview.text and "status-draft" in overview.text
    # when they submit it for review
    done = await submit(
        client, f"/studio/assets/{asset['id']}", f"/studio/assets/{asset['id']}/submit"
    )
    # then it waits for review
    assert done.status_code == 303
    [row] = await rows(db, "SELECT submitted_at FROM ip_assets WHERE id = :a", a=asset["id"])
    assert row["submitted_at"] is not None
    overview = await client.get("/studio")
    assert "status-pending-review" in overview.text
    # and submitting again is refused with the service's reason, changing nothing
    page = await client.get(f"/studio/assets/{asset['id']}")
    assert "Submit for review" not in main_text(page.text)
    again = await client.post(
        f"/studio/assets/{asset['id']}/submit", data={"csrf_token": csrf_of(page.text)}
    )
    assert again.status_code == 409
    assert "already waiting for review" in main_text(again.text)
    [after] = await rows(db, "SELECT submitted_at FROM ip_assets WHERE id = :a", a=asset["id"])
    assert after["submitted_at"] == row["submitted_at"]


async def test_a_material_edit_of_an_approved_asset_sends_it_back_to_review(
    client: httpx.AsyncClient, rights: Rights, db: Database
) -> None:
    # given an approved asset nobody holds a license of
    creator = await creator_in_browser(client, rights)
    asset = await rights.asset(creator, title="Old title")
    # when the creator changes its title
    edit = f"/studio/assets/{asset['id']}/edit"
    done = await submit(client, edit, **(ASSET | {"title": "New title"}))
    # then it is saved and pending review again, and the page says so
    assert done.status_code == 303
    [row] = await rows(
        db, "SELECT title, verification_status FROM ip_assets WHERE id = :a", a=asset["id"]
    )
    assert row == {"title": "New title", "verification_status": "pending"}
    page = await client.get(done.headers["location"])
    assert "back to review" in main_text(page.text)


async def test_an_edit_while_licenses_are_in_force_is_refused_with_the_services_message(
    client: httpx.AsyncClient, rights: Rights, db: Database
) -> None:
    # given an approved asset with a license in force
    creator = await creator_in_browser(client, rights)
    asset = await rights.asset(creator, **(ASSET | {"title": "Licensed fox"}))
    terms = await rights.terms(creator, asset["id"])
    await rights.license(await rights.user("secondary_creator"), creator, asset["id"], terms["id"])
    edit = f"/studio/assets/{asset['id']}/edit"
    form = await client.get(edit)
    assert "such a change is refused" in main_text(form.text)
    # when the creator changes its title
    refused = await submit(client, edit, **(ASSET | {"title": "Renamed fox"}))
    # then the service's refusal is shown with the form, input kept, and nothing changes
    assert refused.status_code == 409
    assert "cannot change while they last" in main_text(refused.text)
    assert 'value="Renamed fox"' in refused.text
    [row] = await rows(
        db,
        "SELECT title, category, verification_status FROM ip_assets WHERE id = :a",
        a=asset["id"],
    )
    assert row == {
        "title": "Licensed fox",
        "category": "characters",
        "verification_status": "approved",
    }
    # and a change of category only is not material: saved, still approved
    done = await submit(client, edit, **(ASSET | {"title": "Licensed fox", "category": "mascots"}))
    assert done.status_code == 303
    [row] = await rows(
        db, "SELECT category, verification_status FROM ip_assets WHERE id = :a", a=asset["id"]
    )
    assert row == {"category": "mascots", "verification_status": "approved"}


async def test_files_are_added_and_removed_on_the_edit_page(
    client: httpx.AsyncClient, rights: Rights, db: Database, settings: Settings
) -> None:
    # given a creator's draft without files
    creator = await creator_in_browser(client, rights)
    asset = await rights.asset(creator, approve=False, **ASSET)
    edit = f"/studio/assets/{asset['id']}/edit"
    # when they add a file
    added = await post_form(client, edit, f"/studio/uploads/{asset['id']}", {}, [("a.png", png())])
    # then the asset has it
    assert added.status_code == 303, added.text
    [row] = await rows(db, "SELECT file_ids FROM ip_assets WHERE id = :a", a=asset["id"])
    assert len(row["file_ids"]) == 1
    # and adding nothing is refused beside the file box
    nothing = await post_form(client, edit, f"/studio/uploads/{asset['id']}", {})
    assert nothing.status_code == 422 and 'id="e-file"' in nothing.text
    # when they save the form with the file unticked, then it is removed
    page = await client.get(edit)
    assert f'value="{row["file_ids"][0]}" checked' in page.text
    removed = await submit(client, edit, **ASSET)
    assert removed.status_code == 303
    [after] = await rows(db, "SELECT file_ids FROM ip_assets WHERE id = :a", a=asset["id"])
    assert after["file_ids"] == []
    assert len(stored_blobs(settings)) == 1  # the file itself stays the creator's upload


# --- license terms and their versions --------------------------------------------------------


TERMS = {
    "licenseType": "standard",
    "revenueSharePercentage": "12.5",
    "baseFee": "0",
    "territory": "FR, DE",
    "duration": "P6M",
    "derivativesAllowed": "true",
}


async def test_terms_change_in_place_until_someone_applies_then_get_a_new_version(
    client: httpx.AsyncClient, rights: Rights, db: Database
) -> None:
    # given a creator's approved asset
    creator = await creator_in_browser(client, rights)
    asset = await rights.asset(creator)
    terms_page = f"/studio/assets/{asset['id']}/terms"
    # when they publish terms
    published = await submit(client, terms_page, **TERMS)
    # then the terms exist as typed, derivatives allowed, not auto-approved
    assert published.status_code == 303, published.text
    [terms] = await rows(db, "SELECT * FROM license_terms WHERE ip_asset_id = :a", a=asset["id"])
    assert (terms["territory"], terms["duration"], terms["version"]) == ("DE,FR", "P6M", 1)
    assert terms["derivatives_allowed"] is True and terms["auto_approve"] is False
    # when they change the share before anyone applied, then the same terms change
    edit = f"{terms_page}/{terms['id']}"
    changed = await submit(client, edit, **(TERMS | {"revenueSharePercentage": "15"}))
    assert changed.status_code == 303
    [same] = await rows(db, "SELECT * FROM license_terms WHERE ip_asset_id = :a", a=asset["id"])
    assert same["id"] == terms["id"] and same["revenue_share_percentage"] == 15
    # given someone applied under them
    applicant = await rights.user("secondary_creator")
    await rights.license(applicant, creator, asset["id"], str(terms["id"]), approve=False)
    # when the creator forbids derivatives (the box unticked)
    no_derivatives = {k: v for k, v in TERMS.items() if k != "derivativesAllowed"}
    versioned = await submit(client, edit, **(no_derivatives | {"revenueSharePercentage": "15"}))
    # then version 2 is current, and version 1 stays as the applicant saw it
    assert versioned.status_code == 303
    versions = await rows(
        db,
        "SELECT version, is_current, derivatives_allowed FROM license_terms "
        "WHERE ip_asset_id = :a ORDER BY version",
        a=asset["id"],
    )
    assert versions == [
        {"version": 1, "is_current": False, "derivatives_allowed": True},
        {"version": 2, "is_current": True, "derivatives_allowed": False},
    ]
    page = await client.get(versioned.headers["location"])
    assert "Saved as version 2" in main_text(page.text)
    assert "Every version" in page.text and "version 2" in main_text(page.text)
    # and saving the current version unchanged makes no version 3
    current = await rows(
        db, "SELECT id FROM license_terms WHERE ip_asset_id = :a AND is_current", a=asset["id"]
    )
    unchanged = await submit(
        client,
        f"{terms_page}/{current[0]['id']}",
        **(no_derivatives | {"revenueSharePercentage": "15"}),
    )
    assert unchanged.status_code == 422
    assert "Nothing to update" in main_text(unchanged.text)
    assert await count(db, "license_terms") == 2


async def test_bad_terms_are_shown_beside_their_fields_and_make_nothing(
    client: httpx.AsyncClient, rights: Rights, db: Database
) -> None:
    creator = await creator_in_browser(client, rights)
    asset = await rights.asset(creator)
    terms_page = f"/studio/assets/{asset['id']}/terms"
    refused = await submit(
        client,
        terms_page,
        **(TERMS | {"territory": "FR, XX", "revenueSharePercentage": "150", "duration": "soon"}),
    )
    assert refused.status_code == 422
    for name in ("territory", "revenueSharePercentage", "duration"):
        assert f'id="e-{name}"' in refused.text, name
    assert "XX" in refused.text  # the message names the bad code
    assert await count(db, "license_terms") == 0
    # and a share that the platform's cap refuses is shown on the share box
    capped = await submit(client, terms_page, **(TERMS | {"revenueSharePercentage": "95"}))
    assert capped.status_code == 422
    assert 'id="e-revenueSharePercentage"' in capped.text
    assert await count(db, "license_terms") == 0


# --- applications ----------------------------------------------------------------------------


async def test_applications_are_approved_and_rejected_with_a_reason(
    client: httpx.AsyncClient, rights: Rights, db: Database
) -> None:
    # given two applications for a creator's asset
    creator = await creator_in_browser(client, rights)
    asset = await rights.asset(creator, title="Moonlit Fox")
    terms = await rights.terms(creator, asset["id"])
    first, second = [await rights.user("secondary_creator") for _ in range(2)]
    one = await rights.license(first, creator, asset["id"], terms["id"], approve=False)
    two = await rights.license(second, creator, asset["id"], terms["id"], approve=False)
    listing = await client.get("/studio/applications")
    assert first.username in listing.text and second.username in listing.text
    overview = await client.get("/studio")
    assert "2 waiting" in main_text(overview.text)
    # when the creator approves the first
    approved = await submit(
        client, f"/studio/applications/{one['id']}", f"/studio/applications/{one['id']}/approve"
    )
    # then it is a license
    assert approved.status_code == 303
    [row] = await rows(db, "SELECT status FROM license_applications WHERE id = :i", i=one["id"])
    assert row["status"] == "approved"
    # when they reject the second without a reason
    reject = f"/studio/applications/{two['id']}"
    refused = await submit(client, reject, f"{reject}/reject", reason="")
    # then the reason box says so, and the application still waits
    assert refused.status_code == 422
    assert 'id="e-reason"' in refused.text and "Field required" in refused.text
    [row] = await rows(db, "SELECT status FROM license_applications WHERE id = :i", i=two["id"])
    assert row["status"] == "pending"
    # when they give a reason, then it is rejected with it
    rejected = await submit(client, reject, f"{reject}/reject", reason="Not a fit for mugs")
    assert rejected.status_code == 303
    [row] = await rows(
        db,
        "SELECT status, rejection_reason FROM license_applications WHERE id = :i",
        i=two["id"],
    )
    assert row == {"status": "rejected", "rejection_reason": "Not a fit for mugs"}
    # and approving it now is refused with the service's reason, changing nothing
    page = await client.get(reject)
    late = await client.post(f"{reject}/approve", data={"csrf_token": csrf_of(page.text)})
    assert late.status_code == 409 and "not pending" in main_text(late.text)
    [row] = await rows(db, "SELECT status FROM license_applications WHERE id = :i", i=two["id"])
    assert row["status"] == "rejected"


# --- licenses and revocation -----------------------------------------------------------------


async def test_the_revoke_page_states_what_the_revocation_suspends_below_it(
    client: httpx.AsyncClient, rights: Rights, db: Database
) -> None:
    # given A → L1 → D1 → L2 → D2 → L3, a product under each license
    chain = await rights.chain_of_three()
    await browse_as(client, chain["creator"])
    licenses = await client.get("/studio/licenses")
    assert chain["s1"].username in licenses.text
    revoke = f"/studio/licenses/{chain['l1']['id']}/revoke"
    # when the creator opens the revocation of L1
    page = await client.get(revoke)
    text_of_page = main_text(page.text)
    # then the page names everything that will go with it
    assert "3 products taken off sale" in text_of_page
    for title in ("Fox plush", "Winter Tales poster", "Comic tote bag"):
        assert title in text_of_page
    assert "2 derivative works suspended" in text_of_page
    for title in ("Moonlit Fox: Winter Tales", "Winter Tales: The Comic"):
        assert title in text_of_page
    assert "2 licenses under those works" in text_of_page
    assert chain["s2"].username in text_of_page and chain["s3"].username in text_of_page
    # when they confirm without a reason, then nothing changes
    refused = await submit(client, revoke, reason="")
    assert refused.status_code == 422 and 'id="e-reason"' in refused.text
    assert "3 products taken off sale" in main_text(refused.text)
    products = "SELECT title, status FROM products ORDER BY title"
    assert {r["status"] for r in await rows(db, products)} == {"active"}
    # when they confirm with a reason
    done = await submit(client, revoke, reason="The licensee broke the terms")
    # then the license is revoked and exactly what the page named is suspended
    assert done.status_code == 303
    [row] = await rows(
        db,
        "SELECT status, revocation_reason FROM license_applications WHERE id = :i",
        i=chain["l1"]["id"],
    )
    assert row == {"status": "revoked", "revocation_reason": "The licensee broke the terms"}
    suspended = await rows(db, "SELECT title FROM products WHERE status = 'suspended'")
    assert {r["title"] for r in suspended} == {"Fox plush", "Winter Tales poster", "Comic tote bag"}
    derived = await rows(db, "SELECT title FROM ip_assets WHERE status = 'suspended'")
    assert {r["title"] for r in derived} == {"Moonlit Fox: Winter Tales", "Winter Tales: The Comic"}
    after = await client.get(done.headers["location"])
    assert "3 products and 2 derivative works were suspended" in main_text(after.text)
    # and the revoked license has nothing left to revoke
    again = await client.get(revoke)
    assert "nothing to revoke" in main_text(again.text)


async def test_a_license_with_nothing_below_it_says_so(
    client: httpx.AsyncClient, rights: Rights
) -> None:
    creator = await creator_in_browser(client, rights)
    asset = await rights.asset(creator)
    terms = await rights.terms(creator, asset["id"])
    held = await rights.license(
        await rights.user("secondary_creator"), creator, asset["id"], terms["id"]
    )
    page = await client.get(f"/studio/licenses/{held['id']}/revoke")
    assert "Nothing else rests on this license" in main_text(page.text)


# --- earnings -------------------------------------------------------------------------------


async def test_the_overview_shows_what_the_creator_earned(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a sale of 19.99 under a creator's license with a 10% share
    freeze()
    shop = Shop(client, db)
    product, _, creator = await shop.product(price=19.99, share=10)
    await shop.bought(await shop.buyer(), product["id"])
    await browse_as(client, creator)
    # when the creator opens the studio, then their 2.00 share is shown, with a way on
    page = await client.get("/studio")
    assert "2.00 USD" in main_text(page.text)
    assert 'href="/money"' in page.text


# --- another creator's objects ---------------------------------------------------------------


async def test_another_creators_objects_are_refused_and_nothing_changes(
    client: httpx.AsyncClient, rights: Rights, db: Database, settings: Settings
) -> None:
    # given another creator's asset with terms, a pending application and a license
    other = await rights.user("creator")
    asset = await rights.asset(other, title="Not yours")
    terms = await rights.terms(other, asset["id"])
    pending = await rights.license(
        await rights.user("secondary_creator"), other, asset["id"], terms["id"], approve=False
    )
    granted = await rights.license(
        await rights.user("secondary_creator"), other, asset["id"], terms["id"]
    )
    before = {
        "assets": await rows(db, "SELECT title, file_ids, submitted_at FROM ip_assets"),
        "terms": await rows(db, "SELECT id, version, revenue_share_percentage FROM license_terms"),
        "licenses": await rows(db, "SELECT id, status FROM license_applications ORDER BY id"),
    }
    # and a creator in the browser, with a form token of their own
    me = await creator_in_browser(client, rights)
    own = await rights.asset(me, approve=False)
    token = csrf_of((await client.get(f"/studio/assets/{own['id']}/edit")).text)
    a, t, p, g = asset["id"], terms["id"], pending["id"], granted["id"]
    # when they open or post to any page naming the other creator's objects
    gets = {
        f"/studio/assets/{a}": 403,
        f"/studio/assets/{a}/edit": 403,
        f"/studio/assets/{a}/terms": 403,
        f"/studio/assets/{a}/terms/{t}": 403,
        f"/studio/applications/{p}": 404,
        f"/studio/licenses/{g}/revoke": 404,
    }
    posts: dict[str, tuple[int, dict[str, str]]] = {
        f"/studio/assets/{a}/edit": (403, ASSET | {"title": "Taken"}),
        f"/studio/assets/{a}/submit": (403, {}),
        f"/studio/assets/{a}/terms": (403, TERMS),
        f"/studio/assets/{a}/terms/{t}": (403, TERMS | {"revenueSharePercentage": "50"}),
        f"/studio/applications/{p}/approve": (404, {}),
        f"/studio/applications/{p}/reject": (404, {"reason": "Taken over"}),
        f"/studio/licenses/{g}/revoke": (404, {"reason": "Taken over"}),
    }
    for path, status in gets.items():
        assert (await client.get(path)).status_code == status, path
    for path, (status, fields) in posts.items():
        response = await client.post(path, data={"csrf_token": token, **fields})
        assert response.status_code == status, (path, response.text)
    upload = await client.post(
        f"/studio/uploads/{a}",
        data={"csrf_token": token},
        files={"file": ("x.png", png(), "image/png")},
    )
    assert upload.status_code == 403
    # then nothing of theirs changed, and no file was kept
    after = {
        "assets": await rows(
            db, "SELECT title, file_ids, submitted_at FROM ip_assets WHERE id = :a", a=a
        ),
        "terms": await rows(db, "SELECT id, version, revenue_share_percentage FROM license_terms"),
        "licenses": await rows(db, "SELECT id, status FROM license_applications ORDER BY id"),
    }
    assert after == before
    assert await count(db, "files") == 0 and stored_blobs(settings) == []


# --- query counts ---------------------------------------------------------------------------


async def statements_of(client: httpx.AsyncClient, app: FastAPI, path: str) -> int:
    with statements_during(app.state.db) as seen:
        page = await client.get(path)
    assert page.status_code == 200, page.text
    return len(seen)


async def test_list_pages_run_as_many_statements_for_20_rows_as_for_2(
    client: httpx.AsyncClient, rights: Rights, app: FastAPI
) -> None:
    # given a creator whose assets, applications and licenses grow from 2 to 20
    creator = await creator_in_browser(client, rights)
    main = await rights.asset(creator)
    applicants = [await rights.user("secondary_creator") for _ in range(2)]
    counts: dict[int, dict[str, int]] = {}
    made = 0
    for size in (2, 20):
        while made < size:
            await rights.asset(creator, approve=False)
            terms = await rights.terms(creator, main["id"], licenseType="standard")
            for who, approve in zip(applicants, (False, True), strict=True):
                await rights.license(who, creator, main["id"], terms["id"], approve=approve)
            made += 1
        counts[size] = {
            path: await statements_of(client, app, path)
            for path in ("/studio", "/studio/applications", "/studio/licenses")
        }
        page = await client.get("/studio/licenses")
        assert main_text(page.text).count("Revoke…") == size
    # then each page ran the same number of statements
    assert counts[2] == counts[20]
