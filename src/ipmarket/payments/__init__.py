"""Payments: purchases, the double-entry ledger, revenue splits, refunds, payouts, license
fees and the payment providers.

Other modules use only what is named here.
"""

from ipmarket.payments.checkout.license_fees import LicenseFeePort
from ipmarket.payments.checkout.repository import TransactionFilters, TransactionRepository
from ipmarket.payments.ledger.checks import LedgerSize, check_ledger, ledger_size
from ipmarket.payments.models import Transaction, TransactionStatus, TransactionType
from ipmarket.payments.providers import configure_provider, get_provider
from ipmarket.payments.providers.testmode_state import (
    DECLINING_PAYMENT_METHODS,
    SUCCEEDING_PAYMENT_METHODS,
)
from ipmarket.payments.stats import revenue_per_user

__all__ = [
    "DECLINING_PAYMENT_METHODS",
    "SUCCEEDING_PAYMENT_METHODS",
    "LedgerSize",
    "LicenseFeePort",
    "Transaction",
    "TransactionFilters",
    "TransactionRepository",
    "TransactionStatus",
    "TransactionType",
    "check_ledger",
    "configure_provider",
    "get_provider",
    "ledger_size",
    "revenue_per_user",
]
