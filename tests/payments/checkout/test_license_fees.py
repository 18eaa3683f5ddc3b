"""A license's base fee: authorised when the application is made (under an Idempotency-Key),
captured when it is approved (a license_fee transaction paying the platform's fee and the
licensor), released when it is rejected, withdrawn or left undecided past the card hold, and
refunded when the provider captured it for an approval that was then rolled back."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest

from ipmarket.kit.db import Database
from ipmarket.licensing.jobs import expire_lapsed_fee_holds_job
from ipmarket.licensing.service import LAPSED_REASON, WITHDRAWN_REASON
from ipmarket.payments.checkout.license_fees import LicenseFeeService
from ipmarket.payments.checkout.settlement import Settlement
from ipmarket.payments.jobs import reconcile_license_fees_job
from ipmarket.payments.models import Transaction
from ipmarket.payments.providers import Intent, IntentStatus, ProviderError
from tests.licensing.support import audits, events, fingerprint
from tests.payments.shop import DECLINED, START, VISA, Shop, error_of, freeze, key
from tests.support import Account


@pytest.fixture
def shop(client: httpx.AsyncClient, db: Database) -> Shop:
    freeze()
    return Shop(client, db)


async def offer(
    shop: Shop, **terms: Any
) -> tuple[Account, Account, dict[str, Any], dict[str, Any]]:
    """A creator's asset with terms asking a fee of 25.00, and a maker who wants them."""
    creator = await shop.rights.user("creator")
    maker = await shop.rights.user("secondary_creator")
    asset = await shop.rights.asset(creator)
    offered = await shop.rights.terms(creator, asset["id"], baseFee="25.00", **terms)
    return creator, maker, asset, offered


async def apply(
    shop: Shop,
    maker: Account,
    asset: dict[str, Any],
    terms: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    **extra: Any,
) -> httpx.Response:
    """Apply; with a paymentMethod, under `idempotency_key` (a fresh one unless given)."""
    headers = dict(maker.auth)
    if "paymentMethod" in extra:
        headers["Idempotency-Key"] = idempotency_key or key()
    return await shop.client.post(
        "/v1/licenses/apply",
        json={"ipAssetId": asset["id"], "licenseTermsId": terms["id"], **extra},
        headers=headers,
    )


async def applied(
    shop: Shop, maker: Account, asset: dict[str, Any], terms: dict[str, Any]
) -> dict[str, Any]:
    response = await apply(shop, maker, asset, terms, paymentMethod=VISA)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def decide(
    shop: Shop, account: Account, application_id: str, decision: str, **body: Any
) -> httpx.Response:
    return await shop.client.put(
        f"/v1/licenses/{application_id}/{decision}", json=body or None, headers=account.auth
    )


def intent_of(shop: Shop, tx: Transaction) -> Intent:
    [intent] = [i for i in shop.provider.intents() if i.id == tx.payment_reference]
    return intent


async def everything(shop: Shop) -> dict[str, Any]:
    """What a request may write: money, rights, the audit trail and the outbox."""
    return {**await shop.fingerprint(), **await fingerprint(shop.db)}


async def test_the_fee_is_authorised_on_apply_and_captured_on_approval(shop: Shop) -> None:
    creator, maker, asset, terms = await offer(shop)
    # when the maker applies with a card
    response = await apply(shop, maker, asset, terms, paymentMethod=VISA)
    # then the fee is held on the card, not taken
    assert response.status_code == 201, response.text
    application = response.json()["data"]
    assert application["fee"] == 25.0 and application["feeStatus"] == "authorized"
    [tx] = await shop.transactions()
    assert tx.transaction_type == "license_fee" and tx.status == "pending"
    assert tx.license_id is not None and str(tx.license_id) == application["id"]
    assert (tx.buyer_id, tx.seller_id, tx.amount_minor) == (maker.id, creator.id, 2500)
    intent = intent_of(shop, tx)
    assert intent.status == IntentStatus.REQUIRES_CAPTURE and intent.amount_captured_minor == 0
    assert (await shop.ledger_balance(creator.id)).pending_minor == 0

    # when the licensor approves the application
    approved = await decide(shop, creator, application["id"], "approve")
    # then the fee is captured: the platform keeps 10%, the licensor earns the rest
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["feeStatus"] == "captured"
    [tx] = await shop.transactions()
    assert tx.status == "completed" and tx.platform_fee_minor == 250
    assert tx.seller_amount_minor == 2250
    intent = intent_of(shop, tx)
    assert intent.status == IntentStatus.SUCCEEDED and intent.amount_captured_minor == 2500
    assert await shop.balance_of(creator) == {"currency": "USD", "pending": 22.5, "available": 0}
    [completed] = await shop.events("payment.completed")
    assert completed["transaction_type"] == "license_fee"
    assert await shop.ledger_problems() == []
    # and it shows in both parties' histories
    mine = await shop.client.get("/v1/payments/history", headers=creator.auth)
    assert [(t["transactionType"], t["role"]) for t in mine.json()["data"]] == [
        ("license_fee", "seller")
    ]
    theirs = await shop.client.get("/v1/payments/history", headers=maker.auth)
    assert [(t["transactionType"], t["role"]) for t in theirs.json()["data"]] == [
        ("license_fee", "buyer")
    ]


