"""Payment providers behind one port: the built-in test provider and Stripe, and the
registry of the process's provider.

`make_provider(settings)` picks one: Stripe when STRIPE_SECRET_KEY is set, otherwise the
process-wide in-memory test provider (development only: production refuses it).
`configure_provider` sets it at startup; `get_provider` and `call_provider` use it.
"""

from ipmarket.payments.providers.base import (
    Intent,
    IntentStatus,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    ProviderRejected,
)
from ipmarket.payments.providers.factory import make_provider, shared_test_provider
from ipmarket.payments.providers.registry import call_provider, configure_provider, get_provider
from ipmarket.payments.providers.stripe_adapter import StripeProvider
from ipmarket.payments.providers.testmode import TestProvider
from ipmarket.payments.providers.webhooks import (
    WebhookSignatureError,
    sign_stripe_payload,
    verify_stripe_signature,
)

__all__ = [
    "Intent",
    "IntentStatus",
    "PaymentDeclined",
    "PaymentProvider",
    "ProviderError",
    "ProviderRejected",
    "StripeProvider",
    "TestProvider",
    "WebhookSignatureError",
    "call_provider",
    "configure_provider",
    "get_provider",
    "make_provider",
    "shared_test_provider",
    "sign_stripe_payload",
    "verify_stripe_signature",
]
