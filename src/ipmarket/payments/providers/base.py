"""The payment provider port. Amounts are integer minor units.

Every call that moves money takes an idempotency key, passed on to the provider, so a retried
call never charges, captures, refunds, transfers or pays out twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol


class IntentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CAPTURE = "requires_capture"  # authorised, not yet captured (manual capture)
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"  # voided / released


@dataclass(frozen=True)
class Intent:
    id: str
    status: IntentStatus
    amount_minor: int
    currency: str
    amount_captured_minor: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    # The payment method it was confirmed with, once confirmed.
    payment_method: str | None = None


class PaymentDeclined(Exception):
    """The card (payment method) was declined; nothing was charged.

    `code` is the provider's error code (Stripe's `card_declined`, `expired_card`, ...);
    `decline_code` the issuer's reason when there is one (`generic_decline`,
    `insufficient_funds`, ...).
    """

    def __init__(
        self, message: str, *, code: str | None = None, decline_code: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.decline_code = decline_code


class ProviderError(Exception):
    """The provider failed or could not be reached; the outcome is unknown or nothing moved."""


class ProviderRejected(ProviderError):
    """The provider refused the request for good (invalid, not permitted, an account that
    cannot be paid): nothing moved, and the same request will be refused again.

    Unlike a plain ProviderError (a timeout, a 5xx, a rate limit: the outcome is unknown), it
    is safe to act on: a payout refused this way can be marked failed and its money given
    back. Replays of the same idempotency key are refused the same way."""


class PaymentProvider(Protocol):
    name: str

    async def create_intent(
        self,
        *,
        amount_minor: int,
        currency: str,
        capture: Literal["automatic", "manual"],
        metadata: dict[str, str],
        transfer_group: str | None,
        idempotency_key: str,
    ) -> Intent: ...

    async def confirm_intent(
        self, intent_id: str, *, payment_method: str, idempotency_key: str
    ) -> Intent:
        """Charge (automatic capture) or authorise (manual capture); raises PaymentDeclined."""
        ...

    async def retrieve_intent(self, intent_id: str) -> Intent: ...

    async def capture(self, intent_id: str, *, idempotency_key: str) -> Intent: ...

    async def cancel(self, intent_id: str, *, idempotency_key: str) -> Intent:
        """Void an uncaptured intent, releasing the authorisation."""
        ...

    async def refund(self, intent_id: str, *, amount_minor: int, idempotency_key: str) -> str:
        """Refund part or all of a captured intent; returns the refund id."""
        ...

    async def transfer(
        self,
        *,
        destination: str,
        amount_minor: int,
        currency: str,
        transfer_group: str,
        idempotency_key: str,
        source_payment: str | None = None,
    ) -> str:
        """Send a seller's or licensor's share to their connected account; returns its id.

        `source_payment` (the buyer's payment intent) ties the transfer to that payment, so
        it can be made before the payment's funds are available to the platform (Stripe's
        `source_transaction`)."""
        ...

    async def reverse_transfer(
        self, transfer_id: str, *, amount_minor: int, idempotency_key: str
    ) -> str: ...

    async def payout(
        self, *, destination: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> str:
        """Pay available funds out of the connected account `destination` to the user's
        bank; returns the payout id. ProviderRejected when the provider refuses it for good."""
        ...

    async def create_account(self, *, user_id: str, email: str | None, idempotency_key: str) -> str:
        """Open a connected account (Stripe Connect, Express) that receives a user's
        earnings; returns its id (`acct_...`)."""
        ...
