"""Revenue splits of a sale and of its refunds, in integer minor units (ARCHITECTURE.md §7).

A sale of gross amount A pays the platform A x fee%, every licensor on the chain A x its
share% (absolute percentages of the gross) and the seller the rest. The exact parts are
rationals; they are rounded with the largest-remainder method, so the integer parts always
sum to A exactly and each differs from its exact value by less than one unit.

Ties between equal remainders go, in this order, to the seller, the licensors in the order
given (the product's own license first, up to the root), then the platform: the platform
never wins a tie against a user.

A refund reverses the same split proportionally. Its parts come from cumulative targets:
the exact parts of (already refunded + this refund), minus what the earlier refunds took,
rounded by largest remainder within [0, what is left of each part]. So no refund part is
ever negative (a Stripe transfer reversal cannot be), the refunds of a sale never take more
from a part than it received, and refunds that add up to the whole amount give back exactly
the original parts, whatever their number and sizes. The cumulative refunded parts are the
largest-remainder split of the cumulative amount except where that would hand a unit back
to a part (the "Alabama paradox"); then they stay within two units of the exact share.

The refunds so far are passed as the sum of the earlier refunds' splits (`add_splits`),
not recomputed from the refunded total: the rounding of a series of refunds depends on
their sizes. Pure functions: no I/O, no clock. A transaction stores its split as its sums
and its shares as JSON (`Split.to_json`, `Split.from_json`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol
from uuid import UUID

HUNDRED = Decimal(100)


class StoredSplit(Protocol):
    """A row that stores a split: its sums, and its shares as `Split.to_json` wrote them."""

    @property
    def amount_minor(self) -> int: ...
    @property
    def platform_fee_minor(self) -> int: ...
    @property
    def seller_amount_minor(self) -> int: ...
    @property
    def revenue_shares(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Share:
    """What one licensor on the chain receives of a sale (or gives back on a refund)."""

    recipient_id: UUID
    license_id: UUID
    percentage: Decimal
    amount_minor: int

    def __post_init__(self) -> None:
        _check_percentage(self.percentage, f"license {self.license_id}'s share")
        _check_amount(self.amount_minor, f"license {self.license_id}'s share")


@dataclass(frozen=True)
class Split:
    """A sale (or a refund) cut into its parts: fee + sum(shares) + seller == amount."""

    amount_minor: int
    platform_fee_minor: int
    shares: tuple[Share, ...]
    seller_amount_minor: int

    def __post_init__(self) -> None:
        _check_amount(self.amount_minor, "the amount")
        _check_amount(self.platform_fee_minor, "the platform fee")
        _check_amount(self.seller_amount_minor, "the seller's amount")
        total = self.platform_fee_minor + self.seller_amount_minor
        total += sum(share.amount_minor for share in self.shares)
        if total != self.amount_minor:
            raise ValueError(
                f"the parts of a split sum to {total}, not to its amount {self.amount_minor}"
            )

    @property
    def parts(self) -> tuple[int, ...]:
        """The parts in a fixed order: platform fee, each share in order, seller."""
        return (
            self.platform_fee_minor,
            *(share.amount_minor for share in self.shares),
            self.seller_amount_minor,
        )

    def to_json(self) -> list[dict[str, Any]]:
        """The shares as a transaction stores them (`revenue_shares`, camelCase)."""
        return [
            {
                "recipientId": str(share.recipient_id),
                "licenseId": str(share.license_id),
                "percentage": f"{share.percentage:.2f}",
                "amountMinor": share.amount_minor,
            }
            for share in self.shares
        ]

    @classmethod
    def from_json(cls, row: StoredSplit) -> Split:
        """The split a transaction was made with."""
        return cls(
            amount_minor=row.amount_minor,
            platform_fee_minor=row.platform_fee_minor,
            shares=tuple(
                Share(
                    recipient_id=UUID(item["recipientId"]),
                    license_id=UUID(item["licenseId"]),
                    percentage=Decimal(item["percentage"]),
                    amount_minor=int(item["amountMinor"]),
                )
                for item in row.revenue_shares
            ),
            seller_amount_minor=row.seller_amount_minor,
        )

    def parts_by_recipient(self, seller_id: UUID) -> dict[UUID, int]:
        """What each user gets of the split (revenue shares, and the seller's amount), summed
        per user (someone may hold two licenses of a chain); users whose part is zero are
        left out."""
        parts: dict[UUID, int] = defaultdict(int)
        for share in self.shares:
            parts[share.recipient_id] += share.amount_minor
        parts[seller_id] += self.seller_amount_minor
        return {user: amount for user, amount in parts.items() if amount > 0}


def split_sale(
    amount_minor: int,
    *,
    platform_fee_percentage: Decimal,
    shares: Sequence[tuple[UUID, UUID, Decimal]],
) -> Split:
    """Split a sale of `amount_minor` between the platform, the licensors up the chain
    (`shares`: (recipient id, license id, percentage of the gross)) and the seller.

    Raises ValueError when the amount is negative, a percentage is negative or not a finite
    number, or the fee and shares together exceed 100%.
    """
    _check_amount(amount_minor, "the amount")
    _check_percentage(platform_fee_percentage, "the platform fee")
    for _recipient, license_id, percentage in shares:
        _check_percentage(percentage, f"license {license_id}'s share")
    taken = platform_fee_percentage + sum((p for _, _, p in shares), Decimal(0))
    if taken > HUNDRED:
        raise ValueError(
            f"the platform fee {platform_fee_percentage}% and the revenue shares come to "
            f"{taken}%, over 100%"
        )
    quotas = [
        Fraction(amount_minor) * Fraction(percentage) / 100
        for percentage in (platform_fee_percentage, *(p for _, _, p in shares))
    ]
    quotas.append(Fraction(amount_minor) - sum(quotas, Fraction(0)))
    parts = _largest_remainder(quotas, amount_minor)
    return _assemble(amount_minor, parts, shares)


def split_refund(
    original: Split, refund_minor: int, *, already_refunded: Split | None = None
) -> Split:
    """The parts of `original` that a refund of `refund_minor` gives back, after the earlier
    refunds `already_refunded` (their sum, part by part; None when there were none).

    Every part of the result is between zero and what is left of that part, and the parts
    sum to `refund_minor`. Raises ValueError for a refund that is not positive or exceeds
    what is left, or an `already_refunded` that is not a split of `original`'s parties
    within its parts.
    """
    if isinstance(refund_minor, bool) or not isinstance(refund_minor, int):
        raise TypeError("a refund amount is an integer number of minor units")
    if refund_minor <= 0:
        raise ValueError(f"a refund must be positive, not {refund_minor}")
    original_parts = original.parts
    already_parts = _already_parts(original, already_refunded)
    already_total = sum(already_parts)
    left = original.amount_minor - already_total
    if refund_minor > left:
        raise ValueError(
            f"a refund of {refund_minor} exceeds what is left to refund ({left} of "
            f"{original.amount_minor})"
        )
    cumulative = already_total + refund_minor
    # This refund's exact target for each part: its share of the cumulative refund, less
    # what earlier refunds already took from it.
    targets = [
        Fraction(cumulative * part, original.amount_minor) - taken
        for part, taken in zip(original_parts, already_parts, strict=True)
    ]
    rooms = [part - taken for part, taken in zip(original_parts, already_parts, strict=True)]
    parts = _bounded_largest_remainder(targets, refund_minor, rooms)
    shares = [(s.recipient_id, s.license_id, s.percentage) for s in original.shares]
    return _assemble(refund_minor, parts, shares)


def split_refunds(original: Split, amounts: Iterable[int]) -> Iterator[Split]:
    """The split of each of a sale's refunds, made one after the other for `amounts`: each
    is `split_refund` of what the ones before it gave back."""
    already: Split | None = None
    for amount in amounts:
        step = split_refund(original, amount, already_refunded=already)
        yield step
        already = step if already is None else add_splits(already, step)


def add_splits(first: Split, second: Split) -> Split:
    """Two splits between the same parties added part by part (refunds so far)."""
    parties = [(s.recipient_id, s.license_id) for s in first.shares]
    if [(s.recipient_id, s.license_id) for s in second.shares] != parties:
        raise ValueError("only splits between the same parties add up")
    parts = [a + b for a, b in zip(first.parts, second.parts, strict=True)]
    shares = [(s.recipient_id, s.license_id, s.percentage) for s in first.shares]
    return _assemble(first.amount_minor + second.amount_minor, parts, shares)


# --- internals ------------------------------------------------------------------------------


def _check_amount(amount: int, what: str) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"{what} must be an integer number of minor units")
    if amount < 0:
        raise ValueError(f"{what} may not be negative ({amount})")


def _check_percentage(percentage: Decimal, what: str) -> None:
    if not isinstance(percentage, Decimal):
        raise TypeError(f"{what} must be a Decimal percentage")
    if not percentage.is_finite():
        raise ValueError(f"{what} must be a finite percentage, not {percentage}")
    if percentage < 0:
        raise ValueError(f"{what} may not be negative ({percentage}%)")


def _tie_order(count: int) -> list[int]:
    """Indexes of the parts (fee, shares..., seller) in the order they win ties: the seller,
    then the shares in order, then the platform fee."""
    return [count - 1, *range(1, count - 1), 0]


def _largest_remainder(quotas: Sequence[Fraction], total: int) -> list[int]:
    """Round non-negative `quotas` (summing exactly to `total`) to integers summing to
    `total`: floors, then one more unit to the largest remainders."""
    parts = [quota.numerator // quota.denominator for quota in quotas]
    rank = {index: position for position, index in enumerate(_tie_order(len(quotas)))}
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - parts[i]), rank[i]))
    for index in by_remainder[: total - sum(parts)]:
        parts[index] += 1
    return parts


def _bounded_largest_remainder(
    targets: Sequence[Fraction], total: int, rooms: Sequence[int]
) -> list[int]:
    """Integers r with sum(r) == total and 0 <= r[i] <= rooms[i], as close to `targets`
    (which sum to `total`, each at most its room) as largest-remainder rounding gets.

    When every target is non-negative this is plain largest-remainder rounding. A target
    below zero (an earlier refund took a unit more than its share of the cumulative amount)
    is raised to zero and the excess is taken back from the parts furthest above target.
    """
    parts = [
        max(0, min(room, t.numerator // t.denominator))
        for t, room in zip(targets, rooms, strict=True)
    ]
    rank = {index: position for position, index in enumerate(_tie_order(len(targets)))}
    missing = total - sum(parts)
    while missing != 0:
        step = 1 if missing > 0 else -1
        if step > 0:
            movable = [i for i in range(len(parts)) if parts[i] < rooms[i]]
            capacity = {i: rooms[i] - parts[i] for i in movable}
        else:
            movable = [i for i in range(len(parts)) if parts[i] > 0]
            capacity = {i: parts[i] for i in movable}
        if not movable:  # pragma: no cover - impossible when 0 <= total <= sum(rooms)
            raise ArithmeticError("no rounding fits the bounds")
        # Who moves first: the furthest below target when adding, above when removing.
        order = sorted(movable, key=lambda i: (-step * (targets[i] - parts[i]), rank[i]))
        if abs(missing) >= len(order):
            # A whole round for everyone, as many times as every one of them can take.
            rounds = min(abs(missing) // len(order), *capacity.values())
            for index in order:
                parts[index] += step * rounds
            missing -= step * rounds * len(order)
        else:
            for index in order[: abs(missing)]:
                parts[index] += step
            missing = 0
    return parts


def _already_parts(original: Split, already: Split | None) -> tuple[int, ...]:
    if already is None:
        return (0,) * len(original.parts)
    parties = [(s.recipient_id, s.license_id) for s in original.shares]
    if [(s.recipient_id, s.license_id) for s in already.shares] != parties:
        raise ValueError("the refunds so far are not a split between the sale's parties")
    for part, taken in zip(original.parts, already.parts, strict=True):
        if taken > part:
            raise ValueError(
                f"the refunds so far take {taken} from a part of only {part}: not a split "
                "of this sale"
            )
    return already.parts


def _assemble(
    amount_minor: int, parts: Sequence[int], shares: Sequence[tuple[UUID, UUID, Decimal]]
) -> Split:
    return Split(
        amount_minor=amount_minor,
        platform_fee_minor=parts[0],
        shares=tuple(
            Share(
                recipient_id=recipient_id,
                license_id=license_id,
                percentage=percentage,
                amount_minor=amount,
            )
            for (recipient_id, license_id, percentage), amount in zip(
                shares, parts[1:-1], strict=True
            )
        ),
        seller_amount_minor=parts[-1],
    )