async def test_the_fee_is_released_on_rejection(shop: Shop) -> None:
    creator, maker, asset, terms = await offer(shop)
    application = await applied(shop, maker, asset, terms)
    # when the licensor rejects it
    rejected = await decide(
        shop, creator, application["id"], "reject", reason="Not a fit for the brand"
    )
    # then the authorisation is released, nothing was taken and nobody earned anything
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["data"]["feeStatus"] == "released"
    [tx] = await shop.transactions()
    assert tx.status == "failed" and tx.failure_reason == "released: rejected"
    intent = intent_of(shop, tx)
    assert intent.status == IntentStatus.CANCELED and intent.amount_captured_minor == 0
    assert shop.provider.refunds() == []
    assert (await shop.fingerprint())["postings"] == 0
    assert await shop.ledger_problems() == []


async def test_auto_approved_terms_take_the_fee_at_once(shop: Shop) -> None:
    creator, maker, asset, terms = await offer(shop, autoApprove=True)
    response = await apply(shop, maker, asset, terms, paymentMethod=VISA)
    assert response.status_code == 201, response.text
    application = response.json()["data"]
    assert application["status"] == "approved" and application["feeStatus"] == "captured"
    [tx] = await shop.transactions()
    assert tx.status == "completed"
    assert (await shop.ledger_balance(creator.id)).pending_minor == 2250
    assert await shop.ledger_problems() == []


async def test_a_fee_needs_a_card_that_pays(shop: Shop) -> None:
    _, maker, asset, terms = await offer(shop)
    before = await shop.fingerprint()
    # without a payment method: a validation error naming the field
    missing = error_of(await apply(shop, maker, asset, terms), 422, "VALIDATION_ERROR")
    assert missing["details"]["errors"][0]["field"] == "paymentMethod"
    # a malformed one
    error_of(await apply(shop, maker, asset, terms, paymentMethod="x y"), 422, "VALIDATION_ERROR")
    # a declined card: 402, no application, no transaction, no money
    declined = await apply(shop, maker, asset, terms, paymentMethod=DECLINED)
    error_of(declined, 402, "PAYMENT_FAILED")
    after = await shop.fingerprint()
    assert {k: v for k, v in after.items() if k != "intents"} == {
        k: v for k, v in before.items() if k != "intents"
    }
    assert all(
        i.status == IntentStatus.CANCELED for i in shop.provider.intents()[before["intents"] :]
    )
    listed = await shop.client.get("/v1/licenses/applications", headers=maker.auth)
    assert listed.json()["data"] == []
    # and it can then apply with a card that pays (under a new key)
    response = await apply(shop, maker, asset, terms, paymentMethod=VISA)
    assert response.status_code == 201, response.text


async def test_paying_needs_an_idempotency_key(shop: Shop) -> None:
    _, maker, asset, terms = await offer(shop)
    before = await everything(shop)
    # when the maker applies with a card but no Idempotency-Key
    response = await shop.client.post(
        "/v1/licenses/apply",
        json={"ipAssetId": asset["id"], "licenseTermsId": terms["id"], "paymentMethod": VISA},
        headers=maker.auth,
    )
    # then it is refused before any money moves
    err = error_of(response, 422, "VALIDATION_ERROR")
    assert err["details"]["reason"] == "idempotency_key_required"
    assert err["details"]["errors"][0]["field"] == "Idempotency-Key"
    assert await everything(shop) == before
    assert shop.provider.intents() == []


