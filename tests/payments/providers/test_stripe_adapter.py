"""The Stripe adapter against a local stand-in that speaks Stripe's wire format."""

from __future__ import annotations

import socket

import pytest
import stripe

from ipmarket.payments.providers import (
    Intent,
    IntentStatus,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    ProviderRejected,
    StripeProvider,
)
from tests.payments.providers.conftest import API_KEY
from tests.payments.providers.stripe_standin import StripeStandIn

# The SDK hands httpx its form body as `data=`, which httpx deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


async def _intent(
    provider: StripeProvider,
    key: str = "order-1:intent",
    *,
    capture: str = "automatic",
    amount: int = 1250,
) -> Intent:
    return await provider.create_intent(
        amount_minor=amount,
        currency="USD",
        capture="manual" if capture == "manual" else "automatic",
        metadata={"order": "order-1", "buyer": "u-7"},
        transfer_group="order-1",
        idempotency_key=key,
    )


def test_it_implements_the_port() -> None:
    provider: PaymentProvider = StripeProvider(API_KEY)  # checked by mypy
    assert provider.name == "stripe"
    assert API_KEY not in repr(provider)


async def test_create_and_confirm_charge_the_card(
    stripe_provider: StripeProvider, standin: StripeStandIn
) -> None:
    created = await _intent(stripe_provider)
    assert created.id.startswith("pi_")
    assert created.status is IntentStatus.REQUIRES_PAYMENT_METHOD
    assert (created.amount_minor, created.currency) == (1250, "USD")
    assert created.metadata == {"order": "order-1", "buyer": "u-7"}

    [create] = standin.requests_to("POST", "/v1/payment_intents")
    assert create.idempotency_key == "order-1:intent"
    assert create.params == {
        "amount": "1250",
        "currency": "usd",
        "capture_method": "automatic",
        "allowed_payment_method_types": {"0": "card"},
        "metadata": {"order": "order-1", "buyer": "u-7"},
        "transfer_group": "order-1",
    }

    paid = await stripe_provider.confirm_intent(
        created.id, payment_method="pm_card_visa", idempotency_key="order-1:confirm"
    )
    assert paid.status is IntentStatus.SUCCEEDED
    assert paid.amount_captured_minor == 1250
    [confirm] = standin.requests_to("POST", f"/v1/payment_intents/{created.id}/confirm")
    assert confirm.idempotency_key == "order-1:confirm"
    assert confirm.params == {"payment_method": "pm_card_visa", "error_on_requires_action": "true"}

    assert await stripe_provider.retrieve_intent(created.id) == paid
    [retrieve] = standin.requests_to("GET", f"/v1/payment_intents/{created.id}")
    assert retrieve.idempotency_key is None


async def test_manual_capture_and_cancel(
    stripe_provider: StripeProvider, standin: StripeStandIn
) -> None:
    held = await _intent(stripe_provider, "fee-1:intent", capture="manual")
    assert standin.requests[-1].params["capture_method"] == "manual"
    authorised = await stripe_provider.confirm_intent(
        held.id, payment_method="pm_card_mastercard", idempotency_key="fee-1:confirm"
    )
    assert authorised.status is IntentStatus.REQUIRES_CAPTURE
    assert authorised.amount_captured_minor == 0
    captured = await stripe_provider.capture(held.id, idempotency_key="fee-1:capture")
    assert captured.status is IntentStatus.SUCCEEDED
    assert captured.amount_captured_minor == 1250
    assert standin.requests[-1].idempotency_key == "fee-1:capture"

    released = await _intent(stripe_provider, "fee-2:intent", capture="manual")
    await stripe_provider.confirm_intent(
        released.id, payment_method="pm_card_visa", idempotency_key="fee-2:confirm"
    )
    canceled = await stripe_provider.cancel(released.id, idempotency_key="fee-2:cancel")
    assert canceled.status is IntentStatus.CANCELED
    assert standin.requests[-1].idempotency_key == "fee-2:cancel"

    with pytest.raises(ProviderError, match="payment_intent_unexpected_state"):
        await stripe_provider.cancel(held.id, idempotency_key="fee-1:cancel")


async def test_a_card_error_is_a_decline_with_stripes_codes(
    stripe_provider: StripeProvider,
) -> None:
    created = await _intent(stripe_provider)
    with pytest.raises(PaymentDeclined) as declined:
        await stripe_provider.confirm_intent(
            created.id, payment_method="pm_card_chargeDeclined", idempotency_key="c1"
        )
    assert (declined.value.code, declined.value.decline_code) == (
        "card_declined",
        "generic_decline",
    )
    assert str(declined.value) == "Your card was declined."

    with pytest.raises(PaymentDeclined) as declined:
        await stripe_provider.confirm_intent(
            created.id,
            payment_method="pm_card_chargeDeclinedInsufficientFunds",
            idempotency_key="c2",
        )
    assert declined.value.decline_code == "insufficient_funds"


