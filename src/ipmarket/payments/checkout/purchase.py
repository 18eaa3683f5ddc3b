"""The steps of a purchase and of its confirmation (the flows in `checkout.flows` run them,
committing between them): a buyer reserves stock and pays for it. How the payment ends is
the settlement's. Never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket.identity import Principal
from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import (
    Conflict,
    Forbidden,
    LicenseExpired,
    NotFound,
    ValidationFailed,
)
from ipmarket.kit.idempotency import is_continuation
from ipmarket.kit.ids import new_id
from ipmarket.kit.money import from_minor
from ipmarket.licensing import LicensingService
from ipmarket.payments.checkout.repository import TransactionRepository
from ipmarket.payments.checkout.settlement import Settlement
from ipmarket.payments.errors import (
    PaymentDeclinedError,
    ProviderUnavailable,
    ReservationExpired,
    SaleNoLongerAuthorised,
)
from ipmarket.payments.ledger.splits import split_sale
from ipmarket.payments.models import (
    Transaction,
    TransactionStatus,
    TransactionType,
)
from ipmarket.payments.policy import (
    LICENSE_WITHDRAWN,
    MAX_CHARGE_MINOR,
    RESERVATION_EXPIRED,
)
from ipmarket.payments.providers import (
    Intent,
    IntentStatus,
    PaymentDeclined,
    PaymentProvider,
    ProviderError,
    call_provider,
    get_provider,
)
from ipmarket.products import Product, ProductRepository, ProductStatus
from ipmarket.settings import get_platform_settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Quote:
    """What a purchase of `quantity` units would cost now, for a checkout form: the product
    as it is on sale, and, when there is not enough stock, why it could not be bought."""

    product_id: uuid.UUID
    title: str
    seller_id: uuid.UUID
    unit_price_minor: int
    currency: str
    stock: int
    quantity: int
    total_minor: int
    quantity_problem: str | None

    @property
    def unit_price(self) -> Decimal:
        return from_minor(self.unit_price_minor)

    @property
    def total(self) -> Decimal:
        return from_minor(self.total_minor)


class PurchaseService:
    def __init__(self, session: AsyncSession, provider: PaymentProvider | None = None) -> None:
        self.session = session
        self.provider = provider or get_provider()
        self.transactions = TransactionRepository(session)
        self.products = ProductRepository(session)
        self.settlement = Settlement(session, self.provider)

    async def reserve(
        self,
        buyer: Principal,
        product_id: uuid.UUID,
        *,
        quantity: int,
        transaction_id: uuid.UUID | None,
    ) -> Transaction:
        """Step 1: reserve `quantity` units in a pending transaction; or, under a
        `transaction_id` an earlier attempt of this very request used, that attempt's
        transaction, to be carried on."""
        if transaction_id is not None:
            # Two attempts under one key (a stalled one and the one that took its key over)
            # decide here one at a time, so the id is never reserved twice: the lock lasts
            # until the reservation below is committed.
            await self.transactions.lock_transaction_id(transaction_id)
            earlier = await self.transactions.transaction(transaction_id)
            if earlier is not None:
                if not is_continuation(earlier.created_at):
                    transaction_id = None  # the key was used before, and since forgotten
                elif earlier.buyer_id == buyer.id and earlier.product_id == product_id:
                    # An earlier attempt of this very request (retried after a 5xx, or its
                    # key taken over): carry it on rather than reserve again.
                    return earlier
                else:
                    raise Conflict("This Idempotency-Key belongs to another purchase")
        return await self._reserve(
            buyer, product_id, quantity=quantity, transaction_id=transaction_id or new_id()
        )

    async def quote(self, buyer: Principal, product_id: uuid.UUID, *, quantity: int) -> Quote:
        """The price of `quantity` units as the purchase would charge it now; raises as the
        purchase would for a product that cannot be bought at all (unknown, the buyer's own,
        suspended, sold out). More than the stock is not an error here: `quantity_problem`
        says so, for the form to show beside the quantity."""
        product = await self._buyable(buyer, product_id)
        stock = product.inventory_count
        self._check_on_sale(product.status, product.status_reason, stock, min(quantity, stock))
        return Quote(
            product_id=product.id,
            title=product.title,
            seller_id=product.creator_id,
            unit_price_minor=product.price_minor,
            currency=product.currency,
            stock=stock,
            quantity=quantity,
            total_minor=product.price_minor * quantity,
            quantity_problem=f"Only {stock} left in stock" if quantity > stock else None,
        )

    async def _buyable(self, buyer: Principal, product_id: uuid.UUID) -> Product:
        product = await self.products.get(product_id)
        if product is None or product.deleted_at is not None or product.status == "draft":
            raise NotFound("Product not found")
        if product.creator_id == buyer.id:
            raise Forbidden("You cannot buy your own product")
        return product

    async def _reserve(
        self, buyer: Principal, product_id: uuid.UUID, *, quantity: int, transaction_id: uuid.UUID
    ) -> Transaction:
        product = await self._buyable(buyer, product_id)
        self._check_on_sale(
            product.status, product.status_reason, product.inventory_count, quantity
        )
        # The chain must authorise the sale now (raises LICENSE_EXPIRED with the reasons).
        chain = await LicensingService(self.session).authorising_chain(
            product.license_id, product.creator_id
        )
        if product.price_minor * quantity > MAX_CHARGE_MINOR:
            raise ValidationFailed.for_field(
                f"An order may come to at most {from_minor(MAX_CHARGE_MINOR)}",
                field="quantity",
                problem="order total too large",
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
            product_title=product.title,
            license_id=product.license_id,
            quantity=quantity,
            amount_minor=amount,
            platform_fee_minor=split.platform_fee_minor,
            seller_amount_minor=split.seller_amount_minor,
            currency=currency,
            revenue_shares=split.to_json(),
            status=TransactionStatus.PENDING.value,
            refunded_minor=0,
            expires_at=now + timedelta(minutes=platform.payments.reservation_minutes),
            updated_at=now,
        )
        await self.transactions.add(tx)
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

    async def unreserve(self, tx: Transaction) -> None:
        """Undo a reservation whose intent could not be created: nothing can have been
        paid, so the request leaves no trace and may simply be tried again."""
        locked = await self.transactions.transaction(tx.id, for_update=True)
        if (
            locked is not None
            and locked.status == TransactionStatus.PENDING
            and locked.payment_reference is None
        ):
            if locked.product_id is not None:
                await self.products.return_stock(locked.product_id, locked.quantity, now=utcnow())
            await self.session.delete(locked)

    @staticmethod
    def settled(tx: Transaction) -> Transaction:
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

    async def create_intent(self, tx: Transaction) -> Intent:
        """Step 2, at the provider: the payment intent of a committed reservation."""
        return await call_provider(
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

    async def store_intent(self, tx: Transaction, intent: Intent) -> None:
        """Step 2, recorded: the transaction's payment reference, unless another attempt
        stored it first."""
        locked = await self.transactions.transaction(tx.id, for_update=True)
        assert locked is not None
        if locked.payment_reference is None:
            locked.payment_reference = intent.id
            locked.updated_at = utcnow()

    async def payable(self, buyer: Principal, transaction_id: uuid.UUID) -> Transaction:
        """A pending purchase of the caller's, locked, that may still be paid; one whose
        reservation is over is ended first (returned completed when it had been paid after
        all; ReservationExpired otherwise), one whose chain stopped authorising the sale is
        failed (SaleNoLongerAuthorised)."""
        tx = await self.transactions.transaction(transaction_id, for_update=True)
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
            if not await self.settlement.expire(tx):
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
                await self.settlement.void(tx)
                await self.settlement.fail(tx, reason=LICENSE_WITHDRAWN)
                raise SaleNoLongerAuthorised(
                    "The product's license no longer authorises this sale; the reservation "
                    "was released",
                    details={**exc.details, "transactionId": str(tx.id)},
                ) from exc
        return tx

    async def pay(self, tx: Transaction, payment_method: str) -> Transaction:
        """Step 3: confirm the committed purchase's intent with `payment_method` at the
        provider, then settle it under its row lock: completed, or failed with the stock
        back (PaymentDeclinedError)."""
        assert tx.payment_reference is not None
        try:
            intent = await self.provider.confirm_intent(
                tx.payment_reference,
                payment_method=payment_method,
                idempotency_key=f"{tx.id}:confirm",
            )
        except PaymentDeclined as exc:
            reason = exc.decline_code or exc.code or "card_declined"
            locked = await self.transactions.transaction(tx.id, for_update=True)
            assert locked is not None
            if locked.status != TransactionStatus.PENDING:
                return self.settled(locked)
            await self.settlement.void(locked)
            await self.settlement.fail(locked, reason=f"declined: {reason}")
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
        locked = await self.transactions.transaction(tx.id, for_update=True)
        assert locked is not None
        if locked.status == TransactionStatus.PENDING:
            locked.payment_method = payment_method[:50]
            locked.updated_at = utcnow()
        if intent.status == IntentStatus.SUCCEEDED:
            await self.settlement.intent_paid(locked, intent.amount_captured_minor, intent.currency)
        await self.session.flush()
        return self.settled(locked)
