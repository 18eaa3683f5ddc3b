"""Payment use cases: purchase, confirm, complete or fail a payment, expire a reservation,
refund, pay out, take in a provider's webhook, and a license's base fee.

Services flush but never commit: the request (or job) owns the transaction. Every sum is in
integer minor units; every split comes from `splits` and every movement of money is one
balanced `ledger` posting identified by what caused it, so nothing is posted twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
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
from ipmarket.payments.models import (
    Refund,
    Transaction,
    TransactionStatus,
    TransactionType,
)
from ipmarket.payments.providers import (
    IntentStatus,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    make_provider,
)
from ipmarket.payments.repository import PaymentRepository, TransactionFilters
from ipmarket.payments.splits import Share, Split, split_refund, split_sale
from ipmarket.products import ProductRepository, ProductStatus
from ipmarket.settings import get_platform_settings

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Stripe's largest charge (eight digits of minor units); a larger order is refused.
MAX_CHARGE_MINOR = 99_999_999
REFUND = "refund"
PAYOUT = "payout"
RESERVATION_EXPIRED = "reservation_expired"


# --- errors whose outcome is kept ------------------------------------------------------------


class PaymentDeclinedError(PaymentFailed):
    """The payment was declined. The failure is recorded (transaction failed, stock back on
    sale, payment.failed published): commit it, then answer 402."""


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


async def fresh_id(
    wanted: uuid.UUID | None, taken: Callable[[uuid.UUID], Awaitable[bool]]
) -> uuid.UUID:
    """`wanted` (an id derived from the idempotency key) unless a row already has it:
    a key reused after it was forgotten must not continue an old operation."""
    if wanted is None or await taken(wanted):
        return new_id()
    return wanted


@dataclass(frozen=True)
class RefundResult:
    refund: Refund
    transaction: Transaction


class PaymentService:
    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider or get_provider()
        self.payments = PaymentRepository(session)
        self.products = ProductRepository(session)

    # --- purchase -----------------------------------------------------------------------------

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
        # Locked: purchases of one product are decided one at a time, so stock never
        # goes below zero.
        product = await self.products.get(product_id, for_update=True)
        if product is None or product.deleted_at is not None or product.status == "draft":
            raise NotFound("Product not found")
        if product.creator_id == buyer.id:
            raise Forbidden("You cannot buy your own product")
        if product.status == ProductStatus.SUSPENDED:
            raise LicenseExpired(
                "The product is suspended: its license no longer authorises its sale",
                details={"reasons": [product.status_reason or "suspended"]},
            )
        if product.status != ProductStatus.ACTIVE or product.inventory_count == 0:
            raise Conflict("The product is sold out", details={"available": 0})
        if quantity > product.inventory_count:
            raise Conflict(
                f"Only {product.inventory_count} left in stock",
                details={"available": product.inventory_count, "requested": quantity},
            )
        # The chain must authorise the sale now (raises LICENSE_EXPIRED with the reasons).
        chain = await LicensingService(self.session).authorising_chain(
            product.license_id, product.creator_id
        )
        amount = product.price_minor * quantity
        if amount > MAX_CHARGE_MINOR:
            raise ValidationFailed(
                f"An order may come to at most {from_minor(MAX_CHARGE_MINOR)}",
                details={"errors": [{"field": "quantity", "message": "order total too large"}]},
            )
        platform = await get_platform_settings(self.session)
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

        now = utcnow()
        product.inventory_count -= quantity
        if product.inventory_count == 0:
            product.status = ProductStatus.SOLD_OUT.value
        product.updated_at = now
        tx = Transaction(
            id=await fresh_id(transaction_id, self.payments.transaction_exists),
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
            currency=product.currency,
            revenue_shares=shares_json(split),
            payment_method=payment_method,
            status=TransactionStatus.PENDING.value,
            refunded_minor=0,
            expires_at=now + timedelta(minutes=platform.payments.reservation_minutes),
            updated_at=now,
        )
        await self.payments.add(tx)
        intent = await call_provider(
            self.provider.create_intent(
                amount_minor=amount,
                currency=tx.currency,
                capture="automatic",
                metadata={
                    "transaction_id": str(tx.id),
                    "product_id": str(product.id),
                    "buyer_id": str(buyer.id),
                },
                transfer_group=str(tx.id),
                idempotency_key=f"{tx.id}:intent",
            ),
            "create_intent",
        )
        tx.payment_reference = intent.id
        if payment_method is not None:
            await self._pay(tx, payment_method)
        await self.session.flush()
        return tx

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
            await self.expire(tx)
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
        await self._pay(tx, payment_method)
        await self.session.flush()
        return tx

    async def _pay(self, tx: Transaction, payment_method: str) -> None:
        assert tx.payment_reference is not None
        try:
            intent = await self.provider.confirm_intent(
                tx.payment_reference,
                payment_method=payment_method,
                idempotency_key=f"{tx.id}:confirm",
            )
        except PaymentDeclined as exc:
            reason = exc.decline_code or exc.code or "card_declined"
            await self._void(tx)
            await self.fail(tx, reason=f"declined: {reason}")
            raise PaymentDeclinedError(
                f"The payment was declined: {exc}",
                details={"transactionId": str(tx.id), "declineCode": reason},
            ) from exc
        except ProviderError as exc:
            log.warning("payments.provider_error", operation="confirm_intent", error=str(exc))
            raise ProviderUnavailable(
                "The payment provider could not complete the request; try again",
                details={"operation": "confirm_intent"},
            ) from exc
        tx.payment_method = payment_method
        tx.updated_at = utcnow()
        if intent.status == IntentStatus.SUCCEEDED:
            await self.complete(tx)

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
        await ledger.post(
            self.session,
            kind=ledger.SALE,
            reference=str(tx.id),
            lines=lines,
            transaction_id=tx.id,
            memo=f"{tx.transaction_type} {tx.id}",
        )
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

    async def fail(self, tx: Transaction, *, reason: str) -> None:
        """The payment will not happen: mark it failed and put its stock back on sale."""
        now = utcnow()
        tx.status = TransactionStatus.FAILED.value
        tx.failure_reason = reason
        tx.processed_at = now
        tx.expires_at = None
        tx.updated_at = now
        if tx.transaction_type == TransactionType.PRODUCT_SALE and tx.product_id is not None:
            product = await self.products.get(tx.product_id, for_update=True)
            if product is not None:
                product.inventory_count += tx.quantity
                if product.status == ProductStatus.SOLD_OUT and product.inventory_count > 0:
                    product.status = ProductStatus.ACTIVE.value
                product.updated_at = now
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
                    await self.complete(tx)
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
            ended += await self.expire(tx)
        return ended

    # --- refunds ------------------------------------------------------------------------------

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
        administrator who processes refunds; the split is reversed in proportion."""
        tx = await self.payments.transaction(transaction_id, for_update=True)
        if tx is None:
            raise NotFound("Transaction not found")
        if tx.seller_id != actor.id and not actor.can(Permission.PROCESS_REFUNDS):
            if actor.id == tx.buyer_id or actor.id in recipients_of(tx):
                raise Forbidden("Only the seller or an administrator may refund this payment")
            raise NotFound("Transaction not found")
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
        earlier = await self.payments.refunds_of(tx.id)
        original = split_of(tx)
        already: Split | None = None
        for previous in earlier:
            step = split_refund(original, previous.amount_minor, already_refunded=already)
            already = step if already is None else _add(already, step)
        part = split_refund(original, refund_minor, already_refunded=already)

        refund_id = await fresh_id(refund_id, self.payments.refund_exists)
        assert tx.payment_reference is not None
        provider_reference = await call_provider(
            self.provider.refund(
                tx.payment_reference,
                amount_minor=refund_minor,
                idempotency_key=f"refund:{refund_id}",
            ),
            "refund",
        )
        now = utcnow()
        # Refunds of a transaction are strictly ordered in time (their splits depend on it).
        created_at = now
        if earlier:
            created_at = max(now, earlier[-1].created_at + timedelta(microseconds=1))
        refund = Refund(
            id=refund_id,
            transaction_id=tx.id,
            amount_minor=refund_minor,
            reason=reason,
            requested_by=actor.id,
            provider_reference=provider_reference,
            created_at=created_at,
        )
        await self.payments.add(refund)
        await ledger.post(
            self.session,
            kind=REFUND,
            reference=str(refund.id),
            lines=await self._reversal_lines(tx, part, now),
            transaction_id=tx.id,
            memo=reason[:500],
        )
        before = {"status": tx.status, "refundedAmount": str(from_minor(tx.refunded_minor))}
        tx.refunded_minor += refund_minor
        if tx.refunded_minor == tx.amount_minor:
            tx.status = TransactionStatus.REFUNDED.value
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
        await publish(
            self.session,
            RefundProcessed(
                refund_id=refund.id,
                transaction_id=tx.id,
                buyer_id=tx.buyer_id,
                seller_id=tx.seller_id,
                amount_minor=refund_minor,
                currency=tx.currency,
                requested_by=actor.id,
                reason=reason,
                fully_refunded=tx.status == TransactionStatus.REFUNDED,
            ),
        )
        await self.session.flush()
        return RefundResult(refund=refund, transaction=tx)

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
        else:
            log.info("payments.webhook_ignored", event_type=event_type)
        return True

    async def _intent_succeeded(self, intent: dict[str, Any]) -> None:
        tx = await self.payments.by_reference(intent["id"], for_update=True)
        if tx is None or tx.status != TransactionStatus.PENDING:
            return  # not ours, or already settled (a sale paid at once, a captured fee)
        if tx.transaction_type != TransactionType.PRODUCT_SALE:
            return
        received = intent.get("amount_received", intent.get("amount"))
        if received != tx.amount_minor:
            log.error(
                "payments.webhook_amount_mismatch",
                transaction_id=str(tx.id),
                expected=tx.amount_minor,
                received=received,
            )
            return
        method = intent.get("payment_method")
        if isinstance(method, str) and method:
            tx.payment_method = method[:50]
        await self.complete(tx)

    async def _intent_failed(self, intent: dict[str, Any]) -> None:
        tx = await self.payments.by_reference(intent["id"], for_update=True)
        if (
            tx is None
            or tx.status != TransactionStatus.PENDING
            or tx.transaction_type != TransactionType.PRODUCT_SALE
        ):
            return
        error = intent.get("last_payment_error")
        code = error.get("decline_code") or error.get("code") if isinstance(error, dict) else None
        await self._void(tx)
        await self.fail(tx, reason=f"declined: {code or 'payment_failed'}")


def _add(a: Split, b: Split) -> Split:
    """Two splits of the same parties, part by part."""
    return Split(
        amount_minor=a.amount_minor + b.amount_minor,
        platform_fee_minor=a.platform_fee_minor + b.platform_fee_minor,
        shares=tuple(
            Share(
                recipient_id=x.recipient_id,
                license_id=x.license_id,
                percentage=x.percentage,
                amount_minor=x.amount_minor + y.amount_minor,
            )
            for x, y in zip(a.shares, b.shares, strict=True)
        ),
        seller_amount_minor=a.seller_amount_minor + b.seller_amount_minor,
    )
