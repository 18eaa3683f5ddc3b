"""The process's payment provider: set once at startup, and called through `call_provider`,
which turns a provider failure into ProviderUnavailable."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import structlog

from ipmarket.config import get_settings
from ipmarket.payments.errors import ProviderUnavailable
from ipmarket.payments.providers.base import PaymentProvider, ProviderError
from ipmarket.payments.providers.factory import make_provider

log = structlog.get_logger(__name__)

T = TypeVar("T")

_provider: PaymentProvider | None = None


def configure_provider(provider: PaymentProvider | None) -> None:
    """Set the provider this process uses (at startup: `make_provider(settings)`)."""
    global _provider  # noqa: PLW0603 - one provider per process, set at startup
    _provider = provider


def get_provider() -> PaymentProvider:
    return _provider if _provider is not None else make_provider(get_settings())


async def call_provider(operation: Awaitable[T], what: str) -> T:
    try:
        return await operation
    except ProviderError as exc:
        log.warning("payments.provider_error", operation=what, error=str(exc))
        raise ProviderUnavailable(
            "The payment provider could not complete the request; try again",
            details={"operation": what},
        ) from exc