async def test_a_card_that_needs_3ds_is_declined_not_left_waiting(
    stripe_provider: StripeProvider,
) -> None:
    created = await _intent(stripe_provider)
    with pytest.raises(PaymentDeclined) as declined:
        await stripe_provider.confirm_intent(
            created.id, payment_method="pm_card_authenticationRequired", idempotency_key="c1"
        )
    assert declined.value.code == "authentication_required"


async def test_an_unknown_payment_method_is_declined_as_invalid(
    stripe_provider: StripeProvider,
) -> None:
    created = await _intent(stripe_provider)
    with pytest.raises(PaymentDeclined) as declined:
        await stripe_provider.confirm_intent(
            created.id, payment_method="pm_nope", idempotency_key="c1"
        )
    assert declined.value.code == "invalid_payment_method"
    assert "pm_nope" in str(declined.value)


async def test_a_replayed_key_returns_the_first_response(
    stripe_provider: StripeProvider, standin: StripeStandIn
) -> None:
    first = await _intent(stripe_provider, "k1")
    again = await _intent(stripe_provider, "k1")
    assert again == first
    creates = standin.requests_to("POST", "/v1/payment_intents")
    assert [(r.idempotency_key, r.replayed) for r in creates] == [("k1", False), ("k1", True)]
    assert [o for o in standin.objects.values() if o["object"] == "payment_intent"] == [
        standin.objects[first.id]
    ]

    held = await _intent(stripe_provider, "k2", capture="manual")
    confirmed = await stripe_provider.confirm_intent(
        held.id, payment_method="pm_card_visa", idempotency_key="k3"
    )
    await stripe_provider.capture(held.id, idempotency_key="k4")
    replayed = await stripe_provider.confirm_intent(
        held.id, payment_method="pm_card_visa", idempotency_key="k3"
    )
    assert replayed == confirmed
    assert replayed.status is IntentStatus.REQUIRES_CAPTURE

    # A replayed decline is declined again.
    open_intent = await _intent(stripe_provider, "k5")
    for _ in range(2):
        with pytest.raises(PaymentDeclined):
            await stripe_provider.confirm_intent(
                open_intent.id, payment_method="pm_card_chargeDeclined", idempotency_key="k6"
            )
    assert standin.requests[-1].replayed


async def test_a_key_reused_with_other_parameters_is_a_provider_error(
    stripe_provider: StripeProvider,
) -> None:
    await _intent(stripe_provider, "k1", amount=1000)
    with pytest.raises(ProviderError) as failed:
        await _intent(stripe_provider, "k1", amount=2000)
    assert "IdempotencyError" in str(failed.value)
    assert "HTTP 400" in str(failed.value)


async def test_refunds(stripe_provider: StripeProvider, standin: StripeStandIn) -> None:
    created = await _intent(stripe_provider, amount=1000)
    await stripe_provider.confirm_intent(
        created.id, payment_method="pm_card_visa", idempotency_key="c1"
    )
    refund = await stripe_provider.refund(created.id, amount_minor=400, idempotency_key="r1")
    assert refund.startswith("re_")
    [request] = standin.requests_to("POST", "/v1/refunds")
    assert request.params == {"payment_intent": created.id, "amount": "400"}
    assert request.idempotency_key == "r1"

    with pytest.raises(ProviderError, match="amount_too_large"):
        await stripe_provider.refund(created.id, amount_minor=601, idempotency_key="r2")
    assert await stripe_provider.refund(created.id, amount_minor=600, idempotency_key="r3")


async def test_transfers_and_reversals(
    stripe_provider: StripeProvider, standin: StripeStandIn
) -> None:
    transfer = await stripe_provider.transfer(
        destination="acct_1Seller",
        amount_minor=850,
        currency="USD",
        transfer_group="order-1",
        idempotency_key="order-1:transfer:seller",
    )
    assert transfer.startswith("tr_")
    [request] = standin.requests_to("POST", "/v1/transfers")
    assert request.params == {
        "amount": "850",
        "currency": "usd",
        "destination": "acct_1Seller",
        "transfer_group": "order-1",
    }
    assert request.idempotency_key == "order-1:transfer:seller"

    reversal = await stripe_provider.reverse_transfer(
        transfer, amount_minor=850, idempotency_key="refund-1:reversal:seller"
    )
    assert reversal.startswith("trr_")
    [request] = standin.requests_to("POST", f"/v1/transfers/{transfer}/reversals")
    assert request.params == {"amount": "850"}
    assert request.idempotency_key == "refund-1:reversal:seller"
    assert standin.objects[transfer]["reversed"] is True

    with pytest.raises(ProviderError, match="InvalidRequestError"):
        await stripe_provider.reverse_transfer(transfer, amount_minor=1, idempotency_key="again")


