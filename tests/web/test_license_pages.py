"""The secondary creator's license pages: apply (terms in plain words, limits, a card for a
fee), applications and withdrawal, licenses held with their expiry, derivative works."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from ipmarket.kit.db import Database
from tests.rights import Rights
from tests.support import Account
from tests.web.support import csrf_of, main_text, sign_in, statements_during, submit


async def _scalar(db: Database, sql: str, **params: Any) -> Any:
    async with db.sessionmaker() as session:
        return await session.scalar(text(sql), params)


async def _row(db: Database, sql: str, **params: Any) -> Any:
    async with db.sessionmaker() as session:
        return (await session.execute(text(sql), params)).mappings().one()


async def _open_asset(
    rights: Rights, **terms: Any
) -> tuple[Account, dict[str, Any], dict[str, Any]]:
    """A creator's approved asset with published terms."""
    creator = await rights.user("creator")
    asset = await rights.asset(creator, title="Moonlit Fox")
    published = await rights.terms(creator, asset["id"], **terms)
    return creator, asset, published


async def _signed_in(client: httpx.AsyncClient, rights: Rights, user_type: str) -> Account:
    account = await rights.user(user_type)
    assert (await sign_in(client, account.email, account.password)).status_code == 303
    return account


async def _applications(db: Database, applicant: Account) -> int:
    return int(
        await _scalar(
            db, "SELECT count(*) FROM license_applications WHERE applicant_id = :a", a=applicant.id
        )
    )


# --- apply -----------------------------------------------------------------------------------


