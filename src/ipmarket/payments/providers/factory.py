"""Which provider a process uses: Stripe when STRIPE_SECRET_KEY is set, otherwise the
process-wide in-memory test provider (development only: production refuses it)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ipmarket.payments.providers.base import PaymentProvider
from ipmarket.payments.providers.stripe_adapter import StripeProvider
from ipmarket.payments.providers.testmode import TestProvider

if TYPE_CHECKING:
    from ipmarket.config import Settings

_lock = threading.Lock()
_test_provider: TestProvider | None = None
_stripe_providers: dict[tuple[str, str | None], StripeProvider] = {}


def shared_test_provider() -> TestProvider:
    """The process-wide test provider that `make_provider` hands out without Stripe."""
    global _test_provider  # noqa: PLW0603 - one instance per process, created on first use
    with _lock:
        if _test_provider is None:
            _test_provider = TestProvider()
        return _test_provider


def make_provider(settings: Settings) -> PaymentProvider:
    """The payment provider the settings call for, one instance per process and configuration.

    Raises RuntimeError in production without STRIPE_SECRET_KEY: the test provider takes
    `pm_card_visa` as payment and keeps nothing across restarts.
    """
    key = settings.stripe_secret_key.get_secret_value() if settings.stripe_secret_key else ""
    if key:
        with _lock:
            provider = _stripe_providers.get((key, settings.stripe_api_base))
            if provider is None:
                provider = StripeProvider(key, api_base=settings.stripe_api_base)
                _stripe_providers[key, settings.stripe_api_base] = provider
            return provider
    if settings.is_production:
        raise RuntimeError(
            "STRIPE_SECRET_KEY must be set when IPMARKET_ENV=production: the built-in test "
            "provider accepts test cards as payment"
        )
    return shared_test_provider()
