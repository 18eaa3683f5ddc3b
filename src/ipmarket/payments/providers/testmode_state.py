"""What the built-in test provider keeps: the objects it made, what each idempotency key
produced, the calls made and the failures asked for; and its checks of parameters as
Stripe makes them (see `testmode`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

from ipmarket.payments.providers.base import (
    Intent,
    IntentStatus,
    PaymentDeclined,
    ProviderError,
    ProviderRejected,
)

# Stripe's test PaymentMethods that succeed.
SUCCEEDING_PAYMENT_METHODS = frozenset(
    {
        "pm_card_visa",
        "pm_card_visa_debit",
        "pm_card_mastercard",
        "pm_card_mastercard_debit",
        "pm_card_amex",
    }
)


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str
    message: str


# Stripe's test PaymentMethods that are declined, with the error Stripe returns for each.
DECLINING_PAYMENT_METHODS: dict[str, Decline] = {
    "pm_card_chargeDeclined": Decline(
        "card_declined", "generic_decline", "Your card was declined."
    ),
    "pm_card_chargeDeclinedInsufficientFunds": Decline(
        "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "pm_card_chargeDeclinedFraudulent": Decline(
        "card_declined", "fraudulent", "Your card was declined."
    ),
    "pm_card_chargeDeclinedExpiredCard": Decline(
        "expired_card", "expired_card", "Your card has expired."
    ),
    "pm_card_chargeDeclinedIncorrectCvc": Decline(
        "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."
    ),
    "pm_card_chargeDeclinedProcessingError": Decline(
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
}

INVALID_PAYMENT_METHOD = "invalid_payment_method"


@dataclass(frozen=True)
class TestCard:
    """One of Stripe's test card numbers, the test payment method it stands for, and what
    paying with it does."""

    __test__ = False  # not a pytest test class, whatever its name

    number: str
    brand: str
    payment_method: str
    outcome: str

    @property
    def pays(self) -> bool:
        return self.payment_method in SUCCEEDING_PAYMENT_METHODS

    @property
    def spaced(self) -> str:
        """The number as printed on a card: 4-6-5 digits for American Express, else 4s."""
        n = self.number
        if len(n) == 15:
            return f"{n[:4]} {n[4:10]} {n[10:]}"
        return " ".join(n[i : i + 4] for i in range(0, len(n), 4))


# Stripe's test card numbers for the payment methods above: a checkout form takes these
# where the provider is in test mode (any future expiry date and any CVC will do).
TEST_CARDS: tuple[TestCard, ...] = (
    TestCard("4242424242424242", "Visa", "pm_card_visa", "Pays"),
    TestCard("4000056655665556", "Visa debit", "pm_card_visa_debit", "Pays"),
    TestCard("5555555555554444", "Mastercard", "pm_card_mastercard", "Pays"),
    TestCard("5200828282828210", "Mastercard debit", "pm_card_mastercard_debit", "Pays"),
    TestCard("378282246310005", "American Express", "pm_card_amex", "Pays"),
    TestCard("4000000000000002", "Visa", "pm_card_chargeDeclined", "Declined"),
    TestCard(
        "4000000000009995",
        "Visa",
        "pm_card_chargeDeclinedInsufficientFunds",
        "Declined: insufficient funds",
    ),
    TestCard(
        "4100000000000019", "Visa", "pm_card_chargeDeclinedFraudulent", "Declined: fraudulent"
    ),
    TestCard("4000000000000069", "Visa", "pm_card_chargeDeclinedExpiredCard", "Declined: expired"),
    TestCard(
        "4000000000000127",
        "Visa",
        "pm_card_chargeDeclinedIncorrectCvc",
        "Declined: incorrect CVC",
    ),
    TestCard(
        "4000000000000119",
        "Visa",
        "pm_card_chargeDeclinedProcessingError",
        "Declined: processing error",
    ),
)

# Stripe's limits on amounts (eight digits) and metadata.
MAX_AMOUNT_MINOR = 99_999_999
MAX_METADATA_KEYS = 50
MAX_METADATA_KEY_LENGTH = 40
MAX_METADATA_VALUE_LENGTH = 500


@dataclass(frozen=True)
class RecordedRefund:
    id: str
    intent_id: str
    amount_minor: int


@dataclass(frozen=True)
class RecordedTransfer:
    id: str
    destination: str
    amount_minor: int
    currency: str
    transfer_group: str
    amount_reversed_minor: int
    source_payment: str | None = None


@dataclass(frozen=True)
class RecordedReversal:
    id: str
    transfer_id: str
    amount_minor: int


@dataclass(frozen=True)
class RecordedPayout:
    id: str
    destination: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class RecordedAccount:
    id: str
    user_id: str
    email: str | None


CallOutcome = Literal[
    "ok", "replayed", "unreachable", "answer_lost", "rejected", "declined", "error"
]


@dataclass(frozen=True)
class RecordedCall:
    """One call of a money-moving operation, as the provider saw it."""

    operation: str
    idempotency_key: str
    outcome: CallOutcome


@dataclass(frozen=True)
class Failure:
    operation: str
    rejected: bool
    # Calls of the operation let through before this failure.
    after: int = 0
    # The call goes through, then the connection drops before its answer.
    answer_lost: bool = False


@dataclass
class IntentState:
    id: str
    amount_minor: int
    currency: str
    capture: Literal["automatic", "manual"]
    metadata: dict[str, str]
    transfer_group: str | None
    status: IntentStatus = IntentStatus.REQUIRES_PAYMENT_METHOD
    payment_method: str | None = None
    captured_minor: int = 0
    refunded_minor: int = 0

    def snapshot(self) -> Intent:
        return Intent(
            id=self.id,
            status=self.status,
            amount_minor=self.amount_minor,
            currency=self.currency,
            amount_captured_minor=self.captured_minor,
            metadata=dict(self.metadata),
            payment_method=self.payment_method,
        )


@dataclass
class TransferState:
    id: str
    destination: str
    amount_minor: int
    currency: str
    transfer_group: str
    source_payment: str | None = None
    reversed_minor: int = 0

    def snapshot(self) -> RecordedTransfer:
        return RecordedTransfer(
            id=self.id,
            destination=self.destination,
            amount_minor=self.amount_minor,
            currency=self.currency,
            transfer_group=self.transfer_group,
            amount_reversed_minor=self.reversed_minor,
            source_payment=self.source_payment,
        )


@dataclass(frozen=True)
class SavedOutcome:
    """What an idempotency key produced the first time: a result or an error."""

    fingerprint: tuple[object, ...]
    result: object = None
    error: PaymentDeclined | ProviderError | None = None

    def replay(self) -> object:
        if isinstance(self.error, PaymentDeclined):
            raise PaymentDeclined(
                str(self.error), code=self.error.code, decline_code=self.error.decline_code
            )
        if isinstance(self.error, ProviderRejected):
            raise ProviderRejected(str(self.error))
        if self.error is not None:
            raise ProviderError(str(self.error))
        return self.result


@dataclass
class ProviderState:
    intents: dict[str, IntentState] = field(default_factory=dict)
    refunds: dict[str, RecordedRefund] = field(default_factory=dict)
    transfers: dict[str, TransferState] = field(default_factory=dict)
    reversals: dict[str, RecordedReversal] = field(default_factory=dict)
    payouts: dict[str, RecordedPayout] = field(default_factory=dict)
    accounts: dict[str, RecordedAccount] = field(default_factory=dict)
    outcomes: dict[str, SavedOutcome] = field(default_factory=dict)
    calls: list[RecordedCall] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


def object_id(prefix: str, idempotency_key: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
    return f"{prefix}_test_{digest}"


def check_amount(amount_minor: int) -> int:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int):
        raise ProviderError("amount must be an integer number of minor units")
    if not 1 <= amount_minor <= MAX_AMOUNT_MINOR:
        raise ProviderError(f"amount must be between 1 and {MAX_AMOUNT_MINOR} minor units")
    return amount_minor


def check_currency(currency: str) -> str:
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise ProviderError(f"invalid currency {currency!r}: a three-letter ISO 4217 code")
    return currency.upper()


def check_metadata(metadata: dict[str, str]) -> dict[str, str]:
    if len(metadata) > MAX_METADATA_KEYS:
        raise ProviderError(f"metadata takes at most {MAX_METADATA_KEYS} keys")
    for key, value in metadata.items():
        if not key or len(key) > MAX_METADATA_KEY_LENGTH or "[" in key or "]" in key:
            raise ProviderError(f"invalid metadata key {key!r}")
        if not isinstance(value, str) or len(value) > MAX_METADATA_VALUE_LENGTH:
            raise ProviderError(f"invalid metadata value for {key!r}")
    return dict(metadata)


def unexpected_state(intent: IntentState, action: str) -> ProviderError:
    return ProviderError(
        f"payment_intent_unexpected_state: cannot {action} PaymentIntent {intent.id} "
        f"in status {intent.status.value}."
    )