async def test_a_retried_application_authorises_once(shop: Shop) -> None:
    _, maker, asset, terms = await offer(shop)
    idem = key()
    first = await apply(shop, maker, asset, terms, paymentMethod=VISA, idempotency_key=idem)
    assert first.status_code == 201, first.text
    # when the client retries under the same key (it never saw the answer)
    again = await apply(shop, maker, asset, terms, paymentMethod=VISA, idempotency_key=idem)
    # then it gets the same application, marked as a replay, and nothing moves again
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["data"] == first.json()["data"]
    [tx] = await shop.transactions()
    assert len(shop.provider.intents()) == 1
    assert intent_of(shop, tx).status == IntentStatus.REQUIRES_CAPTURE
    # and the same key for another request is refused
    other = await apply(
        shop, maker, asset, terms, paymentMethod=VISA, idempotency_key=idem, maxBaseFee=30
    )
    assert error_of(other, 422, "VALIDATION_ERROR")["details"]["reason"] == (
        "idempotency_key_reused"
    )
    assert len(await shop.transactions()) == 1 and len(shop.provider.intents()) == 1


async def test_concurrent_retries_under_one_key_make_one_application(shop: Shop) -> None:
    _, maker, asset, terms = await offer(shop)
    idem = key()
    # when the client sends the same application five times at once
    responses = await asyncio.gather(
        *(
            apply(shop, maker, asset, terms, paymentMethod=VISA, idempotency_key=idem)
            for _ in range(5)
        )
    )
    # then every answer is the one application, and the fee was authorised once
    assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
    assert len({r.json()["data"]["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 4
    [tx] = await shop.transactions()
    [intent] = shop.provider.intents()
    assert tx.payment_reference == intent.id and intent.status == IntentStatus.REQUIRES_CAPTURE


async def test_a_key_is_honoured_for_a_day(shop: Shop) -> None:
    creator, maker, asset, terms = await offer(shop)
    idem = key()
    first = (
        await apply(shop, maker, asset, terms, paymentMethod=VISA, idempotency_key=idem)
    ).json()["data"]
    rejected = await decide(shop, creator, first["id"], "reject", reason="Not this season")
    assert rejected.status_code == 200, rejected.text
    # within the day, the key still answers with what it made (as it now stands)
    replay = await apply(shop, maker, asset, terms, paymentMethod=VISA, idempotency_key=idem)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert (replay.json()["data"]["id"], replay.json()["data"]["status"]) == (
        first["id"],
        "rejected",
    )
    assert len(shop.provider.intents()) == 1
    # after a day the key is forgotten: the same request makes a new application
    freeze(START + timedelta(hours=25))
    await shop.log_in_again(maker)
    fresh = await apply(shop, maker, asset, terms, paymentMethod=VISA, idempotency_key=idem)
    assert fresh.status_code == 201, fresh.text
    assert "Idempotent-Replayed" not in fresh.headers
    assert fresh.json()["data"]["id"] != first["id"]
    assert fresh.json()["data"]["feeStatus"] == "authorized"
    assert len(shop.provider.intents()) == 2


async def test_a_retry_after_a_lost_outcome_authorises_once(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, maker, asset, terms = await offer(shop)
    real = LicenseFeeService.authorize_license_fee

    async def authorise_then_crash(self: LicenseFeeService, **kwargs: Any) -> str:
        await real(self, **kwargs)
        raise RuntimeError("the database connection was lost")

    # given an application whose fee was authorised before its request died
    monkeypatch.setattr(LicenseFeeService, "authorize_license_fee", authorise_then_crash)
    idem = key()
    lost = await apply(shop, maker, asset, terms, paymentMethod=VISA, idempotency_key=idem)
    error_of(lost, 500, "INTERNAL_ERROR")
    assert await shop.transactions() == []
    [held] = shop.provider.intents()
    assert held.status == IntentStatus.REQUIRES_CAPTURE
    # when the client retries under the same key
    monkeypatch.setattr(LicenseFeeService, "authorize_license_fee", real)
    retried = await apply(shop, maker, asset, terms, paymentMethod=VISA, idempotency_key=idem)
    # then the application is made on the hold already there: one authorisation
    assert retried.status_code == 201, retried.text
    assert retried.json()["data"]["feeStatus"] == "authorized"
    [tx] = await shop.transactions()
    assert shop.provider.intents() == [held]
    assert tx.payment_reference == held.id
    # and a retry under that key with another card is refused, not authorised again
    other = await apply(
        shop, maker, asset, terms, paymentMethod="pm_card_mastercard", idempotency_key=idem
    )
    error_of(other, 422, "VALIDATION_ERROR")
    assert shop.provider.intents() == [held]


async def test_an_authorisation_whose_answer_was_lost_is_kept(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a provider that authorises the card, then drops the connection before answering
    _, maker, asset, terms = await offer(shop)
    real = shop.provider.confirm_intent

    async def authorised_but_unanswered(intent_id: str, **kwargs: Any) -> Intent:
        await real(intent_id, **kwargs)
        raise ProviderError("connection reset by peer")

    monkeypatch.setattr(shop.provider, "confirm_intent", authorised_but_unanswered)
    # when the maker applies
    response = await apply(shop, maker, asset, terms, paymentMethod=VISA)
    # then the provider is asked how it stands, and the application is made on that hold:
    # no second authorisation, no hold left without its application
    assert response.status_code == 201, response.text
    assert response.json()["data"]["feeStatus"] == "authorized"
    [held] = shop.provider.intents()
    assert held.status == IntentStatus.REQUIRES_CAPTURE and held.payment_method == VISA
    [tx] = await shop.transactions()
    assert tx.payment_reference == held.id and tx.status == "pending"


async def test_withdrawal_releases_the_fee(shop: Shop) -> None:
    creator, maker, asset, terms = await offer(shop)
    application = await applied(shop, maker, asset, terms)
    # the licensor cannot withdraw it, nor can a stranger see it
    stranger = await shop.rights.user("secondary_creator")
    error_of(await decide(shop, creator, application["id"], "withdraw"), 403, "FORBIDDEN")
    error_of(await decide(shop, stranger, application["id"], "withdraw"), 404, "NOT_FOUND")
    # when the applicant withdraws it
    withdrawn = await decide(shop, maker, application["id"], "withdraw")
    # then it is closed and the hold on the card released; nobody earned anything
    assert withdrawn.status_code == 200, withdrawn.text
    data = withdrawn.json()["data"]
    assert data["status"] == "rejected" and data["feeStatus"] == "released"
    assert data["rejectionReason"] == WITHDRAWN_REASON
    [tx] = await shop.transactions()
    assert tx.status == "failed" and tx.failure_reason == "released: withdrawn"
    assert intent_of(shop, tx).status == IntentStatus.CANCELED
    assert (await shop.fingerprint())["postings"] == 0
    [record] = await audits(shop.db, "license.withdrawn", application["id"])
    assert record.user_id == maker.id
    assert await events(shop.db, "license.rejected") == []
    # and once decided, it cannot be withdrawn again, nor approved
    error_of(await decide(shop, maker, application["id"], "withdraw"), 409, "CONFLICT")
    error_of(await decide(shop, creator, application["id"], "approve"), 409, "CONFLICT")
    assert await shop.ledger_problems() == []


async def test_an_approved_license_cannot_be_withdrawn(shop: Shop) -> None:
    creator, maker, asset, terms = await offer(shop)
    application = await applied(shop, maker, asset, terms)
    approved = await decide(shop, creator, application["id"], "approve")
    assert approved.status_code == 200, approved.text
    before = await everything(shop)
    error_of(await decide(shop, maker, application["id"], "withdraw"), 409, "CONFLICT")
    assert await everything(shop) == before
    [tx] = await shop.transactions()
    assert tx.status == "completed" and shop.provider.refunds() == []


async def fail_after_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next approvals capture at the provider, then fail before they commit."""

    async def crash(self: Settlement, tx: Transaction) -> None:
        raise RuntimeError("the database went away")

    # A fee is completed by the settlement, as any payment; only fees are approved here.
    monkeypatch.setattr(Settlement, "complete", crash)


async def test_a_capture_whose_approval_rolled_back_is_refunded_on_rejection(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    creator, maker, asset, terms = await offer(shop)
    application = await applied(shop, maker, asset, terms)
    # given an approval that captured the fee at the provider, then was rolled back
    with monkeypatch.context() as patch:
        await fail_after_capture(patch)
        failed = await decide(shop, creator, application["id"], "approve")
    error_of(failed, 500, "INTERNAL_ERROR")
    [tx] = await shop.transactions()
    assert tx.status == "pending"
    assert intent_of(shop, tx).status == IntentStatus.SUCCEEDED
    # when the licensor then rejects the application
    rejected = await decide(shop, creator, application["id"], "reject", reason="Changed my mind")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["data"]["feeStatus"] == "released"
    # then the captured fee is not refunded inside the rejection (were the rejection rolled
    # back, a later approval would replay the capture of money already given back) ...
    assert shop.provider.refunds() == []
    # ... but once it committed, by the reconciliation: in full, nothing is kept
    async with shop.db.transaction() as session:
        await reconcile_license_fees_job(session)
    [refund] = shop.provider.refunds()
    assert (refund.intent_id, refund.amount_minor) == (tx.payment_reference, 2500)
    [tx] = await shop.transactions()
    assert tx.status == "failed" and tx.refunded_minor == 2500
    assert tx.failure_reason is not None and "refunded" in tx.failure_reason
    assert (await shop.fingerprint())["postings"] == 0
    assert await shop.balance_of(creator) == {"currency": "USD", "pending": 0, "available": 0}
    assert await shop.ledger_problems() == []
    # and a second run finds nothing more to do
    async with shop.db.transaction() as session:
        await reconcile_license_fees_job(session)
    assert len(shop.provider.refunds()) == 1


async def test_a_retried_approval_completes_the_capture_once(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    creator, maker, asset, terms = await offer(shop)
    application = await applied(shop, maker, asset, terms)
    # given an approval that captured the fee, then was rolled back
    with monkeypatch.context() as patch:
        await fail_after_capture(patch)
        error_of(await decide(shop, creator, application["id"], "approve"), 500, "INTERNAL_ERROR")
    # when the licensor approves again
    approved = await decide(shop, creator, application["id"], "approve")
    # then the capture is replayed (taken once) and the fee completes
    assert approved.status_code == 200, approved.text
    assert approved.json()["data"]["feeStatus"] == "captured"
    [tx] = await shop.transactions()
    assert tx.status == "completed"
    intent = intent_of(shop, tx)
    assert intent.status == IntentStatus.SUCCEEDED and intent.amount_captured_minor == 2500
    assert shop.provider.refunds() == []
    assert await shop.balance_of(creator) == {"currency": "USD", "pending": 22.5, "available": 0}
    assert await shop.ledger_problems() == []


async def test_a_failed_capture_refuses_the_approval(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    creator, maker, asset, terms = await offer(shop)
    application = await applied(shop, maker, asset, terms)
    before = await everything(shop)

    async def refused(intent_id: str, *, idempotency_key: str) -> Intent:
        raise ProviderError("payment_intent_unexpected_state: the authorization expired")

    # when the provider refuses the capture
    monkeypatch.setattr(shop.provider, "capture", refused)
    response = await decide(shop, creator, application["id"], "approve")
    # then the approval is refused with 402, and nothing changed
    err = error_of(response, 402, "PAYMENT_FAILED")
    [tx] = await shop.transactions()
    assert err["details"]["transactionId"] == str(tx.id)
    assert await everything(shop) == before
    listed = await shop.client.get("/v1/licenses/applications", headers=maker.auth)
    [still] = listed.json()["data"]
    assert (still["status"], still["feeStatus"]) == ("pending", "authorized")
    assert tx.status == "pending"
    assert intent_of(shop, tx).status == IntentStatus.REQUIRES_CAPTURE


async def test_an_undecided_application_expires_with_its_card_hold(shop: Shop) -> None:
    creator, maker, asset, terms = await offer(shop)
    old = await applied(shop, maker, asset, terms)
    # and, two days later, another application that is still young
    other_terms = await shop.rights.terms(creator, asset["id"], baseFee="10.00")
    freeze(START + timedelta(days=2))
    await shop.log_in_again(maker)
    young = await applied(shop, maker, asset, other_terms)

    # when the first has waited 7 days, approving it is refused, and nothing moves
    freeze(START + timedelta(days=7))
    await shop.log_in_again(creator, maker)
    before = await everything(shop)
    refused = error_of(await decide(shop, creator, old["id"], "approve"), 409, "CONFLICT")
    assert refused["details"]["reason"] == "fee_authorization_lapsed"
    assert await everything(shop) == before

    # when the hold-expiry job runs
    async with shop.db.transaction() as session:
        await expire_lapsed_fee_holds_job(session)
    # then the old application expired and its hold was released; the young one waits
    listed = await shop.client.get("/v1/licenses/applications", headers=maker.auth)
    by_id = {a["id"]: a for a in listed.json()["data"]}
    assert (by_id[old["id"]]["status"], by_id[old["id"]]["feeStatus"]) == ("expired", "released")
    assert by_id[old["id"]]["rejectionReason"] == LAPSED_REASON
    assert (by_id[young["id"]]["status"], by_id[young["id"]]["feeStatus"]) == (
        "pending",
        "authorized",
    )
    txs = {str(tx.license_id): tx for tx in await shop.transactions()}
    assert txs[old["id"]].status == "failed"
    assert txs[old["id"]].failure_reason == "released: authorization lapsed"
    assert intent_of(shop, txs[old["id"]]).status == IntentStatus.CANCELED
    assert txs[young["id"]].status == "pending"
    assert intent_of(shop, txs[young["id"]]).status == IntentStatus.REQUIRES_CAPTURE
    [record] = await audits(shop.db, "license.application_expired", old["id"])
    assert record.user_id is None
    # and a second run changes nothing
    async with shop.db.transaction() as session:
        await expire_lapsed_fee_holds_job(session)
    assert len(await audits(shop.db, "license.application_expired")) == 1
    # and the maker may apply again, with a fresh hold
    again = await apply(shop, maker, asset, terms, paymentMethod=VISA)
    assert again.status_code == 201, again.text
    assert await shop.ledger_problems() == []


async def test_a_release_the_provider_missed_is_reconciled(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    creator, maker, asset, terms = await offer(shop)
    application = await applied(shop, maker, asset, terms)
    # given an approval rolled back after its capture
    with monkeypatch.context() as patch:
        await fail_after_capture(patch)
        error_of(await decide(shop, creator, application["id"], "approve"), 500, "INTERNAL_ERROR")

    # and a rejection while the provider cannot be reached
    async def unreachable(intent_id: str) -> Intent:
        raise ProviderError("connection reset by peer")

    with monkeypatch.context() as patch:
        patch.setattr(shop.provider, "retrieve_intent", unreachable)
        rejected = await decide(shop, creator, application["id"], "reject", reason="No thanks")
        # the rejection stands; the fee's release is left to the reconciliation
        assert rejected.status_code == 200, rejected.text
        [tx] = await shop.transactions()
        assert tx.status == "pending" and shop.provider.refunds() == []
        async with shop.db.transaction() as session:
            await reconcile_license_fees_job(session)
        assert shop.provider.refunds() == []

    # when the reconciliation runs with the provider back
    async with shop.db.transaction() as session:
        await reconcile_license_fees_job(session)
    # then the captured fee is refunded in full, once
    [refund] = shop.provider.refunds()
    assert refund.amount_minor == 2500
    [tx] = await shop.transactions()
    assert tx.status == "failed" and tx.refunded_minor == 2500
    async with shop.db.transaction() as session:
        await reconcile_license_fees_job(session)
    assert len(shop.provider.refunds()) == 1
    assert (await shop.fingerprint())["postings"] == 0
    assert await shop.ledger_problems() == []


async def test_free_terms_take_no_payment(shop: Shop) -> None:
    creator = await shop.rights.user("creator")
    maker = await shop.rights.user("secondary_creator")
    asset = await shop.rights.asset(creator)
    terms = await shop.rights.terms(creator, asset["id"])
    response = await apply(shop, maker, asset, terms, paymentMethod=VISA)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["feeStatus"] == "none"
    assert await shop.transactions() == []
    # and withdrawing it moves no money either
    withdrawn = await decide(shop, maker, response.json()["data"]["id"], "withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["data"]["feeStatus"] == "none"
    assert await shop.transactions() == []