async def test_payouts_are_made_on_the_connected_account(
    stripe_provider: StripeProvider, standin: StripeStandIn
) -> None:
    payout = await stripe_provider.payout(
        destination="acct_1Seller", amount_minor=5000, currency="USD", idempotency_key="po-1"
    )
    assert payout.startswith("po_")
    [request] = standin.requests_to("POST", "/v1/payouts")
    assert request.params == {"amount": "5000", "currency": "usd"}
    assert request.stripe_account == "acct_1Seller"
    assert request.idempotency_key == "po-1"


async def test_every_mutating_call_sent_the_callers_key(
    stripe_provider: StripeProvider, standin: StripeStandIn
) -> None:
    created = await _intent(stripe_provider, "a", capture="manual")
    await stripe_provider.confirm_intent(
        created.id, payment_method="pm_card_visa", idempotency_key="b"
    )
    await stripe_provider.capture(created.id, idempotency_key="c")
    await stripe_provider.refund(created.id, amount_minor=5, idempotency_key="d")
    transfer = await stripe_provider.transfer(
        destination="acct_x",
        amount_minor=5,
        currency="USD",
        transfer_group="g",
        idempotency_key="e",
    )
    await stripe_provider.reverse_transfer(transfer, amount_minor=5, idempotency_key="f")
    await stripe_provider.payout(
        destination="acct_x", amount_minor=5, currency="USD", idempotency_key="g"
    )
    await stripe_provider.create_account(user_id="u-1", email=None, idempotency_key="h")
    posts = [r for r in standin.requests if r.method == "POST"]
    assert [r.idempotency_key for r in posts] == list("abcdefgh")
    assert all(r.status_code == 200 for r in standin.requests)


async def test_retries_after_a_server_error_reuse_the_key(
    standin: StripeStandIn, stripe_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0)
    monkeypatch.setattr(stripe.HTTPClient, "MAX_DELAY", 0)
    provider = StripeProvider(API_KEY, api_base=stripe_url, max_network_retries=2)
    try:
        standin.fail_next(503, times=2)
        created = await _intent(provider, "k1")
    finally:
        await provider.aclose()
    creates = standin.requests_to("POST", "/v1/payment_intents")
    assert [(r.status_code, r.idempotency_key) for r in creates] == [
        (503, "k1"),
        (503, "k1"),
        (200, "k1"),
    ]
    assert created.id in standin.objects


async def test_a_server_error_after_the_retries_is_a_provider_error(
    stripe_provider: StripeProvider, standin: StripeStandIn
) -> None:
    standin.fail_next(500)
    with pytest.raises(ProviderError, match="HTTP 500"):
        await _intent(stripe_provider)


async def test_a_wrong_key_is_a_provider_error_that_does_not_show_the_key(
    standin: StripeStandIn, stripe_url: str
) -> None:
    wrong_key = "sk_test_wrongKey0123456789abcdef"
    provider = StripeProvider(wrong_key, api_base=stripe_url, max_network_retries=0)
    try:
        with pytest.raises(ProviderError) as failed:
            await _intent(provider)
    finally:
        await provider.aclose()
    # The stand-in echoed the key in its message; the adapter must not pass it on.
    assert standin.requests[-1].status_code == 401
    message = str(failed.value)
    assert "AuthenticationError" in message
    assert "HTTP 401" in message
    assert wrong_key not in message
    assert "wrongKey" not in message
    assert failed.value.__cause__ is None
    assert failed.value.__suppress_context__


async def test_an_unreachable_stripe_is_a_provider_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider = StripeProvider(
        API_KEY, api_base=f"http://127.0.0.1:{port}", max_network_retries=0, timeout_seconds=5
    )
    try:
        with pytest.raises(ProviderError, match="APIConnectionError") as failed:
            await _intent(provider)
    finally:
        await provider.aclose()
    assert API_KEY not in str(failed.value)


def test_a_key_is_required() -> None:
    with pytest.raises(ValueError, match="secret key"):
        StripeProvider("")


