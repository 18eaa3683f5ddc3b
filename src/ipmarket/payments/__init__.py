"""Payments: purchases, the double-entry ledger, revenue splits, refunds, payouts, license
fees and the payment providers.

Other modules use only what is named here.
"""

from ipmarket.payments.checkout.license_fees import LicenseFeePort
from ipmarket.payments.ledger.checks import LedgerSize, check_ledger, ledger_size
from ipmarket.payments.models import Transaction, TransactionStatus, TransactionType
from ipmarket.payments.providers import configure_provider, get_provider
from ipmarket.payments.stats import revenue_per_user

__all__ = [
    "LedgerSize",
    "LicenseFeePort",
    "Transaction",
    "TransactionStatus",
    "TransactionType",
    "check_ledger",
    "configure_provider",
    "get_provider",
    "ledger_size",
    "revenue_per_user",
]
