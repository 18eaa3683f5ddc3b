"""The Stripe stand-in, served once for these tests, emptied before each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from ipmarket.payments.providers import StripeProvider
from tests.payments.providers.stripe_standin import StripeStandIn, serve_in_thread

API_KEY = "sk_test_standin_4eC39HqLyjWDarjtT1zdp7dc"


@pytest.fixture(scope="session")
def stripe_server() -> Iterator[tuple[StripeStandIn, str]]:
    standin = StripeStandIn(API_KEY)
    with serve_in_thread(standin.app) as url:
        yield standin, url


@pytest.fixture
def standin(stripe_server: tuple[StripeStandIn, str]) -> StripeStandIn:
    stripe_server[0].reset()
    return stripe_server[0]


@pytest.fixture
def stripe_url(stripe_server: tuple[StripeStandIn, str]) -> str:
    return stripe_server[1]


@pytest.fixture
async def stripe_provider(standin: StripeStandIn, stripe_url: str) -> AsyncIterator[StripeProvider]:
    provider = StripeProvider(API_KEY, api_base=stripe_url, max_network_retries=0)
    yield provider
    await provider.aclose()
