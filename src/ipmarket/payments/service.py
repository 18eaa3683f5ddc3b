"""Payment use cases: purchase, confirm, complete or fail a payment, expire a reservation,
refund, pay out, take in a provider's webhook, and a license's base fee.

The request (or job) owns the transaction, with two exceptions: a purchase commits its
reservation before the card is charged, and its intent before it is confirmed, and a refund
commits its record before the provider refunds, so that no row lock is held while the
provider works and no charge or refund hangs on a transaction that could still roll back
(see "purchase" and "refunds" below). Every sum is in integer minor units; every split
comes from `splits` and every movement of money is one balanced `ledger` posting identified
by what caused it, so nothing is posted twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import audit
from ipmarket.config import get_settings
from ipmarket.eventbus import publish
from ipmarket.identity import Permission, Principal
from ipmarket.kit.clock import utcnow
from ipmarket.kit.db import commit
from ipmarket.kit.errors import (
    AppError,
    Conflict,
    ErrorCode,
    Forbidden,
    LicenseExpired,
    NotFound,
    PaymentFailed,
    ValidationFailed,
)
from ipmarket.kit.ids import new_id
from ipmarket.kit.money import from_minor, to_minor
from ipmarket.licensing import LicensingService
from ipmarket.payments import ledger
from ipmarket.payments.events import (
    PaymentCompleted,
    PaymentFailedEvent,
    ProductPurchased,
    RefundProcessed,
)
from ipmarket.payments.idempotency import is_continuation
from ipmarket.payments.models import (
    Refund,
    RefundStatus,
    Transaction,
    TransactionStatus,
    TransactionType,
)
from ipmarket.payments.providers import (
    IntentStatus,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    ProviderRejected,
    make_provider,
)
from ipmarket.payments.repository import PaymentRepository, TransactionFilters
from ipmarket.payments.splits import Share, Split, split_refunds, split_sale
from ipmarket.products import ProductRepository, ProductStatus
from ipmarket.settings import get_platform_settings

log = structlog.get_logger(__name__)

T = TypeVar("T")

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
RESERVATION_EXPIRED = "reservation_expired"
AMOUNT_MISMATCH = "amount_mismatch"


# --- errors whose outcome is kept ------------------------------------------------------------


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
LICENSE_WITHDRAWN = "license_withdrawn"


class ProviderUnavailable(AppError):
    """The payment provider failed or could not be reached: nothing is recorded, the request
    may be retried (with the same Idempotency-Key)."""

    code = ErrorCode.INTERNAL_ERROR


# --- the process's payment provider ----------------------------------------------------------

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


# --- splits as stored -------------------------------------------------------------------------


def shares_json(split: Split) -> list[dict[str, Any]]:
    return [
        {
            "recipientId": str(share.recipient_id),
            "licenseId": str(share.license_id),
            "percentage": f"{share.percentage:.2f}",
            "amountMinor": share.amount_minor,
        }
        for share in split.shares
    ]


def split_of(tx: Transaction) -> Split:
    """The split a transaction was made with."""
    return Split(
        amount_minor=tx.amount_minor,
        platform_fee_minor=tx.platform_fee_minor,
        shares=tuple(
            Share(
                recipient_id=uuid.UUID(item["recipientId"]),
                license_id=uuid.UUID(item["licenseId"]),
                percentage=Decimal(item["percentage"]),
                amount_minor=int(item["amountMinor"]),
            )
            for item in tx.revenue_shares
        ),
        seller_amount_minor=tx.seller_amount_minor,
    )


def recipients_of(tx: Transaction) -> set[uuid.UUID]:
    return {uuid.UUID(item["recipientId"]) for item in tx.revenue_shares}


def refund_key(refund_id: uuid.UUID) -> str:
    """The provider's idempotency key of a refund: the same for every attempt to make it."""
    return f"refund:{refund_id}"


@dataclass(frozen=True)
class RefundResult:
    refund: Refund
    transaction: Transaction


@dataclass(frozen=True)
class SettledRefunds:
    succeeded: int = 0
    failed: int = 0
    pending: int = 0


