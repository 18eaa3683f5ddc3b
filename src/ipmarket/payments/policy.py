"""The payments module's fixed limits and windows, and the failure reasons it records."""

from __future__ import annotations

from datetime import timedelta

# Stripe's largest charge (eight digits of minor units); a larger order is refused.
MAX_CHARGE_MINOR = 99_999_999
# A pending refund this old is no longer being made by the request that recorded it.
REFUND_RECONCILE_AFTER = timedelta(minutes=1)
# Provider calls (refunds, payouts) are retried under their idempotency key only while the
# provider still knows it (Stripe keeps keys at least 24 hours): a retry after that could move
# the money twice. An older pending one is left to an operator; `ipmarket ledger check` names
# it.
PROVIDER_RETRY_WITHIN = timedelta(hours=23)
MAX_REASON_LENGTH = 500

# Why a sale failed, as recorded in `transactions.failure_reason`.
RESERVATION_EXPIRED = "reservation_expired"
AMOUNT_MISMATCH = "amount_mismatch"
LICENSE_WITHDRAWN = "license_withdrawn"
