"""The ledger: its accounts (`accounts`), double-entry postings (`postings`), balances
(`balances`), revenue splits (`splits`) and the checks of its invariants (`checks`).
`from ipmarket.payments import ledger` gives the accounts', postings' and balances' names."""

from ipmarket.payments.ledger.accounts import (
    USER_KINDS,
    AccountRef,
    payouts_account,
    payouts_in_flight,
    platform_revenue,
    provider_clearing,
    user_available,
    user_pending,
)
from ipmarket.payments.ledger.balances import (
    Balance,
    account_total,
    available_at_least,
    balance,
    platform_revenue_minor,
)
from ipmarket.payments.ledger.postings import (
    HOLD_RELEASE,
    PAYOUT,
    PAYOUT_FAILED,
    PAYOUT_KINDS,
    PAYOUT_PAID,
    PAYOUT_RETURNED,
    REFUND,
    REFUND_FAILED,
    SALE,
    Line,
    post,
    release_matured,
    reverse,
)

__all__ = [
    "HOLD_RELEASE",
    "PAYOUT",
    "PAYOUT_FAILED",
    "PAYOUT_KINDS",
    "PAYOUT_PAID",
    "PAYOUT_RETURNED",
    "REFUND",
    "REFUND_FAILED",
    "SALE",
    "USER_KINDS",
    "AccountRef",
    "Balance",
    "Line",
    "account_total",
    "available_at_least",
    "balance",
    "payouts_account",
    "payouts_in_flight",
    "platform_revenue",
    "platform_revenue_minor",
    "post",
    "provider_clearing",
    "release_matured",
    "reverse",
    "user_available",
    "user_pending",
]