async def test_create_account_opens_an_express_account_for_the_user(
    stripe_provider: StripeProvider, standin: StripeStandIn
) -> None:
    # when an account is opened for a user
    account = await stripe_provider.create_account(
        user_id="3f1c0d2e-user", email="seller@example.com", idempotency_key="account:u1"
    )

    # then Stripe was asked for an Express account able to receive transfers, whose payouts
    # to the bank are left to the platform (manual)
    assert account.startswith("acct_")
    [request] = standin.requests_to("POST", "/v1/accounts")
    assert request.params == {
        "type": "express",
        "capabilities": {"transfers": {"requested": "true"}},
        "settings": {"payouts": {"schedule": {"interval": "manual"}}},
        "metadata": {"user_id": "3f1c0d2e-user"},
        "email": "seller@example.com",
    }
    assert request.idempotency_key == "account:u1"
    assert request.stripe_account is None
    assert standin.objects[account]["type"] == "express"

    # and a retry under the same key is the same account
    again = await stripe_provider.create_account(
        user_id="3f1c0d2e-user", email="seller@example.com", idempotency_key="account:u1"
    )
    assert again == account
    assert standin.requests[-1].replayed


async def test_create_account_without_an_email_sends_none(
    stripe_provider: StripeProvider, standin: StripeStandIn
) -> None:
    await stripe_provider.create_account(user_id="u-2", email=None, idempotency_key="account:u2")
    [request] = standin.requests_to("POST", "/v1/accounts")
    assert "email" not in request.params


async def test_an_order_transfers_reverses_and_pays_out_through_connected_accounts(
    stripe_provider: StripeProvider, standin: StripeStandIn
) -> None:
    # given a paid order and a connected account for the seller
    paid = await _intent(stripe_provider, "tx-1:intent", amount=1000)
    await stripe_provider.confirm_intent(
        paid.id, payment_method="pm_card_visa", idempotency_key="tx-1:confirm"
    )
    account = await stripe_provider.create_account(
        user_id="seller", email=None, idempotency_key="account:seller"
    )

    # when the seller's part of the order is transferred, partly reversed, and paid out
    transfer = await stripe_provider.transfer(
        destination=account,
        amount_minor=900,
        currency="USD",
        transfer_group="tx-1",
        idempotency_key="transfer:tx-1:seller",
        source_payment=paid.id,
    )
    await stripe_provider.reverse_transfer(
        transfer, amount_minor=300, idempotency_key="reversal:refund-1:seller"
    )
    payout = await stripe_provider.payout(
        destination=account, amount_minor=600, currency="USD", idempotency_key="payout:p1"
    )

    # then each went to the connected account, grouped by the order, the transfer tied to
    # the order's charge
    [request] = standin.requests_to("POST", "/v1/transfers")
    assert request.params == {
        "amount": "900",
        "currency": "usd",
        "destination": account,
        "transfer_group": "tx-1",
        "source_transaction": standin.objects[paid.id]["latest_charge"],
    }
    assert request.params["source_transaction"].startswith("ch_")
    assert standin.objects[transfer]["destination"] == account
    assert standin.objects[transfer]["transfer_group"] == "tx-1"
    assert standin.objects[transfer]["amount_reversed"] == 300
    assert standin.objects[payout]["amount"] == 600
    [request] = standin.requests_to("POST", "/v1/payouts")
    assert request.stripe_account == account


async def test_a_refused_request_is_rejected_for_good_and_an_outage_is_not(
    stripe_provider: StripeProvider, standin: StripeStandIn
) -> None:
    # a payout on an account the platform does not control: refused for good
    with pytest.raises(ProviderRejected, match="PermissionError"):
        await stripe_provider.payout(
            destination="ba_not_an_account",
            amount_minor=500,
            currency="USD",
            idempotency_key="payout:p2",
        )
    # an invalid request (a reversal beyond the transfer): refused for good
    transfer = await stripe_provider.transfer(
        destination="acct_x",
        amount_minor=5,
        currency="USD",
        transfer_group="g",
        idempotency_key="t",
    )
    with pytest.raises(ProviderRejected, match="InvalidRequestError"):
        await stripe_provider.reverse_transfer(transfer, amount_minor=6, idempotency_key="r")
    # a server error: the outcome is unknown, not a refusal
    standin.fail_next(503)
    with pytest.raises(ProviderError) as failed:
        await stripe_provider.payout(
            destination="acct_x", amount_minor=500, currency="USD", idempotency_key="payout:p3"
        )
    assert not isinstance(failed.value, ProviderRejected)
    # nor is an idempotency key reused with other parameters (our fault; Stripe did nothing)
    with pytest.raises(ProviderError) as reused:
        await stripe_provider.transfer(
            destination="acct_x",
            amount_minor=7,
            currency="USD",
            transfer_group="g",
            idempotency_key="t",
        )
    assert not isinstance(reused.value, ProviderRejected)
