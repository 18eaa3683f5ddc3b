"""The built-in test provider behaves like Stripe's test mode: what only it does (its ids,
records, test controls and checks). What every provider does is in `test_contract`."""

from __future__ import annotations

import asyncio

import pytest

from ipmarket.payments.providers import (
    Intent,
    IntentStatus,
    PaymentProvider,
    ProviderError,
    ProviderRejected,
    TestProvider,
)


@pytest.fixture
def provider() -> TestProvider:
    return TestProvider()


async def _intent(
    provider: TestProvider,
    key: str = "order-1:intent",
    *,
    amount: int = 1250,
    capture: str = "automatic",
    metadata: dict[str, str] | None = None,
) -> Intent:
    assert capture in ("automatic", "manual")
    return await provider.create_intent(
        amount_minor=amount,
        currency="USD",
        capture="manual" if capture == "manual" else "automatic",
        metadata=metadata if metadata is not None else {"order": "order-1"},
        transfer_group="order-1",
        idempotency_key=key,
    )


def test_it_implements_the_port() -> None:
    provider: PaymentProvider = TestProvider()  # checked by mypy
    assert provider.name == "test"


async def test_refunds_add_up_to_the_captured_amount(provider: TestProvider) -> None:
    created = await _intent(provider, amount=1000)
    await provider.confirm_intent(created.id, payment_method="pm_card_visa", idempotency_key="c1")

    first = await provider.refund(created.id, amount_minor=300, idempotency_key="r1")
    assert first.startswith("re_test_")
    with pytest.raises(ProviderError, match="amount_too_large"):
        await provider.refund(created.id, amount_minor=701, idempotency_key="r2")
    second = await provider.refund(created.id, amount_minor=700, idempotency_key="r3")
    with pytest.raises(ProviderError, match="amount_too_large"):
        await provider.refund(created.id, amount_minor=1, idempotency_key="r4")

    assert [(r.id, r.amount_minor) for r in provider.refunds()] == [(first, 300), (second, 700)]


@pytest.mark.parametrize("amount", [0, -5, 100_000_000])
async def test_amounts_outside_stripes_range_are_refused(
    provider: TestProvider, amount: int
) -> None:
    with pytest.raises(ProviderError, match="amount"):
        await _intent(provider, amount=amount)
    created = await _intent(provider, "ok")
    await provider.confirm_intent(created.id, payment_method="pm_card_visa", idempotency_key="c1")
    with pytest.raises(ProviderError, match="amount"):
        await provider.refund(created.id, amount_minor=amount, idempotency_key="r1")


async def test_an_uncaptured_or_unknown_intent_cannot_be_refunded(provider: TestProvider) -> None:
    held = await _intent(provider, capture="manual")
    await provider.confirm_intent(held.id, payment_method="pm_card_visa", idempotency_key="c1")
    with pytest.raises(ProviderError, match="no captured payment"):
        await provider.refund(held.id, amount_minor=1, idempotency_key="r1")
    with pytest.raises(ProviderError, match="no such PaymentIntent"):
        await provider.refund("pi_test_nope", amount_minor=1, idempotency_key="r2")
    with pytest.raises(ProviderError, match="no such PaymentIntent"):
        await provider.retrieve_intent("pi_test_nope")


# --- idempotency -----------------------------------------------------------------------------


async def test_the_same_key_and_parameters_replay_the_first_result(provider: TestProvider) -> None:
    first = await _intent(provider, "k1")
    again = await _intent(provider, "k1")
    assert again == first
    assert len(provider.intents()) == 1

    held = await _intent(provider, "k2", capture="manual")
    confirmed = await provider.confirm_intent(
        held.id, payment_method="pm_card_visa", idempotency_key="k3"
    )
    await provider.capture(held.id, idempotency_key="k4")
    # The replay is the first response, not the intent's state now.
    replayed = await provider.confirm_intent(
        held.id, payment_method="pm_card_visa", idempotency_key="k3"
    )
    assert replayed == confirmed
    assert replayed.status is IntentStatus.REQUIRES_CAPTURE

    paid = await _intent(provider, "k5")
    await provider.confirm_intent(paid.id, payment_method="pm_card_visa", idempotency_key="k6")
    refund = await provider.refund(paid.id, amount_minor=500, idempotency_key="k7")
    assert await provider.refund(paid.id, amount_minor=500, idempotency_key="k7") == refund
    assert len(provider.refunds()) == 1