class PaymentService:
    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider or get_provider()
        self.payments = PaymentRepository(session)
        self.products = ProductRepository(session)

    # --- purchase -----------------------------------------------------------------------------
    #
    # A purchase runs in steps, each committed before the provider is called, so no database
    # lock is held while the provider works and no charge is made inside a transaction that
    # could still roll back:
    #
    #   1. reserve: the chain is checked, the stock taken in one conditional UPDATE, and the
    #      pending transaction written; committed;
    #   2. the payment intent is created (provider key `{tx}:intent`) and its id stored;
    #      committed;
    #   3. with a payment method, the intent is confirmed (`{tx}:confirm`), then the
    #      transaction is settled under its row lock: completed, or failed with the stock
    #      back.
    #
    # A step interrupted by a crash or a provider outage is finished by whoever comes next:
    # the same request retried (its transaction id derives from the Idempotency-Key, so the
    # retry continues it), the provider's webhook, or the reservation-expiry job.

    async def purchase(
        self,
        buyer: Principal,
        product_id: uuid.UUID,
        *,
        quantity: int,
        payment_method: str | None,
        transaction_id: uuid.UUID | None = None,
    ) -> Transaction:
        """Reserve `quantity` units and open a payment for them; with `payment_method`, pay
        at once (completed, or PaymentDeclinedError with the stock released)."""
        if transaction_id is not None:
            # Two attempts under one key (a stalled one and the one that took its key over)
            # decide here one at a time, so the id is never reserved twice: the lock lasts
            # until the reservation below is committed.
            await self.payments.lock_transaction_id(transaction_id)
            earlier = await self.payments.transaction(transaction_id)
            if earlier is not None:
                if not is_continuation(earlier.created_at):
                    transaction_id = None  # the key was used before, and since forgotten
                elif earlier.buyer_id == buyer.id and earlier.product_id == product_id:
                    # An earlier attempt of this very request (retried after a 5xx, or its
                    # key taken over): carry it on rather than reserve again.
                    await commit(self.session)
                    return await self._carry_on(earlier, payment_method)
                else:
                    raise Conflict("This Idempotency-Key belongs to another purchase")
        tx = await self._reserve(
            buyer, product_id, quantity=quantity, transaction_id=transaction_id or new_id()
        )
        await commit(self.session)
        return await self._carry_on(tx, payment_method)

    async def _reserve(
        self, buyer: Principal, product_id: uuid.UUID, *, quantity: int, transaction_id: uuid.UUID
    ) -> Transaction:
        product = await self.products.get(product_id)
        if product is None or product.deleted_at is not None or product.status == "draft":
            raise NotFound("Product not found")
        if product.creator_id == buyer.id:
            raise Forbidden("You cannot buy your own product")
        self._check_on_sale(
            product.status, product.status_reason, product.inventory_count, quantity
        )
        # The chain must authorise the sale now (raises LICENSE_EXPIRED with the reasons).
        chain = await LicensingService(self.session).authorising_chain(
            product.license_id, product.creator_id
        )
        if product.price_minor * quantity > MAX_CHARGE_MINOR:
            raise ValidationFailed(
                f"An order may come to at most {from_minor(MAX_CHARGE_MINOR)}",
                details={"errors": [{"field": "quantity", "message": "order total too large"}]},
            )
        platform = await get_platform_settings(self.session)
        now = utcnow()
        taken = await self.products.take_stock(product.id, quantity, now=now)
        if taken is None:  # sold or suspended since it was read: say which
            fresh = await self.products.get(product.id)
            assert fresh is not None
            await self.session.refresh(fresh)
            self._check_on_sale(fresh.status, fresh.status_reason, fresh.inventory_count, quantity)
            raise Conflict("The product is no longer on sale", details={"available": 0})
        price_minor, currency = taken
        amount = price_minor * quantity
        try:
            split = split_sale(
                amount,
                platform_fee_percentage=Decimal(platform.payments.platform_fee_percentage),
                shares=[
                    (link.asset_creator_id, link.license_id, Decimal(link.revenue_share))
                    for link in chain
                ],
            )
        except ValueError as exc:  # the fee was raised past the chain's shares
            raise Conflict(f"The product cannot be sold now: {exc}") from exc
        tx = Transaction(
            id=transaction_id,
            created_at=now,
            transaction_type=TransactionType.PRODUCT_SALE.value,
            buyer_id=buyer.id,
            seller_id=product.creator_id,
            product_id=product.id,
            license_id=product.license_id,
            quantity=quantity,
            amount_minor=amount,
            platform_fee_minor=split.platform_fee_minor,
            seller_amount_minor=split.seller_amount_minor,
            currency=currency,
            revenue_shares=shares_json(split),
            status=TransactionStatus.PENDING.value,
            refunded_minor=0,
            expires_at=now + timedelta(minutes=platform.payments.reservation_minutes),
            updated_at=now,
        )
        await self.payments.add(tx)
        return tx

    @staticmethod
    def _check_on_sale(status: str, status_reason: str | None, stock: int, quantity: int) -> None:
        if status == ProductStatus.SUSPENDED:
            raise LicenseExpired(
                "The product is suspended: its license no longer authorises its sale",
                details={"reasons": [status_reason or "suspended"]},
            )
        if status != ProductStatus.ACTIVE or stock == 0:
            raise Conflict("The product is sold out", details={"available": 0})
        if quantity > stock:
            raise Conflict(
                f"Only {stock} left in stock", details={"available": stock, "requested": quantity}
            )

    async def _carry_on(self, tx: Transaction, payment_method: str | None) -> Transaction:
        """Take a committed purchase as far as it can go: its intent, then (with a payment
        method) its payment."""
        if tx.status != TransactionStatus.PENDING:
            return self._settled(tx)
        if tx.payment_reference is None:
            try:
                await self._open_intent(tx)
            except ProviderUnavailable:
                await self._unreserve(tx)
                raise
        if payment_method is None:
            return tx
        return await self._pay(tx, payment_method)

    async def _unreserve(self, tx: Transaction) -> None:
        """Undo a reservation whose intent could not be created: nothing can have been
        paid, so the request leaves no trace and may simply be tried again."""
        locked = await self.payments.transaction(tx.id, for_update=True)
        if (
            locked is not None
            and locked.status == TransactionStatus.PENDING
            and locked.payment_reference is None
        ):
            if locked.product_id is not None:
                await self.products.return_stock(locked.product_id, locked.quantity, now=utcnow())
            await self.session.delete(locked)
            await commit(self.session)

    def _settled(self, tx: Transaction) -> Transaction:
        """A purchase that ended in an earlier attempt answers as it did then."""
        if tx.status == TransactionStatus.FAILED:
            reason = tx.failure_reason or ""
            details = {"transactionId": str(tx.id), "reason": reason}
            if reason == RESERVATION_EXPIRED:
                raise ReservationExpired(
                    "The reservation expired before it was paid; the stock was released",
                    details=details,
                )
            if reason == LICENSE_WITHDRAWN:
                raise SaleNoLongerAuthorised(
                    "The product's license no longer authorises this sale", details=details
                )
            raise PaymentDeclinedError(
                f"The payment failed: {reason}",
                details={**details, "declineCode": reason.removeprefix("declined: ")},
            )
        return tx

    async def _open_intent(self, tx: Transaction) -> None:
        intent = await call_provider(
            self.provider.create_intent(
                amount_minor=tx.amount_minor,
                currency=tx.currency,
                capture="automatic",
                metadata={
                    "transaction_id": str(tx.id),
                    "product_id": str(tx.product_id),
                    "buyer_id": str(tx.buyer_id),
                },
                transfer_group=str(tx.id),
                idempotency_key=f"{tx.id}:intent",
            ),
            "create_intent",
        )
        locked = await self.payments.transaction(tx.id, for_update=True)
        assert locked is not None
        if locked.payment_reference is None:
            locked.payment_reference = intent.id
            locked.updated_at = utcnow()
        await commit(self.session)

    async def confirm(
        self, buyer: Principal, transaction_id: uuid.UUID, payment_method: str
    ) -> Transaction:
        """Pay for a pending purchase of the caller's."""
        tx = await self.payments.transaction(transaction_id, for_update=True)
        if (
            tx is None
            or tx.buyer_id != buyer.id
            or tx.transaction_type != TransactionType.PRODUCT_SALE
        ):
            raise NotFound("Transaction not found")
        if tx.status != TransactionStatus.PENDING:
            raise Conflict(
                f"The transaction is {tx.status}, not pending", details={"status": tx.status}
            )
        if tx.expires_at is not None and tx.expires_at <= utcnow():
            if not await self.expire(tx):
                raise ProviderUnavailable(
                    "The payment provider could not be reached to settle the expired "
                    "reservation; try again",
                    details={"operation": "retrieve_intent"},
                )
            if tx.status == TransactionStatus.COMPLETED:
                return tx  # it had been paid after all
            raise ReservationExpired(
                "The reservation expired before it was paid; the stock was released",
                details={"reason": RESERVATION_EXPIRED, "transactionId": str(tx.id)},
            )
        if tx.license_id is not None:
            # The chain must still authorise the sale when it is paid.
            try:
                await LicensingService(self.session).authorising_chain(tx.license_id, tx.seller_id)
            except LicenseExpired as exc:
                await self._void(tx)
                await self.fail(tx, reason=LICENSE_WITHDRAWN)
                raise SaleNoLongerAuthorised(
                    "The product's license no longer authorises this sale; the reservation "
                    "was released",
                    details={**exc.details, "transactionId": str(tx.id)},
                ) from exc
        await commit(self.session)  # no lock is held while the provider charges the card
        if tx.payment_reference is None:
            await self._open_intent(tx)
        return await self._pay(tx, payment_method)

    async def _pay(self, tx: Transaction, payment_method: str) -> Transaction:
        """Confirm the committed purchase's intent with `payment_method`, then settle it."""
        assert tx.payment_reference is not None
        try:
            intent = await self.provider.confirm_intent(
                tx.payment_reference,
                payment_method=payment_method,
                idempotency_key=f"{tx.id}:confirm",
            )
        except PaymentDeclined as exc:
            reason = exc.decline_code or exc.code or "card_declined"
            locked = await self.payments.transaction(tx.id, for_update=True)
            assert locked is not None
            if locked.status != TransactionStatus.PENDING:
                return self._settled(locked)
            await self._void(locked)
            await self.fail(locked, reason=f"declined: {reason}")
            raise PaymentDeclinedError(
                f"The payment was declined: {exc}",
                details={"transactionId": str(tx.id), "declineCode": reason},
            ) from exc
        except ProviderError as exc:
            # The outcome is unknown: the sale stays pending. A retry (same key) confirms
            # under the same provider key; the webhook or the expiry job settles it otherwise.
            log.warning("payments.provider_error", operation="confirm_intent", error=str(exc))
            raise ProviderUnavailable(
                "The payment provider could not complete the request; try again",
                details={"operation": "confirm_intent", "transactionId": str(tx.id)},
            ) from exc
        locked = await self.payments.transaction(tx.id, for_update=True)
        assert locked is not None
        if locked.status == TransactionStatus.PENDING:
            locked.payment_method = payment_method[:50]
            locked.updated_at = utcnow()
        if intent.status == IntentStatus.SUCCEEDED:
            await self._intent_paid(locked, intent.amount_captured_minor, intent.currency)
        await self.session.flush()
        return self._settled(locked)

    async def _void(self, tx: Transaction) -> None:
        """Cancel the transaction's open intent at the provider (best effort): nobody can
        pay it after we gave up on it."""
        if tx.payment_reference is None:
            return
        try:
            await self.provider.cancel(tx.payment_reference, idempotency_key=f"{tx.id}:cancel")
        except ProviderError as exc:
            log.warning("payments.cancel_failed", transaction_id=str(tx.id), error=str(exc))

    # --- outcomes -----------------------------------------------------------------------------

    async def complete(self, tx: Transaction) -> None:
        """The payment went through: post the split to the ledger, earnings pending for the
        hold period, and announce it."""
        now = utcnow()
        platform = await get_platform_settings(self.session)
        hold = timedelta(days=platform.payments.payout_hold_days)
        available_at = now + hold
        split = split_of(tx)
        currency = tx.currency
        lines = [ledger.Line(ledger.provider_clearing(currency), -tx.amount_minor)]
        if split.platform_fee_minor:
            lines.append(ledger.Line(ledger.platform_revenue(currency), split.platform_fee_minor))
        parts = [(s.recipient_id, s.amount_minor) for s in split.shares]
        parts.append((tx.seller_id, split.seller_amount_minor))
        for user_id, amount in parts:
            if amount == 0:
                continue
            if hold:
                pending = ledger.user_pending(user_id, currency)
                lines.append(ledger.Line(pending, amount, available_at))
            else:
                lines.append(ledger.Line(ledger.user_available(user_id, currency), amount))
        posted = await ledger.post(
            self.session,
            kind=ledger.SALE,
            reference=str(tx.id),
            lines=lines,
            transaction_id=tx.id,
            memo=f"{tx.transaction_type} {tx.id}",
        )
        if not posted:
            # Its sale is on the books already: completed before, announced then.
            log.warning("payments.completed_already", transaction_id=str(tx.id))
            return
        tx.status = TransactionStatus.COMPLETED.value
        tx.processed_at = now
        tx.expires_at = None
        tx.failure_reason = None
        tx.updated_at = now
        if tx.product_id is not None:
            await publish(
                self.session,
                ProductPurchased(
                    transaction_id=tx.id,
                    product_id=tx.product_id,
                    buyer_id=tx.buyer_id,
                    seller_id=tx.seller_id,
                    quantity=tx.quantity,
                    amount_minor=tx.amount_minor,
                    currency=tx.currency,
                ),
            )
        await publish(
            self.session,
            PaymentCompleted(
                transaction_id=tx.id,
                transaction_type=tx.transaction_type,
                buyer_id=tx.buyer_id,
                seller_id=tx.seller_id,
                amount_minor=tx.amount_minor,
                platform_fee_minor=tx.platform_fee_minor,
                currency=tx.currency,
                payment_reference=tx.payment_reference,
            ),
        )

    async def _intent_paid(self, tx: Transaction, received_minor: int, currency: str) -> None:
        """The provider took `received_minor` for `tx` (locked). The one place that decides
        what a payment means, whoever learnt of it (the paying request, a retry, a webhook,
        the expiry job): a pending sale settles; a sale that had ended unpaid gets the money
        back; a sale completed or refunded already (by whoever learnt of it first) is left
        as it is."""
        if tx.status == TransactionStatus.PENDING:
            await self._settle_paid(tx, received_minor, currency)
        elif tx.status == TransactionStatus.FAILED and tx.failure_reason != AMOUNT_MISMATCH:
            # Paid after the sale had ended (expired, declined, no longer authorised).
            await self._refund_late_payment(tx, received_minor)

    async def _settle_paid(self, tx: Transaction, received_minor: int, currency: str) -> None:
        """The provider took the money for a pending `tx` (locked): complete it, unless the
        sum is not what was asked (never expected from our own intents): then the money goes
        back and the sale fails."""
        if received_minor == tx.amount_minor and currency.upper() == tx.currency.upper():
            await self.complete(tx)
            return
        log.error(
            "payments.amount_mismatch",
            transaction_id=str(tx.id),
            expected=tx.amount_minor,
            expected_currency=tx.currency,
            received=received_minor,
            received_currency=currency,
        )
        await self.fail(tx, reason=AMOUNT_MISMATCH)
        await self._refund_late_payment(tx, received_minor)

    async def _refund_late_payment(self, tx: Transaction, amount_minor: int | None = None) -> None:
        """Give back a payment that arrived after its sale had ended (failed or expired):
        nothing was sold, so the buyer is refunded in full. Raises ProviderUnavailable when
        the provider cannot be reached, so the caller (a webhook) is retried."""
        assert tx.payment_reference is not None
        refund_id = await call_provider(
            self.provider.refund(
                tx.payment_reference,
                amount_minor=amount_minor if amount_minor is not None else tx.amount_minor,
                idempotency_key=f"{tx.id}:late-refund",
            ),
            "refund",
        )
        log.warning(
            "payments.late_payment_refunded",
            transaction_id=str(tx.id),
            status=tx.status,
            refund=refund_id,
        )
        await audit.record(
            self.session,
            actor_id=None,
            action="transaction.late_payment_refunded",
            resource_type="transaction",
            resource_id=tx.id,
            new_values={"status": tx.status, "providerRefund": refund_id},
        )

    async def fail(self, tx: Transaction, *, reason: str) -> None:
        """The payment will not happen: mark it failed and put its stock back on sale."""
        now = utcnow()
        tx.status = TransactionStatus.FAILED.value
        tx.failure_reason = reason
        tx.processed_at = now
        tx.expires_at = None
        tx.updated_at = now
        if tx.transaction_type == TransactionType.PRODUCT_SALE and tx.product_id is not None:
            await self.products.return_stock(tx.product_id, tx.quantity, now=now)
        await publish(
            self.session,
            PaymentFailedEvent(
                transaction_id=tx.id,
                transaction_type=tx.transaction_type,
                buyer_id=tx.buyer_id,
                amount_minor=tx.amount_minor,
                currency=tx.currency,
                reason=reason,
            ),
        )
        await self.session.flush()

    async def expire(self, tx: Transaction) -> bool:
        """End a pending purchase whose reservation is over: cancelled at the provider and
        failed with its stock back, unless the provider says it was paid (then it completes).
        False when the provider could not be asked (the next run tries again)."""
        if tx.payment_reference is not None:
            try:
                intent = await self.provider.retrieve_intent(tx.payment_reference)
                if intent.status == IntentStatus.SUCCEEDED:
                    await self._intent_paid(tx, intent.amount_captured_minor, intent.currency)
                    return True
                if intent.status != IntentStatus.CANCELED:
                    await self.provider.cancel(
                        tx.payment_reference, idempotency_key=f"{tx.id}:cancel"
                    )
            except ProviderError as exc:
                log.warning("payments.expire_deferred", transaction_id=str(tx.id), error=str(exc))
                return False
        await self.fail(tx, reason=RESERVATION_EXPIRED)
        return True

    async def expire_due(self, *, limit: int = 200) -> int:
        """Expire the reservations that are over; returns how many ended."""
        ended = 0
        for tx in await self.payments.due_reservations(utcnow(), limit=limit):
            tx_id = tx.id  # the row is expired if its savepoint rolls back
            # Each in a savepoint: one reservation that cannot be ended (its late payment
            # cannot be refunded yet, say) must not hold back the others' stock.
            try:
                async with self.session.begin_nested():
                    ended += await self.expire(tx)
            except AppError as exc:
                log.warning("payments.expire_failed", transaction_id=str(tx_id), error=str(exc))
        return ended

    # --- refunds ------------------------------------------------------------------------------
    #
    # A refund is written before it is made, and the provider is called outside any database
    # transaction, as a payout is:
    #
    #   1. record: under the transaction's row lock, the request is checked, the refund
    #      inserted `pending`, its `refund` posting made (each party gives its part back) and
    #      the transaction's refunded amount raised, so the next refund sees what remains;
    #      audited; committed;
    #   2. make: the provider refunds under the key `refund:{refund id}`;
    #   3. settle, under the transaction's row lock: `succeeded` with the provider's
    #      reference (the transaction `refunded` once refunded in full, and refund.processed
    #      published: only now are the transfers reversed), or, refused for good, `failed`
    #      (`refund_failed`, the exact reversal of its posting, and the amount refundable
    #      again); committed.
    #
    # When the provider cannot be reached the refund stays pending: the
    # `payments.reconcile_refunds` job makes it again under the same key (the provider
    # refunds each key once) until it succeeds or fails. A request retried under its
    # Idempotency-Key finds its refund (its id derives from the key) and carries it on.

    async def refund(
        self,
        actor: Principal,
        transaction_id: uuid.UUID,
        *,
        amount: Decimal | None,
        reason: str,
        refund_id: uuid.UUID | None = None,
    ) -> RefundResult:
        """Refund all or part of what remains of a completed payment, by its seller or an
        administrator who processes refunds; the split is reversed in proportion.

        Returns the refund `succeeded`, or `pending` when the provider could not be reached
        (the reconciliation job finishes it). Raises RefundDeclined when the provider refused
        it (recorded as failed, nothing refunded)."""
        recorded = await self._record_refund(
            actor, transaction_id, amount=amount, reason=reason, refund_id=refund_id
        )
        result = await self._make_refund(recorded)
        if result.refund.status == RefundStatus.FAILED:
            tx = result.transaction
            raise RefundDeclined(
                "The payment provider refused the refund; nothing was refunded",
                details={
                    "refundId": str(result.refund.id),
                    "transactionId": str(tx.id),
                    "reason": result.refund.failure_reason,
                    "remaining": float(from_minor(tx.amount_minor - tx.refunded_minor)),
                },
            )
        return result

    async def _record_refund(
        self,
        actor: Principal,
        transaction_id: uuid.UUID,
        *,
        amount: Decimal | None,
        reason: str,
        refund_id: uuid.UUID | None,
    ) -> uuid.UUID:
        """Step 1: check the refund and write it pending, posted; committed. Returns its id
        (an earlier attempt's refund, when this request was made before)."""
        tx = await self.payments.transaction(transaction_id, for_update=True)
        if tx is None:
            raise NotFound("Transaction not found")
        if tx.seller_id != actor.id and not actor.can(Permission.PROCESS_REFUNDS):
            if actor.id == tx.buyer_id or actor.id in recipients_of(tx):
                raise Forbidden("Only the seller or an administrator may refund this payment")
            raise NotFound("Transaction not found")
        if refund_id is not None:
            made = await self.payments.refund(refund_id)
            if made is not None:
                if is_continuation(made.created_at) and made.transaction_id == tx.id:
                    # An earlier attempt under the same key recorded it (its answer was
                    # lost, or it lost the key to a take-over): carry that refund on.
                    await commit(self.session)
                    return made.id
                refund_id = None  # the key was used before, and since forgotten
        refund_id = refund_id or new_id()
        if tx.status not in (TransactionStatus.COMPLETED, TransactionStatus.REFUNDED):
            raise Conflict(
                f"The transaction is {tx.status}: only a completed payment can be refunded",
                details={"status": tx.status},
            )
        remaining = tx.amount_minor - tx.refunded_minor
        if remaining == 0:
            raise Conflict("The payment was refunded in full already", details={"remaining": 0})
        refund_minor = to_minor(amount) if amount is not None else remaining
        if refund_minor > remaining:
            raise ValidationFailed(
                f"The refund exceeds what remains to refund ({from_minor(remaining)})",
                details={
                    "errors": [{"field": "amount", "message": "more than what remains"}],
                    "remaining": float(from_minor(remaining)),
                },
            )
        made_before = await self.payments.refunds_of(tx.id, with_failed=True)
        # Failed refunds gave everything back: they take no part in the split.
        earlier = [r for r in made_before if r.status != RefundStatus.FAILED]
        in_progress = [r for r in earlier if r.status == RefundStatus.PENDING]
        if in_progress:
            # A refund's split depends on the refunds before it; one that may still fail
            # must be settled before another is split on top of it.
            raise Conflict(
                "Another refund of this payment is still being processed; try again shortly",
                details={
                    "refundId": str(in_progress[0].id),
                    "remaining": float(from_minor(remaining)),
                },
            )
        amounts = [previous.amount_minor for previous in earlier] + [refund_minor]
        *_, part = split_refunds(split_of(tx), amounts)

        now = utcnow()
        # Refunds of a transaction, failed ones included, are strictly ordered in time (their
        # splits depend on it).
        created_at = now
        if made_before:
            created_at = max(now, made_before[-1].created_at + timedelta(microseconds=1))
        refund = Refund(
            id=refund_id,
            transaction_id=tx.id,
            amount_minor=refund_minor,
            reason=reason,
            requested_by=actor.id,
            status=RefundStatus.PENDING.value,
            created_at=created_at,
        )
        await self.payments.add(refund)
        await ledger.post(
            self.session,
            kind=ledger.REFUND,
            reference=str(refund.id),
            lines=await self._reversal_lines(tx, part, now),
            transaction_id=tx.id,
            memo=reason[:500],
        )
        before = {"status": tx.status, "refundedAmount": str(from_minor(tx.refunded_minor))}
        tx.refunded_minor += refund_minor
        tx.updated_at = now
        await audit.record(
            self.session,
            actor_id=actor.id,
            action="transaction.refunded",
            resource_type="transaction",
            resource_id=tx.id,
            old_values=before,
            new_values={
                "status": tx.status,
                "refundedAmount": str(from_minor(tx.refunded_minor)),
                "refundId": str(refund.id),
                "amount": str(from_minor(refund_minor)),
                "reason": reason,
            },
        )
        await commit(self.session)
        return refund.id

    async def _make_refund(self, refund_id: uuid.UUID) -> RefundResult:
        """Steps 2 and 3: have the provider make a pending refund (outside any transaction)
        and record the outcome; returns the refund as it is now. A refund the provider could
        not be asked about stays pending."""
        refund = await self.payments.refund(refund_id)
        assert refund is not None  # refunds are never deleted
        tx = await self.payments.transaction(refund.transaction_id)
        assert tx is not None
        assert tx.payment_reference is not None  # only a completed payment is refunded
        await commit(self.session)  # no lock is held while the provider refunds
        if refund.status != RefundStatus.PENDING:
            return RefundResult(refund=refund, transaction=tx)
        try:
            reference = await self.provider.refund(
                tx.payment_reference,
                amount_minor=refund.amount_minor,
                idempotency_key=refund_key(refund.id),
            )
        except ProviderRejected as exc:
            log.warning("payments.refund_refused", refund_id=str(refund.id), error=str(exc))
            return await self._settle_refund(refund.id, reference=None, reason=str(exc))
        except ProviderError as exc:
            log.warning("payments.refund_deferred", refund_id=str(refund.id), error=str(exc))
            if self.session.in_transaction():
                await self.session.rollback()
            current = await self.payments.refund(refund.id)
            tx = await self.payments.transaction(refund.transaction_id)
            await commit(self.session)
            assert current is not None
            assert tx is not None
            return RefundResult(refund=current, transaction=tx)
        return await self._settle_refund(refund.id, reference=reference, reason=None)

    async def _settle_refund(
        self, refund_id: uuid.UUID, *, reference: str | None, reason: str | None
    ) -> RefundResult:
        """Record a refund made (with the provider's reference) or refused (with the reason);
        a refund settled meanwhile (by the job, or the request) is left as it is."""
        found = await self.payments.refund(refund_id)
        assert found is not None
        # The transaction's lock first, as when refunds are recorded.
        tx = await self.payments.transaction(found.transaction_id, for_update=True)
        refund = await self.payments.refund(refund_id, for_update=True)
        assert tx is not None
        assert refund is not None
        if refund.status == RefundStatus.PENDING:
            now = utcnow()
            refund.processed_at = now
            tx.updated_at = now
            if reference is not None:
                refund.status = RefundStatus.SUCCEEDED.value
                refund.provider_reference = reference
                if tx.refunded_minor == tx.amount_minor:
                    tx.status = TransactionStatus.REFUNDED.value
                await publish(
                    self.session,
                    RefundProcessed(
                        refund_id=refund.id,
                        transaction_id=tx.id,
                        buyer_id=tx.buyer_id,
                        seller_id=tx.seller_id,
                        amount_minor=refund.amount_minor,
                        currency=tx.currency,
                        requested_by=refund.requested_by,
                        reason=refund.reason,
                        fully_refunded=tx.status == TransactionStatus.REFUNDED,
                    ),
                )
            else:
                refund.status = RefundStatus.FAILED.value
                refund.failure_reason = (reason or "refused")[:MAX_REASON_LENGTH]
                await ledger.reverse(
                    self.session,
                    kind=ledger.REFUND,
                    reference=str(refund.id),
                    reversal_kind=ledger.REFUND_FAILED,
                    transaction_id=tx.id,
                    memo=f"refund {refund.id} refused: {refund.failure_reason}"[:500],
                )
                before = {"refundedAmount": str(from_minor(tx.refunded_minor))}
                tx.refunded_minor -= refund.amount_minor
                await audit.record(
                    self.session,
                    actor_id=None,
                    action="transaction.refund_failed",
                    resource_type="transaction",
                    resource_id=tx.id,
                    old_values=before,
                    new_values={
                        "refundedAmount": str(from_minor(tx.refunded_minor)),
                        "refundId": str(refund.id),
                        "amount": str(from_minor(refund.amount_minor)),
                        "reason": refund.failure_reason,
                    },
                )
            log.info("payments.refund_settled", refund_id=str(refund.id), status=refund.status)
        await commit(self.session)
        return RefundResult(refund=refund, transaction=tx)

    async def settle_stale_refunds(self, *, now: datetime, limit: int = 100) -> SettledRefunds:
        """Make again the pending refunds recorded before `now - REFUND_RECONCILE_AFTER`,
        oldest first, at most `limit`; returns how they ended."""
        ids = await self.payments.stale_pending_refunds(
            now - REFUND_RECONCILE_AFTER, created_after=now - PROVIDER_RETRY_WITHIN, limit=limit
        )
        await commit(self.session)
        counts = dict.fromkeys(RefundStatus, 0)
        for refund_id in ids:
            result = await self._make_refund(refund_id)
            counts[RefundStatus(result.refund.status)] += 1
        return SettledRefunds(
            succeeded=counts[RefundStatus.SUCCEEDED],
            failed=counts[RefundStatus.FAILED],
            pending=counts[RefundStatus.PENDING],
        )

    async def _reversal_lines(
        self, tx: Transaction, part: Split, now: datetime
    ) -> list[ledger.Line]:
        """The refund's posting: the money goes back out through the provider, and each
        party gives back its part. Earnings still on hold are taken from pending (released
        with them, so pending nets out); earnings already released from available, which
        may go negative until later earnings make up for it."""
        held_until = await self.payments.sale_available_at(tx.id)
        currency = tx.currency
        lines = [ledger.Line(ledger.provider_clearing(currency), part.amount_minor)]
        if part.platform_fee_minor:
            lines.append(ledger.Line(ledger.platform_revenue(currency), -part.platform_fee_minor))
        parts = [(s.recipient_id, s.amount_minor) for s in part.shares]
        parts.append((tx.seller_id, part.seller_amount_minor))
        for user_id, amount in parts:
            if amount == 0:
                continue
            if held_until is not None and held_until > now:
                account = ledger.user_pending(user_id, currency)
                lines.append(ledger.Line(account, -amount, held_until))
            else:
                lines.append(ledger.Line(ledger.user_available(user_id, currency), -amount))
        return lines

    # --- reading ------------------------------------------------------------------------------

    async def search(
        self, filters: TransactionFilters, *, offset: int, limit: int
    ) -> tuple[list[Transaction], int]:
        return await self.payments.search(filters, offset=offset, limit=limit)

    # --- provider webhooks --------------------------------------------------------------------

    async def take_provider_event(self, event: dict[str, Any], *, provider: str) -> bool:
        """Act on a verified provider event once; False for an event seen before."""
        event_id = event.get("id")
        event_type = event.get("type")
        if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
            raise ValidationFailed("The event has no id or type", status_code=400)
        if not await self.payments.record_provider_event(
            event_id[:255], provider=provider, event_type=event_type[:100]
        ):
            return False
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            log.info("payments.webhook_ignored", event_type=event_type, reason="no object")
            return True
        if event_type == "payment_intent.succeeded":
            await self._intent_succeeded(obj)
        elif event_type == "payment_intent.payment_failed":
            await self._intent_failed(obj)
        elif event_type == "payout.failed":
            await self._payout_failed(obj)
        elif event_type in ("refund.failed", "charge.refund.updated"):
            await self._refund_failed_later(obj)
        else:
            log.info("payments.webhook_ignored", event_type=event_type)
        return True

    async def _payout_failed(self, payout: dict[str, Any]) -> None:
        """A payout the provider made, returned by the bank: the money is the user's again."""
        from ipmarket.payments.payouts import PayoutService  # noqa: PLC0415 - it imports us

        code = payout.get("failure_code")
        message = payout.get("failure_message")
        reason = ": ".join(str(part) for part in (code, message) if part) or "payout_failed"
        returned = await PayoutService(self.session, self.provider).returned(
            payout["id"], reason=f"returned by the bank: {reason}"
        )
        if returned is None:
            log.info("payments.webhook_ignored", event_type="payout.failed", reason="not ours")

    async def _refund_failed_later(self, refund: dict[str, Any]) -> None:
        """A refund the provider accepted, then could not make (the buyer's card closed, say):
        the money is back in the platform's balance, the buyer still waits for it, and the
        parts were taken back from the recipients. Which way to pay the buyer is a person's
        call: the refund is flagged in the audit trail, and no money moves here."""
        if refund.get("status") != "failed":
            return  # charge.refund.updated also tells of refunds that went through
        made = await self.payments.refund_by_reference(refund["id"])
        if made is None:
            log.info("payments.webhook_ignored", event_type="refund.failed", reason="not ours")
            return
        log.error(
            "payments.refund_failed_after_success",
            refund_id=str(made.id),
            transaction_id=str(made.transaction_id),
            failure_reason=refund.get("failure_reason"),
        )
        await audit.record(
            self.session,
            actor_id=None,
            action="refund.failed_at_provider",
            resource_type="refund",
            resource_id=made.id,
            new_values={
                "providerReference": refund["id"],
                "failureReason": str(refund.get("failure_reason") or "unknown")[:200],
                "status": made.status,
            },
        )

    async def _sale_of(self, intent: dict[str, Any]) -> Transaction | None:
        """The sale a webhook's intent pays, locked: by the intent's id, or by the
        transaction id in its metadata (the intent may be paid before its id was stored)."""
        tx = await self.payments.by_reference(intent["id"], for_update=True)
        if tx is None:
            metadata = intent.get("metadata")
            wanted = metadata.get("transaction_id") if isinstance(metadata, dict) else None
            try:
                tx_id = uuid.UUID(str(wanted))
            except ValueError:
                return None
            tx = await self.payments.transaction(tx_id, for_update=True)
            if tx is None or tx.payment_reference not in (None, intent["id"]):
                return None
            tx.payment_reference = intent["id"]
        if tx.transaction_type != TransactionType.PRODUCT_SALE:
            return None  # license fees are captured by their approval
        return tx

    async def _intent_succeeded(self, intent: dict[str, Any]) -> None:
        tx = await self._sale_of(intent)
        if tx is None:
            return  # not ours
        # The event tells that something happened; what counts is the intent as the provider
        # has it now (its status, the sum it took), not the numbers in the event.
        current = await call_provider(
            self.provider.retrieve_intent(intent["id"]), "retrieve_intent"
        )
        if current.status != IntentStatus.SUCCEEDED:
            log.warning("payments.webhook_not_paid", transaction_id=str(tx.id))
            return
        if tx.status == TransactionStatus.PENDING:
            method = intent.get("payment_method")
            if isinstance(method, str) and method:
                tx.payment_method = method[:50]
        await self._intent_paid(tx, current.amount_captured_minor, current.currency)

    async def _intent_failed(self, intent: dict[str, Any]) -> None:
        tx = await self._sale_of(intent)
        if (
            tx is None
            or tx.status != TransactionStatus.PENDING
            or tx.transaction_type != TransactionType.PRODUCT_SALE
        ):
            return
        current = await call_provider(
            self.provider.retrieve_intent(intent["id"]), "retrieve_intent"
        )
        if current.status == IntentStatus.SUCCEEDED:  # a later attempt paid: the event is stale
            await self._settle_paid(tx, current.amount_captured_minor, current.currency)
            return
        error = intent.get("last_payment_error")
        code = error.get("decline_code") or error.get("code") if isinstance(error, dict) else None
        await self._void(tx)
        await self.fail(tx, reason=f"declined: {code or 'payment_failed'}")
