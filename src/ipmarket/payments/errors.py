"""The payments module's errors. Some keep their outcome: the work before them is committed,
not rolled back (`KEEP_ON_ERROR`)."""

from __future__ import annotations

from ipmarket.kit.errors import AppError, Conflict, ErrorCode, LicenseExpired, PaymentFailed


class PaymentDeclinedError(PaymentFailed):
    """The payment was declined. The failure is recorded (transaction failed, stock back on
    sale, payment.failed published): commit it, then answer 402."""


class RefundDeclined(PaymentFailed):
    """The provider refused the refund for good: it is recorded as failed, its posting
    reversed, and the amount may be refunded again."""


class ReservationExpired(Conflict):
    """A pending purchase's reservation ended before it was paid; its expiry is recorded."""


class SaleNoLongerAuthorised(LicenseExpired):
    """A pending purchase's license chain stopped authorising the sale before it was paid;
    the purchase is recorded as failed and its stock released."""


# Errors after which the request's work is committed, not rolled back.
KEEP_ON_ERROR: tuple[type[AppError], ...] = (
    PaymentDeclinedError,
    ReservationExpired,
    SaleNoLongerAuthorised,
)


class ProviderUnavailable(AppError):
    """The payment provider failed or could not be reached: nothing is recorded, the request
    may be retried (with the same Idempotency-Key)."""

    code = ErrorCode.INTERNAL_ERROR