async def test_the_same_key_with_other_parameters_is_an_idempotency_error(
    provider: TestProvider,
) -> None:
    created = await _intent(provider, "k1", amount=1000)
    with pytest.raises(ProviderError, match="idempotency_error"):
        await _intent(provider, "k1", amount=2000)
    with pytest.raises(ProviderError, match="idempotency_error"):
        await _intent(provider, "k1", metadata={"order": "other"})
    # ... or with another operation.
    with pytest.raises(ProviderError, match="idempotency_error"):
        await provider.confirm_intent(
            created.id, payment_method="pm_card_visa", idempotency_key="k1"
        )
    await provider.confirm_intent(created.id, payment_method="pm_card_visa", idempotency_key="k2")
    await provider.refund(created.id, amount_minor=100, idempotency_key="k3")
    with pytest.raises(ProviderError, match="idempotency_error"):
        await provider.refund(created.id, amount_minor=200, idempotency_key="k3")
    assert len(provider.intents()) == 1
    assert [r.amount_minor for r in provider.refunds()] == [100]


async def test_parameters_that_fail_validation_save_nothing(provider: TestProvider) -> None:
    with pytest.raises(ProviderError):
        await _intent(provider, "k1", amount=0)
    created = await _intent(provider, "k1", amount=100)
    assert created.amount_minor == 100


async def test_a_key_is_required(provider: TestProvider) -> None:
    with pytest.raises(ProviderError, match="idempotency key"):
        await _intent(provider, "")


async def test_concurrent_retries_of_one_key_charge_once(provider: TestProvider) -> None:
    created = await _intent(provider)
    results = await asyncio.gather(
        *(
            provider.confirm_intent(created.id, payment_method="pm_card_visa", idempotency_key="c")
            for _ in range(50)
        )
    )
    assert {r.status for r in results} == {IntentStatus.SUCCEEDED}
    refunds = await asyncio.gather(
        *(provider.refund(created.id, amount_minor=1250, idempotency_key="r") for _ in range(20))
    )
    assert len(set(refunds)) == 1
    assert len(provider.refunds()) == 1


async def test_ids_are_deterministic_per_key() -> None:
    a, b = TestProvider(), TestProvider()
    assert (await _intent(a, "same")).id == (await _intent(b, "same")).id
    assert (await _intent(a, "other")).id != (await _intent(b, "same")).id


async def test_inputs_are_copied_and_currency_normalised(provider: TestProvider) -> None:
    metadata = {"order": "o1"}
    created = await provider.create_intent(
        amount_minor=100,
        currency="eur",
        capture="automatic",
        metadata=metadata,
        transfer_group=None,
        idempotency_key="k1",
    )
    metadata["order"] = "changed"
    created.metadata["order"] = "changed too"
    intent = await provider.retrieve_intent(created.id)
    assert intent.metadata == {"order": "o1"}
    assert intent.currency == "EUR"
    with pytest.raises(ProviderError, match="currency"):
        await provider.create_intent(
            amount_minor=100,
            currency="dollars",
            capture="automatic",
            metadata={},
            transfer_group=None,
            idempotency_key="k2",
        )


# --- transfers, reversals, payouts -----------------------------------------------------------


async def test_transfers_reversals_and_payouts_are_recorded(provider: TestProvider) -> None:
    transfer = await provider.transfer(
        destination="acct_seller",
        amount_minor=800,
        currency="USD",
        transfer_group="order-1",
        idempotency_key="t1",
    )
    assert transfer.startswith("tr_test_")
    replay = await provider.transfer(
        destination="acct_seller",
        amount_minor=800,
        currency="USD",
        transfer_group="order-1",
        idempotency_key="t1",
    )
    assert replay == transfer

    reversal = await provider.reverse_transfer(transfer, amount_minor=300, idempotency_key="v1")
    assert reversal.startswith("trr_test_")
    with pytest.raises(ProviderError, match="amount_too_large"):
        await provider.reverse_transfer(transfer, amount_minor=501, idempotency_key="v2")
    with pytest.raises(ProviderError, match="no such transfer"):
        await provider.reverse_transfer("tr_test_nope", amount_minor=1, idempotency_key="v3")

    payout = await provider.payout(
        destination="acct_seller", amount_minor=500, currency="USD", idempotency_key="p1"
    )
    assert payout.startswith("po_test_")

    [recorded] = provider.transfers()
    assert (recorded.id, recorded.destination, recorded.amount_minor) == (
        transfer,
        "acct_seller",
        800,
    )
    assert (recorded.transfer_group, recorded.amount_reversed_minor) == ("order-1", 300)
    assert [(r.id, r.transfer_id, r.amount_minor) for r in provider.reversals()] == [
        (reversal, transfer, 300)
    ]
    assert [(p.id, p.destination, p.amount_minor, p.currency) for p in provider.payouts()] == [
        (payout, "acct_seller", 500, "USD")
    ]

    provider.reset()
    assert provider.transfers() == []
    assert provider.payouts() == []