async def test_the_apply_page_says_the_terms_in_plain_words(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given terms with a 12.5% share, two countries, six months and no derivatives
    rights = Rights(client, db)
    _, asset, _ = await _open_asset(
        rights,
        revenueSharePercentage=12.5,
        territory=["FR", "DE"],
        duration="P6M",
        derivativesAllowed=False,
    )
    await _signed_in(client, rights, "secondary_creator")
    # when a secondary creator opens the apply page
    page = await client.get(f"/ip/{asset['id']}/apply")
    # then the terms are said in words, and no card is asked for a free license
    assert page.status_code == 200
    words = main_text(page.text)
    assert "Moonlit Fox" in words
    assert "The licensor receives 12.50% of the price of every product" in words
    assert "Valid only in DE, FR." in words
    assert "6 months from approval" in words
    assert "Not allowed: you may sell products under it" in words
    assert "None: applying costs nothing." in words
    assert 'name="cardNumber"' not in page.text


async def test_applying_makes_a_pending_application_with_the_limits_given(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given published terms and a signed-in secondary creator
    rights = Rights(client, db)
    _, asset, terms = await _open_asset(rights, revenueSharePercentage=10)
    applicant = await _signed_in(client, rights, "secondary_creator")
    # when they apply, accepting at most a 15% share
    response = await submit(
        client,
        f"/ip/{asset['id']}/apply",
        licenseTermsId=terms["id"],
        maxRevenueSharePercentage="15",
        plan="Mugs and tote bags",
    )
    # then they land on their applications, and the application waits for the owner
    assert response.status_code == 303
    assert response.headers["location"] == "/licenses/applications"
    row = await _row(
        db,
        "SELECT status, max_revenue_share_percentage, application_data, license_terms_id "
        "FROM license_applications WHERE applicant_id = :a",
        a=applicant.id,
    )
    assert row["status"] == "pending"
    assert str(row["max_revenue_share_percentage"]) == "15.00"
    assert row["application_data"] == {"plan": "Mugs and tote bags"}
    assert str(row["license_terms_id"]) == terms["id"]
    listing = await client.get(response.headers["location"])
    assert "is made" in listing.text and "Moonlit Fox" in main_text(listing.text)


async def test_terms_above_what_the_applicant_accepts_are_refused_beside_the_field(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given terms asking a 10% share
    rights = Rights(client, db)
    _, asset, terms = await _open_asset(rights, revenueSharePercentage=10)
    applicant = await _signed_in(client, rights, "secondary_creator")
    # when the applicant accepts at most 5%
    response = await submit(
        client,
        f"/ip/{asset['id']}/apply",
        licenseTermsId=terms["id"],
        maxRevenueSharePercentage="5",
    )
    # then the page says so beside the box, keeps the input, and nothing is made
    assert response.status_code == 422
    assert 'id="e-maxRevenueSharePercentage"' in response.text
    assert "the terms ask 10.00%" in response.text
    assert 'value="5"' in response.text
    assert await _applications(db, applicant) == 0


async def test_an_application_without_chosen_terms_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    _, asset, _ = await _open_asset(rights)
    await _open_asset(rights)  # an unrelated asset, so the page offers one set of terms
    applicant = await _signed_in(client, rights, "secondary_creator")
    response = await submit(client, f"/ip/{asset['id']}/apply", plan="Posters")
    assert response.status_code == 422
    assert 'id="e-licenseTermsId"' in response.text
    assert await _applications(db, applicant) == 0


async def test_a_fee_asks_for_a_card_and_the_page_lists_the_test_cards(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given terms with a base fee of 50
    rights = Rights(client, db)
    _, asset, terms = await _open_asset(rights, baseFee=50)
    applicant = await _signed_in(client, rights, "secondary_creator")
    page = await client.get(f"/ip/{asset['id']}/apply")
    # then the page asks for a card and says which test cards work
    assert 'name="cardNumber"' in page.text
    words = main_text(page.text)
    assert "50.00 USD" in words
    assert "4242 4242 4242 4242" in words
    assert "4000 0000 0000 0002 Visa Declined" in words
    # when they apply without a card
    missing = await submit(client, f"/ip/{asset['id']}/apply", licenseTermsId=terms["id"])
    # then the card box says it is needed, and nothing is made
    assert missing.status_code == 422
    assert 'id="e-cardNumber"' in missing.text
    assert await _applications(db, applicant) == 0


async def test_a_declined_card_is_said_beside_the_card_and_nothing_is_kept(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    _, asset, terms = await _open_asset(rights, baseFee=50)
    applicant = await _signed_in(client, rights, "secondary_creator")
    # when the test card that is declined is used
    declined = await submit(
        client,
        f"/ip/{asset['id']}/apply",
        licenseTermsId=terms["id"],
        cardNumber="4000 0000 0000 0002",
    )
    # then a 402 page says so beside the card, and neither application nor payment exists
    assert declined.status_code == 402
    assert 'id="e-cardNumber"' in declined.text
    assert "declined" in declined.text
    assert await _applications(db, applicant) == 0
    assert await _scalar(db, "SELECT count(*) FROM transactions") == 0


async def test_a_test_card_that_pays_holds_the_fee(client: httpx.AsyncClient, db: Database) -> None:
    rights = Rights(client, db)
    _, asset, terms = await _open_asset(rights, baseFee=50)
    applicant = await _signed_in(client, rights, "secondary_creator")
    response = await submit(
        client,
        f"/ip/{asset['id']}/apply",
        licenseTermsId=terms["id"],
        maxBaseFee="60",
        cardNumber="4242 4242 4242 4242",
    )
    assert response.status_code == 303
    row = await _row(
        db,
        "SELECT status, fee_status, fee_minor FROM license_applications WHERE applicant_id = :a",
        a=applicant.id,
    )
    assert (row["status"], row["fee_status"], row["fee_minor"]) == ("pending", "authorized", 5000)
    listing = main_text((await client.get("/licenses/applications")).text)
    assert "50.00 USD (authorized)" in listing


async def test_applying_needs_the_apply_permission(client: httpx.AsyncClient, db: Database) -> None:
    rights = Rights(client, db)
    _, asset, terms = await _open_asset(rights)
    for user_type in ("buyer", "creator"):
        client.cookies.clear()
        await _signed_in(client, rights, user_type)
        # when a buyer or a creator opens the apply page or posts to it
        page = await client.get(f"/ip/{asset['id']}/apply")
        posted = await client.post(
            f"/ip/{asset['id']}/apply",
            data={
                "csrf_token": csrf_of((await client.get("/account")).text),
                "licenseTermsId": terms["id"],
            },
        )
        # then both are refused, and nothing is made
        assert page.status_code == 403, user_type
        assert posted.status_code == 403, user_type
    assert await _scalar(db, "SELECT count(*) FROM license_applications") == 0
    for path in ("/licenses", "/licenses/applications"):
        assert (await client.get(path)).status_code == 403


async def test_an_asset_not_open_for_licensing_is_not_found(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator = await rights.user("creator")
    draft = await rights.asset(creator, approve=False)
    await _signed_in(client, rights, "secondary_creator")
    assert (await client.get(f"/ip/{draft['id']}/apply")).status_code == 404
    assert (await client.get(f"/ip/{uuid.uuid4()}/apply")).status_code == 404


# --- applications and withdrawal ---------------------------------------------------------------


async def _apply_by_api(
    rights: Rights, applicant: Account, asset: dict[str, Any], terms: dict[str, Any]
) -> dict[str, Any]:
    return await rights.ok(
        await rights.client.post(
            "/v1/licenses/apply",
            json={"ipAssetId": asset["id"], "licenseTermsId": terms["id"]},
            headers=applicant.auth,
        ),
        201,
    )


async def test_a_pending_application_is_withdrawn_after_a_confirmation(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a pending application
    rights = Rights(client, db)
    _, asset, terms = await _open_asset(rights)
    applicant = await _signed_in(client, rights, "secondary_creator")
    application = await _apply_by_api(rights, applicant, asset, terms)
    listing = await client.get("/licenses/applications")
    assert "Moonlit Fox" in main_text(listing.text) and "pending" in main_text(listing.text)
    confirm = f"/licenses/applications/{application['id']}/withdraw"
    assert f'href="{confirm}"' in listing.text
    # when they open the confirmation, then confirm
    page = await client.get(confirm)
    assert page.status_code == 200 and "Yes, withdraw it" in page.text
    assert (
        await _scalar(
            db, "SELECT status FROM license_applications WHERE id = :i", i=application["id"]
        )
        == "pending"
    )  # opening the confirmation changes nothing
    done = await submit(client, confirm)
    # then the application is closed as withdrawn
    assert done.status_code == 303
    row = await _row(
        db,
        "SELECT status, rejection_reason FROM license_applications WHERE id = :i",
        i=application["id"],
    )
    assert (row["status"], row["rejection_reason"]) == ("rejected", "Withdrawn by the applicant")
    # and a second withdrawal is refused
    again = await client.post(
        confirm, data={"csrf_token": csrf_of((await client.get("/licenses")).text)}
    )
    assert again.status_code == 409


async def test_another_users_application_cannot_be_seen_or_withdrawn(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given someone else's pending application
    rights = Rights(client, db)
    _creator, asset, terms = await _open_asset(rights)
    other = await rights.user("secondary_creator")
    theirs = await _apply_by_api(rights, other, asset, terms)
    await _signed_in(client, rights, "secondary_creator")
    confirm = f"/licenses/applications/{theirs['id']}/withdraw"
    token = csrf_of((await client.get("/licenses")).text)
    # when this user opens its withdrawal page or posts it
    page = await client.get(confirm)
    posted = await client.post(confirm, data={"csrf_token": token})
    # then both are not found, and it stays pending
    assert page.status_code == 404
    assert posted.status_code == 404
    assert (
        await _scalar(db, "SELECT status FROM license_applications WHERE id = :i", i=theirs["id"])
        == "pending"
    )
    assert "Moonlit Fox" not in main_text((await client.get("/licenses/applications")).text)


async def test_applications_filter_by_status(client: httpx.AsyncClient, db: Database) -> None:
    rights = Rights(client, db)
    creator, asset, terms = await _open_asset(rights)
    applicant = await _signed_in(client, rights, "secondary_creator")
    await rights.license(applicant, creator, asset["id"], terms["id"])  # approved
    pending_terms = await rights.terms(creator, asset["id"], revenueSharePercentage=20)
    await _apply_by_api(rights, applicant, asset, pending_terms)
    pending = main_text((await client.get("/licenses/applications?status=pending")).text)
    approved = main_text((await client.get("/licenses/applications?status=approved")).text)
    assert "20.00% share" in pending and "10.00% share" not in pending
    assert "10.00% share" in approved and "20.00% share" not in approved
    assert (await client.get("/licenses/applications?status=bogus")).status_code == 422


# --- licenses held ---------------------------------------------------------------------------


async def test_my_licenses_show_their_expiry_as_a_date_and_relative_time(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given an approved license for a year
    rights = Rights(client, db)
    creator, asset, terms = await _open_asset(rights, duration="P1Y")
    holder = await _signed_in(client, rights, "secondary_creator")
    granted = await rights.license(holder, creator, asset["id"], terms["id"])
    # when they open their licenses
    page = await client.get("/licenses")
    # then the license shows its expiry as an ISO date and how far off it is
    assert page.status_code == 200
    words = main_text(page.text)
    expires = granted["expiresAt"][:10]
    assert re.search(rf"Expires {expires} \(in (12 months|1 year)\)", words), words
    assert "approved" in words
    assert f'href="/shop/products/new?license={granted["id"]}"' in page.text
    assert f'href="/licenses/{granted["id"]}/derivative"' in page.text


async def test_a_revoked_license_is_listed_under_revoked_with_its_reason(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator, asset, terms = await _open_asset(rights, duration="PERPETUAL")
    holder = await _signed_in(client, rights, "secondary_creator")
    granted = await rights.license(holder, creator, asset["id"], terms["id"])
    assert "Never (perpetual)" in main_text((await client.get("/licenses")).text)
    await rights.ok(
        await client.put(
            f"/v1/licenses/{granted['id']}/revoke",
            json={"reason": "Broke the brand guide"},
            headers=creator.auth,
        )
    )
    held = main_text((await client.get("/licenses")).text)
    revoked = main_text((await client.get("/licenses?status=revoked")).text)
    assert "Moonlit Fox" not in held
    assert "Broke the brand guide" in revoked and "revoked" in revoked


# --- derivative works ------------------------------------------------------------------------


async def test_a_derivative_work_is_registered_under_a_license_and_sent_for_review(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a license whose terms allow derivatives
    rights = Rights(client, db)
    creator, asset, terms = await _open_asset(rights, derivativesAllowed=True)
    holder = await _signed_in(client, rights, "secondary_creator")
    granted = await rights.license(holder, creator, asset["id"], terms["id"])
    form = f"/licenses/{granted['id']}/derivative"
    assert "Moonlit Fox" in main_text((await client.get(form)).text)
    # when the holder registers a derivative work and sends it for review
    response = await submit(
        client,
        form,
        title="Moonlit Fox: Winter Tales",
        description="The fox's winter, as a comic.",
        category="characters",
        contentType="comic",
        submitForReview="true",
    )
    # then the asset exists under the license, waiting for review
    assert response.status_code == 303
    row = await _row(
        db,
        "SELECT title, parent_license_id, verification_status, submitted_at IS NOT NULL AS sent "
        "FROM ip_assets WHERE creator_id = :c",
        c=holder.id,
    )
    assert row["title"] == "Moonlit Fox: Winter Tales"
    assert str(row["parent_license_id"]) == granted["id"]
    assert (row["verification_status"], row["sent"]) == ("pending", True)
    listed = main_text((await client.get("/licenses")).text)
    assert "My derivative works" in listed and "Winter Tales" in listed


async def test_a_derivative_form_with_missing_fields_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator, asset, terms = await _open_asset(rights)
    holder = await _signed_in(client, rights, "secondary_creator")
    granted = await rights.license(holder, creator, asset["id"], terms["id"])
    response = await submit(
        client, f"/licenses/{granted['id']}/derivative", category="characters", contentType="image"
    )
    assert response.status_code == 422
    assert 'id="e-title"' in response.text and 'id="e-description"' in response.text
    assert 'value="characters"' in response.text
    assert (
        await _scalar(db, "SELECT count(*) FROM ip_assets WHERE creator_id = :c", c=holder.id) == 0
    )


async def test_terms_without_derivatives_refuse_a_derivative_work(
    client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator, asset, terms = await _open_asset(rights, derivativesAllowed=False)
    holder = await _signed_in(client, rights, "secondary_creator")
    granted = await rights.license(holder, creator, asset["id"], terms["id"])
    form = f"/licenses/{granted['id']}/derivative"
    assert "do not allow derivative works" in main_text((await client.get(form)).text)
    response = await submit(
        client, form, title="Fox", description="A fox", category="c", contentType="image"
    )
    assert response.status_code == 409
    assert "do not allow derivatives" in main_text(response.text)
    assert (
        await _scalar(db, "SELECT count(*) FROM ip_assets WHERE creator_id = :c", c=holder.id) == 0
    )


async def test_a_derivative_under_someone_elses_license_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given a license another secondary creator holds
    rights = Rights(client, db)
    creator, asset, terms = await _open_asset(rights)
    other = await rights.user("secondary_creator")
    theirs = await rights.license(other, creator, asset["id"], terms["id"])
    me = await _signed_in(client, rights, "secondary_creator")
    form = f"/licenses/{theirs['id']}/derivative"
    token = csrf_of((await client.get("/licenses")).text)
    # when this user opens its derivative page or posts to it
    page = await client.get(form)
    posted = await client.post(
        form,
        data={
            "csrf_token": token,
            "title": "Stolen fox",
            "description": "Not mine",
            "category": "characters",
            "contentType": "image",
        },
    )
    # then both are not found, and no asset is made
    assert page.status_code == 404
    assert posted.status_code == 404
    assert await _scalar(db, "SELECT count(*) FROM ip_assets WHERE creator_id = :c", c=me.id) == 0


# --- speed -----------------------------------------------------------------------------------


async def test_license_lists_run_the_same_statements_for_2_and_20_rows(
    app: FastAPI, client: httpx.AsyncClient, db: Database
) -> None:
    rights = Rights(client, db)
    creator, asset, terms = await _open_asset(rights)
    holder = await _signed_in(client, rights, "secondary_creator")

    async def counts() -> tuple[int, int]:
        found = []
        for path in ("/licenses", "/licenses/applications"):
            with statements_during(app.state.db) as seen:
                page = await client.get(path)
            assert page.status_code == 200
            found.append(len(seen))
        return found[0], found[1]

    for _ in range(2):
        await rights.license(holder, creator, asset["id"], terms["id"])
    with_two = await counts()
    for _ in range(18):
        await rights.license(holder, creator, asset["id"], terms["id"])
    with_twenty = await counts()
    assert with_two == with_twenty
    page = await client.get("/licenses")
    assert main_text(page.text).count("Make a product") == 20
