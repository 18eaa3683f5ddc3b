"""Payments: purchases, the double-entry ledger, revenue splits, refunds, payouts, license
fees and the payment providers.

Other modules use only what is named here. The web pages use `actions` (buy, refund, pay
out under a form's idempotency key) and `orders` (orders, sales, balances, earnings and
payouts as their people see them).
"""

from ipmarket.payments.actions import KEY_FIELD, Done, buy, new_key, pay_out, refund
from ipmarket.payments.checkout.license_fees import LicenseFeePort
from ipmarket.payments.checkout.repository import TransactionFilters, TransactionRepository
from ipmarket.payments.ledger.checks import LedgerSize, check_ledger, ledger_size
from ipmarket.payments.models import Transaction, TransactionStatus, TransactionType
from ipmarket.payments.orders import (
    Earning,
    MoneySummary,
    Order,
    PayoutLine,
    Quote,
    RefundLine,
    Sale,
    ShareLine,
    TestCard,
    accepted_test_cards,
    best_selling_product_ids,
    checkout_quote,
    earnings_of,
    money_summary,
    order_of,
    orders_of,
    payment_method_for_card,
    payouts_of,
    sale_of,
)
from ipmarket.payments.providers import configure_provider, get_provider
from ipmarket.payments.providers.testmode_state import (
    DECLINING_PAYMENT_METHODS,
    SUCCEEDING_PAYMENT_METHODS,
)
from ipmarket.payments.stats import revenue_per_user

__all__ = [
    "DECLINING_PAYMENT_METHODS",
    "KEY_FIELD",
    "SUCCEEDING_PAYMENT_METHODS",
    "Done",
    "Earning",
    "LedgerSize",
    "LicenseFeePort",
    "MoneySummary",
    "Order",
    "PayoutLine",
    "Quote",
    "RefundLine",
    "Sale",
    "ShareLine",
    "TestCard",
    "Transaction",
    "TransactionFilters",
    "TransactionRepository",
    "TransactionStatus",
    "TransactionType",
    "accepted_test_cards",
    "best_selling_product_ids",
    "buy",
    "check_ledger",
    "checkout_quote",
    "configure_provider",
    "earnings_of",
    "get_provider",
    "ledger_size",
    "money_summary",
    "new_key",
    "order_of",
    "orders_of",
    "pay_out",
    "payment_method_for_card",
    "payouts_of",
    "refund",
    "revenue_per_user",
    "sale_of",
]
