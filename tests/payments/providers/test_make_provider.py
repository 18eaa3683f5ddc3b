"""make_provider: Stripe when a secret key is configured, else the shared test provider."""

from __future__ import annotations

from typing import Any

import pytest

from ipmarket.config import Settings
from ipmarket.payments.providers import (
    IntentStatus,
    StripeProvider,
    TestProvider,
    make_provider,
    shared_test_provider,
)
from tests.payments.providers.conftest import API_KEY
from tests.payments.providers.stripe_standin import StripeStandIn

# The SDK hands httpx its form body as `data=`, which httpx deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning"
)


def _settings(monkeypatch: pytest.MonkeyPatch, **values: Any) -> Settings:
    for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE", "IPMARKET_ENV"):
        monkeypatch.delenv(name, raising=False)
    return Settings.model_validate(values)


def test_the_stripe_settings_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_abc")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_abc")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")
    settings = Settings(_env_file=None)
    assert settings.stripe_secret_key is not None
    assert settings.stripe_secret_key.get_secret_value() == "sk_test_abc"
    assert settings.stripe_webhook_secret is not None
    assert settings.stripe_webhook_secret.get_secret_value() == "whsec_abc"
    assert settings.stripe_api_base == "http://127.0.0.1:9"
    assert "sk_test_abc" not in repr(settings)


def test_without_a_key_the_process_wide_test_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch)
    provider = make_provider(settings)
    assert isinstance(provider, TestProvider)
    assert make_provider(settings) is provider is shared_test_provider()
    assert make_provider(_settings(monkeypatch, STRIPE_SECRET_KEY="")) is provider


def test_production_refuses_the_test_provider(
    monkeypatch: pytest.MonkeyPatch, jwt_private_key_pem: str
) -> None:
    settings = _settings(
        monkeypatch,
        IPMARKET_ENV="production",
        DATABASE_URL="postgresql://u@db:5432/x",
        JWT_PRIVATE_KEY=jwt_private_key_pem,
        FILE_URL_SECRET="x" * 32,
    )
    with pytest.raises(RuntimeError, match="STRIPE_SECRET_KEY"):
        make_provider(settings)
    with_stripe = settings.model_copy(update={"stripe_secret_key": _secret("sk_live_abc")})
    assert isinstance(make_provider(with_stripe), StripeProvider)


async def test_with_a_key_stripe_at_the_configured_base(
    monkeypatch: pytest.MonkeyPatch, standin: StripeStandIn, stripe_url: str
) -> None:
    settings = _settings(monkeypatch, STRIPE_SECRET_KEY=API_KEY, STRIPE_API_BASE=stripe_url)
    provider = make_provider(settings)
    assert isinstance(provider, StripeProvider)
    assert make_provider(settings) is provider
    try:
        created = await provider.create_intent(
            amount_minor=100,
            currency="USD",
            capture="automatic",
            metadata={},
            transfer_group=None,
            idempotency_key="k1",
        )
        assert created.status is IntentStatus.REQUIRES_PAYMENT_METHOD
    finally:
        await provider.aclose()
    assert [r.path for r in standin.requests] == ["/v1/payment_intents"]


def _secret(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)
