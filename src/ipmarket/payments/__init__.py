"""Payments: purchases, the double-entry ledger, revenue splits, refunds, payouts, license
fees and the payment providers.

Other modules use only what is named here.
"""

from ipmarket.payments.license_fees import LicenseFeePort
from ipmarket.payments.models import Transaction, TransactionStatus, TransactionType
from ipmarket.payments.service import PaymentService, configure_provider, get_provider

__all__ = [
    "LicenseFeePort",
    "PaymentService",
    "Transaction",
    "TransactionStatus",
    "TransactionType",
    "configure_provider",
    "get_provider",
]
