"""Orders and money as their people see them, for the web pages: a buyer's orders (what was
paid, the refunds, and whether the product is still on sale), a seller's view of a sale
(the split, and whether it can be refunded), an earner's balance, earnings and payouts, and
the checkout's price and test cards.

Reads only, each a constant number of queries whatever the page size. Every view is copied
out of the rows (plain values, no ORM objects), so a page can still draw it after its
transaction rolled back. Ownership is checked here: another user's order is not found.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from ipmarket import provenance
from ipmarket.identity import Principal
from ipmarket.kit.clock import utcnow
from ipmarket.kit.errors import NotFound, ValidationFailed
from ipmarket.kit.money import CURRENCY, from_minor
from ipmarket.payments import ledger
from ipmarket.payments.checkout.purchase import PurchaseService, Quote
from ipmarket.payments.checkout.repository import (
    TransactionFilters,
    TransactionRepository,
    usernames_of,
)
from ipmarket.payments.ledger.splits import Split
from ipmarket.payments.models import (
    Payout,
    Refund,
    RefundStatus,
    Transaction,
    TransactionStatus,
    TransactionType,
)
from ipmarket.payments.money_out.repository import MoneyOutRepository
from ipmarket.payments.providers import (
    PaymentProvider,
    StripeProvider,
    TestProvider,
    get_provider,
)
from ipmarket.payments.providers.testmode_state import TEST_CARDS, TestCard
from ipmarket.payments.refunds.repository import RefundRepository
from ipmarket.products import SaleState, sale_states
from ipmarket.settings import get_platform_settings

__all__ = [
    "Earning",
    "MoneySummary",
    "Order",
    "PayoutLine",
    "Quote",
    "RefundLine",
    "Sale",
    "ShareLine",
    "TestCard",
    "accepted_test_cards",
    "checkout_quote",
    "earnings_of",
    "money_summary",
    "order_of",
    "orders_of",
    "payment_method_for_card",
    "payouts_of",
    "sale_of",
]


# --- checkout -------------------------------------------------------------------------------


async def checkout_quote(
    session: AsyncSession, buyer: Principal, product_id: uuid.UUID, *, quantity: int
) -> Quote:
    """What buying `quantity` units would cost now; raises as the purchase would for a
    product that cannot be bought (not found, your own, suspended, sold out)."""
    return await PurchaseService(session).quote(buyer, product_id, quantity=quantity)


def _takes_test_cards(provider: PaymentProvider) -> bool:
    if isinstance(provider, TestProvider):
        return True
    return isinstance(provider, StripeProvider) and provider.test_mode


def accepted_test_cards(provider: PaymentProvider | None = None) -> tuple[TestCard, ...]:
    """The test card numbers a checkout form takes, or none when the payment provider is
    live (a live card is entered in the provider's own payment form, never on our pages)."""
    return TEST_CARDS if _takes_test_cards(provider or get_provider()) else ()


def payment_method_for_card(number: str, provider: PaymentProvider | None = None) -> str:
    """The provider's payment method for a test card number (spaces and dashes ignored);
    ValidationFailed on the `cardNumber` field for any other number."""
    digits = "".join(ch for ch in number if ch not in " -")
    cards = accepted_test_cards(provider)
    if not cards:
        raise ValidationFailed.for_field(
            "Card payments on these pages take test cards only, and this payment provider "
            "is live: pay through the API with a payment method from the provider",
            field="cardNumber",
            problem="live payments are not taken here",
        )
    for card in cards:
        if card.number == digits:
            return card.payment_method
    raise ValidationFailed.for_field(
        "This is not one of the test cards: use a test card number listed on this page",
        field="cardNumber",
        problem="Use one of the test card numbers listed on this page",
    )


# --- a buyer's orders -----------------------------------------------------------------------


@dataclass(frozen=True)
class RefundLine:
    id: uuid.UUID
    amount: Decimal
    currency: str
    reason: str
    status: str
    failure_reason: str | None
    created_at: datetime
    processed_at: datetime | None

    @property
    def counts(self) -> bool:
        """Whether it gives (or is giving) money back: a failed one gave nothing."""
        return self.status != RefundStatus.FAILED


@dataclass(frozen=True)
class Order:
    """A product sale as its buyer sees it: what was bought and paid, and what came back.
    The title and unit price are the order's own, as they were when it was bought."""

    id: uuid.UUID
    created_at: datetime
    processed_at: datetime | None
    expires_at: datetime | None
    status: str
    failure_reason: str | None
    product_id: uuid.UUID | None
    product_title: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    refunded: Decimal
    currency: str
    seller_id: uuid.UUID
    seller_name: str | None
    # Whether the product is on sale now, and why not (None: not a product sale).
    sale: SaleState | None
    # The product's verification code, for /verify/{code}.
    verification_code: str | None
    refunds: tuple[RefundLine, ...]

    @property
    def paid(self) -> bool:
        return self.status in (TransactionStatus.COMPLETED, TransactionStatus.REFUNDED)

    @property
    def kept(self) -> Decimal:
        """What the buyer paid and has not had back."""
        return self.amount - self.refunded if self.paid else Decimal(0)


def _refund_lines(refunds: list[Refund], currency: str) -> tuple[RefundLine, ...]:
    return tuple(
        RefundLine(
            id=r.id,
            amount=from_minor(r.amount_minor),
            currency=currency,
            reason=r.reason,
            status=r.status,
            failure_reason=r.failure_reason,
            created_at=r.created_at,
            processed_at=r.processed_at,
        )
        for r in refunds
    )


def _untitled(tx: Transaction) -> str:
    return "License fee" if tx.transaction_type == TransactionType.LICENSE_FEE else "A product"


async def _orders(session: AsyncSession, rows: list[Transaction]) -> list[Order]:
    """The rows as orders: their refunds, products' states, codes and sellers' names in one
    query each."""
    ids = [tx.id for tx in rows]
    product_ids = {tx.product_id for tx in rows if tx.product_id is not None}
    refunds = await RefundRepository(session).refunds_of_many(ids)
    states = await sale_states(session, product_ids)
    codes = await provenance.codes_of(session, product_ids)
    names = await usernames_of(session, {tx.seller_id for tx in rows})
    return [
        Order(
            id=tx.id,
            created_at=tx.created_at,
            processed_at=tx.processed_at,
            expires_at=tx.expires_at if tx.status == TransactionStatus.PENDING else None,
            status=tx.status,
            failure_reason=tx.failure_reason,
            product_id=tx.product_id,
            product_title=tx.product_title or _untitled(tx),
            quantity=tx.quantity,
            unit_price=from_minor(tx.amount_minor // tx.quantity),
            amount=from_minor(tx.amount_minor),
            refunded=from_minor(tx.refunded_minor),
            currency=tx.currency,
            seller_id=tx.seller_id,
            seller_name=names.get(tx.seller_id),
            sale=states.get(tx.product_id) if tx.product_id else None,
            verification_code=codes.get(tx.product_id) if tx.product_id else None,
            refunds=_refund_lines(refunds.get(tx.id, []), tx.currency),
        )
        for tx in rows
    ]


# "Popular" on the home page: the most units sold over this window.
BEST_SELLERS_WINDOW = timedelta(days=30)


async def best_selling_product_ids(session: AsyncSession, *, limit: int) -> list[uuid.UUID]:
    """The products sold most (in units, completed sales) over the last 30 days."""
    return await TransactionRepository(session).best_selling_product_ids(
        since=utcnow() - BEST_SELLERS_WINDOW, limit=limit
    )


async def order_of(session: AsyncSession, buyer: Principal, transaction_id: uuid.UUID) -> Order:
    """One of the buyer's orders; anyone else's is not found."""
    tx = await TransactionRepository(session).transaction(transaction_id)
    if tx is None or tx.buyer_id != buyer.id or tx.transaction_type != TransactionType.PRODUCT_SALE:
        raise NotFound("Order not found")
    [order] = await _orders(session, [tx])
    return order


async def orders_of(
    session: AsyncSession, buyer: Principal, *, offset: int, limit: int
) -> tuple[list[Order], int]:
    """A page of the buyer's orders, newest first, and how many they have."""
    rows, total = await TransactionRepository(session).search(
        TransactionFilters(
            transaction_type=TransactionType.PRODUCT_SALE.value, party_id=buyer.id, role="buyer"
        ),
        offset=offset,
        limit=limit,
    )
    return await _orders(session, rows), total


# --- a seller's sale ------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareLine:
    recipient_id: uuid.UUID
    recipient_name: str | None
    percentage: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Sale:
    """A sale as its seller sees it: the order, who bought it, the split of what was paid,
    and whether (and how much of) it can still be refunded."""

    order: Order
    buyer_name: str | None
    platform_fee: Decimal
    shares: tuple[ShareLine, ...]
    seller_amount: Decimal
    refundable: Decimal
    # Why no refund can be made now (None: one can).
    not_refundable_because: str | None


def _why_not_refundable(tx: Transaction, refunds: tuple[RefundLine, ...]) -> str | None:
    if tx.status not in (TransactionStatus.COMPLETED, TransactionStatus.REFUNDED):
        return f"The order is {tx.status}: only a paid order can be refunded."
    if tx.amount_minor == tx.refunded_minor:
        return "The order was refunded in full."
    if any(r.status == RefundStatus.PENDING for r in refunds):
        return "A refund of this order is still being processed; try again shortly."
    return None


async def sale_of(session: AsyncSession, seller: Principal, transaction_id: uuid.UUID) -> Sale:
    """One of the seller's sales; anyone else's is not found."""
    tx = await TransactionRepository(session).transaction(transaction_id)
    if tx is None or tx.seller_id != seller.id:
        raise NotFound("Sale not found")
    [order] = await _orders(session, [tx])
    split = Split.from_json(tx)
    names = await usernames_of(session, {tx.buyer_id} | {s.recipient_id for s in split.shares})
    why_not = _why_not_refundable(tx, order.refunds)
    remaining = tx.amount_minor - tx.refunded_minor
    return Sale(
        order=order,
        buyer_name=names.get(tx.buyer_id),
        platform_fee=from_minor(tx.platform_fee_minor),
        shares=tuple(
            ShareLine(
                recipient_id=s.recipient_id,
                recipient_name=names.get(s.recipient_id),
                percentage=Decimal(s.percentage),
                amount=from_minor(s.amount_minor),
            )
            for s in split.shares
        ),
        seller_amount=from_minor(tx.seller_amount_minor),
        refundable=from_minor(remaining if why_not is None else 0),
        not_refundable_because=why_not,
    )


# --- an earner's money ----------------------------------------------------------------------


@dataclass(frozen=True)
class MoneySummary:
    currency: str
    pending: Decimal
    available: Decimal
    minimum_payout: Decimal
    hold_days: int

    @property
    def can_pay_out(self) -> bool:
        return self.available > 0 and self.available >= self.minimum_payout


async def money_summary(session: AsyncSession, user: Principal) -> MoneySummary:
    """The user's balances and the platform's payout rules."""
    found = await ledger.balance(session, user.id, CURRENCY)
    platform = await get_platform_settings(session)
    return MoneySummary(
        currency=found.currency,
        pending=from_minor(found.pending_minor),
        available=from_minor(found.available_minor),
        minimum_payout=Decimal(platform.payments.minimum_payout),
        hold_days=int(platform.payments.payout_hold_days),
    )


@dataclass(frozen=True)
class Earning:
    """A sale that paid the user, as its seller or as a licensor up its chain."""

    id: uuid.UUID
    created_at: datetime
    transaction_type: str
    status: str
    product_title: str | None
    role: str
    amount: Decimal
    their_part: Decimal
    refunded: Decimal
    currency: str


def _their_part(tx: Transaction, user_id: uuid.UUID) -> tuple[str, int]:
    split = Split.from_json(tx)
    shares = sum(s.amount_minor for s in split.shares if s.recipient_id == user_id)
    if tx.seller_id == user_id:
        return "seller", tx.seller_amount_minor + shares
    return "licensor", shares


async def earnings_of(
    session: AsyncSession, user: Principal, *, offset: int, limit: int
) -> tuple[list[Earning], int]:
    """A page of the paid sales and license fees that paid the user, newest first, with
    their part of each (before refunds), and how many there are."""
    rows, total = await TransactionRepository(session).search(
        TransactionFilters(party_id=user.id, role="earner", paid_only=True),
        offset=offset,
        limit=limit,
    )
    earnings = []
    for tx in rows:
        role, part = _their_part(tx, user.id)
        earnings.append(
            Earning(
                id=tx.id,
                created_at=tx.created_at,
                transaction_type=tx.transaction_type,
                status=tx.status,
                product_title=tx.product_title,
                role=role,
                amount=from_minor(tx.amount_minor),
                their_part=from_minor(part),
                refunded=from_minor(tx.refunded_minor),
                currency=tx.currency,
            )
        )
    return earnings, total


@dataclass(frozen=True)
class PayoutLine:
    id: uuid.UUID
    amount: Decimal
    currency: str
    status: str
    failure_reason: str | None
    created_at: datetime
    processed_at: datetime | None


def _payout_line(p: Payout) -> PayoutLine:
    return PayoutLine(
        id=p.id,
        amount=from_minor(p.amount_minor),
        currency=p.currency,
        status=p.status,
        failure_reason=p.failure_reason,
        created_at=p.created_at,
        processed_at=p.processed_at,
    )


async def payouts_of(
    session: AsyncSession, user: Principal, *, offset: int, limit: int
) -> tuple[list[PayoutLine], int]:
    """A page of the user's payouts, newest first, and how many they have."""
    rows, total = await MoneyOutRepository(session).payouts_of(user.id, offset=offset, limit=limit)
    return [_payout_line(p) for p in rows], total
