"""The payment port's contract: the same behaviour from the built-in test provider and from
the Stripe adapter (against the local Stripe stand-in)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from ipmarket.payments.providers import (
    Intent,
    IntentStatus,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    StripeProvider,
    TestProvider,
)
from tests.payments.providers.conftest import API_KEY
from tests.payments.providers.stripe_standin import StripeStandIn

# The SDK hands httpx its form body as `data=`, which httpx deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


@dataclass(frozen=True)
class Port:
    provider: PaymentProvider
    # How the provider's payment intent ids begin.
    intent_prefix: str


@pytest.fixture(params=["test", "stripe"])
async def port(
    request: pytest.FixtureRequest, stripe_server: tuple[StripeStandIn, str]
) -> AsyncIterator[Port]:
    if request.param == "test":
        yield Port(TestProvider(), "pi_test_")
        return
    standin, url = stripe_server
    standin.reset()
    stripe = StripeProvider(API_KEY, api_base=url, max_network_retries=0)
    yield Port(stripe, "pi_")
    await stripe.aclose()


async def _intent(
    provider: PaymentProvider, key: str = "order-1:intent", *, capture: str = "automatic"
) -> Intent:
    return await provider.create_intent(
        amount_minor=1250,
        currency="USD",
        capture="manual" if capture == "manual" else "automatic",
        metadata={"order": "order-1"},
        transfer_group="order-1",
        idempotency_key=key,
    )


@pytest.mark.parametrize("card", ["pm_card_visa", "pm_card_mastercard"])
async def test_a_good_card_pays_at_once(port: Port, card: str) -> None:
    provider = port.provider
    created = await _intent(provider)
    assert created.id.startswith(port.intent_prefix)
    assert created.status is IntentStatus.REQUIRES_PAYMENT_METHOD
    assert (created.amount_minor, created.currency, created.amount_captured_minor) == (
        1250,
        "USD",
        0,
    )
    assert created.metadata == {"order": "order-1"}

    paid = await provider.confirm_intent(created.id, payment_method=card, idempotency_key="c1")
    assert paid.status is IntentStatus.SUCCEEDED
    assert paid.amount_captured_minor == 1250
    assert await provider.retrieve_intent(created.id) == paid


async def test_a_declined_card_raises_and_the_intent_stays_open(port: Port) -> None:
    provider = port.provider
    created = await _intent(provider)
    with pytest.raises(PaymentDeclined) as declined:
        await provider.confirm_intent(
            created.id, payment_method="pm_card_chargeDeclined", idempotency_key="c1"
        )
    assert declined.value.code == "card_declined"
    assert declined.value.decline_code == "generic_decline"
    assert str(declined.value) == "Your card was declined."
    intent = await provider.retrieve_intent(created.id)
    assert intent.status is IntentStatus.REQUIRES_PAYMENT_METHOD
    assert intent.amount_captured_minor == 0

    # Another card, with another key, may still pay it (as on Stripe).
    paid = await provider.confirm_intent(
        created.id, payment_method="pm_card_visa", idempotency_key="c2"
    )
    assert paid.status is IntentStatus.SUCCEEDED


async def test_decline_variants_carry_stripes_decline_codes(port: Port) -> None:
    created = await _intent(port.provider)
    with pytest.raises(PaymentDeclined) as declined:
        await port.provider.confirm_intent(
            created.id,
            payment_method="pm_card_chargeDeclinedInsufficientFunds",
            idempotency_key="c1",
        )
    assert (declined.value.code, declined.value.decline_code) == (
        "card_declined",
        "insufficient_funds",
    )


@pytest.mark.parametrize("method", ["pm_card_unknown", "", "4242424242424242", "tok_visa"])
async def test_an_unknown_payment_method_is_declined_as_invalid(port: Port, method: str) -> None:
    provider = port.provider
    created = await _intent(provider)
    with pytest.raises(PaymentDeclined) as declined:
        await provider.confirm_intent(created.id, payment_method=method, idempotency_key="c1")
    assert declined.value.code == "invalid_payment_method"
    assert (await provider.retrieve_intent(created.id)).status is (
        IntentStatus.REQUIRES_PAYMENT_METHOD
    )


async def test_manual_capture_authorises_then_captures(port: Port) -> None:
    provider = port.provider
    created = await _intent(provider, capture="manual")
    held = await provider.confirm_intent(
        created.id, payment_method="pm_card_visa", idempotency_key="c1"
    )
    assert held.status is IntentStatus.REQUIRES_CAPTURE
    assert held.amount_captured_minor == 0

    captured = await provider.capture(created.id, idempotency_key="cap1")
    assert captured.status is IntentStatus.SUCCEEDED
    assert captured.amount_captured_minor == 1250

    with pytest.raises(ProviderError, match="unexpected_state"):
        await provider.capture(created.id, idempotency_key="cap2")


async def test_cancel_releases_an_authorisation_but_not_a_capture(port: Port) -> None:
    provider = port.provider
    held = await _intent(provider, "held", capture="manual")
    await provider.confirm_intent(held.id, payment_method="pm_card_visa", idempotency_key="c1")
    released = await provider.cancel(held.id, idempotency_key="x1")
    assert released.status is IntentStatus.CANCELED
    assert released.amount_captured_minor == 0
    with pytest.raises(ProviderError):
        await provider.capture(held.id, idempotency_key="cap1")
    with pytest.raises(ProviderError):
        await provider.confirm_intent(held.id, payment_method="pm_card_visa", idempotency_key="c2")

    unpaid = await _intent(provider, "unpaid")
    assert (await provider.cancel(unpaid.id, idempotency_key="x2")).status is (
        IntentStatus.CANCELED
    )

    captured = await _intent(provider, "captured", capture="manual")
    await provider.confirm_intent(captured.id, payment_method="pm_card_visa", idempotency_key="c3")
    await provider.capture(captured.id, idempotency_key="cap3")
    with pytest.raises(ProviderError, match="cannot cancel"):
        await provider.cancel(captured.id, idempotency_key="x3")
    assert (await provider.retrieve_intent(captured.id)).status is IntentStatus.SUCCEEDED


async def test_a_replayed_decline_is_declined_again(port: Port) -> None:
    created = await _intent(port.provider)
    for _ in range(2):
        with pytest.raises(PaymentDeclined) as declined:
            await port.provider.confirm_intent(
                created.id, payment_method="pm_card_chargeDeclined", idempotency_key="c1"
            )
        assert declined.value.decline_code == "generic_decline"