# --- connected accounts and test controls ----------------------------------------------------


async def test_connected_accounts_are_opened_once_per_key(provider: TestProvider) -> None:
    account = await provider.create_account(
        user_id="u-1", email="u1@example.com", idempotency_key="account:u-1"
    )
    assert account.startswith("acct_test_")
    again = await provider.create_account(
        user_id="u-1", email="u1@example.com", idempotency_key="account:u-1"
    )
    assert again == account
    other = await provider.create_account(user_id="u-2", email=None, idempotency_key="account:u-2")
    assert other != account
    assert [(a.id, a.user_id, a.email) for a in provider.accounts()] == [
        (account, "u-1", "u1@example.com"),
        (other, "u-2", None),
    ]
    assert [c.outcome for c in provider.calls("create_account")] == ["ok", "replayed", "ok"]


async def test_an_unreachable_provider_saves_nothing_under_the_key(provider: TestProvider) -> None:
    # given the next payout cannot reach the provider
    provider.fail_next("payout")
    with pytest.raises(ProviderError) as failed:
        await provider.payout(
            destination="acct_x", amount_minor=500, currency="USD", idempotency_key="p1"
        )
    assert not isinstance(failed.value, ProviderRejected)
    assert provider.payouts() == []
    # when it is retried under the same key, it goes through, once
    paid = await provider.payout(
        destination="acct_x", amount_minor=500, currency="USD", idempotency_key="p1"
    )
    assert [p.id for p in provider.payouts()] == [paid]
    assert [(c.operation, c.idempotency_key, c.outcome) for c in provider.calls()] == [
        ("payout", "p1", "unreachable"),
        ("payout", "p1", "ok"),
    ]


async def test_a_refusal_is_saved_under_the_key(provider: TestProvider) -> None:
    # given the next payout is refused for good
    provider.fail_next("payout", rejected=True)
    for _ in range(2):
        with pytest.raises(ProviderRejected):
            await provider.payout(
                destination="acct_x", amount_minor=500, currency="USD", idempotency_key="p1"
            )
    # then a retry under the same key is refused again; another key goes through
    assert provider.payouts() == []
    await provider.payout(
        destination="acct_x", amount_minor=500, currency="USD", idempotency_key="p2"
    )
    assert [c.outcome for c in provider.calls("payout")] == ["rejected", "replayed", "ok"]


async def test_failures_can_wait_for_earlier_calls(provider: TestProvider) -> None:
    provider.fail_next("transfer", after=1, times=2)
    keys = ["t1", "t2", "t3", "t4"]
    outcomes = []
    for key in keys:
        try:
            await provider.transfer(
                destination="acct_x",
                amount_minor=1,
                currency="USD",
                transfer_group="g",
                idempotency_key=key,
            )
            outcomes.append("ok")
        except ProviderError:
            outcomes.append("failed")
    assert outcomes == ["ok", "failed", "failed", "ok"]
    with pytest.raises(ValueError):
        provider.fail_next("transfer", times=0)


async def test_a_transfer_tied_to_an_unpaid_payment_is_refused(provider: TestProvider) -> None:
    unpaid = await _intent(provider, "unpaid")
    with pytest.raises(ProviderRejected, match="has not succeeded"):
        await provider.transfer(
            destination="acct_x",
            amount_minor=100,
            currency="USD",
            transfer_group="order-1",
            idempotency_key="t1",
            source_payment=unpaid.id,
        )
    await provider.confirm_intent(unpaid.id, payment_method="pm_card_visa", idempotency_key="c1")
    await provider.transfer(
        destination="acct_x",
        amount_minor=100,
        currency="USD",
        transfer_group="order-1",
        idempotency_key="t2",
        source_payment=unpaid.id,
    )
    assert [t.source_payment for t in provider.transfers()] == [unpaid.id]
