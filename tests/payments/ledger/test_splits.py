"""Revenue splits: exact parts by largest remainder, and refunds that reverse them."""

from __future__ import annotations

import uuid
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipmarket.payments.ledger.splits import Share, Split, add_splits, split_refund, split_sale

FEE = Decimal("10.00")
ALICE, BOB, CAROL, SELLER = (uuid.uuid4() for _ in range(4))
L1, L2, L3 = (uuid.uuid4() for _ in range(3))


def _exact(amount: int, percentage: Decimal) -> Fraction:
    return Fraction(amount) * Fraction(percentage) / 100


# --- examples -----------------------------------------------------------------------------------


def test_a_round_sale_splits_exactly() -> None:
    # given a $10.00 sale, a 10% fee and two licensors at 5% and 3%
    # when it is split
    split = split_sale(
        1000,
        platform_fee_percentage=FEE,
        shares=[(ALICE, L1, Decimal("5.00")), (BOB, L2, Decimal("3.00"))],
    )
    # then each gets its percentage of the gross and the seller the rest
    assert split == Split(
        amount_minor=1000,
        platform_fee_minor=100,
        shares=(
            Share(ALICE, L1, Decimal("5.00"), 50),
            Share(BOB, L2, Decimal("3.00"), 30),
        ),
        seller_amount_minor=820,
    )


def test_a_sale_that_needs_rounding_uses_the_largest_remainders() -> None:
    # given $9.99 under a three-level chain: exact parts 99.9, 49.95, 33.2667, 16.65 and
    # the seller's 799.2333
    split = split_sale(
        999,
        platform_fee_percentage=FEE,
        shares=[
            (ALICE, L1, Decimal("5.00")),
            (BOB, L2, Decimal("3.33")),
            (CAROL, L3, Decimal("1.67")),
        ],
    )
    # then the floors 99 + 49 + 33 + 16 + 799 = 996 get the three units left by the
    # largest remainders (.95, .9, .65), and the parts add up to the cent
    assert split.platform_fee_minor == 100
    assert [s.amount_minor for s in split.shares] == [50, 33, 17]
    assert split.seller_amount_minor == 799
    assert sum(split.parts) == 999


def test_ties_go_to_the_seller_then_the_licensors_in_order_then_the_platform() -> None:
    # one cent, half to the platform, half to the seller: the seller wins the tie
    assert split_sale(1, platform_fee_percentage=Decimal(50), shares=[]).parts == (0, 1)
    # two cents, a quarter to the platform and to one licensor: the licensor wins over
    # the platform
    two = split_sale(2, platform_fee_percentage=Decimal(25), shares=[(ALICE, L1, Decimal(25))])
    assert two.parts == (0, 1, 1)
    # one cent between two equal licensors and nobody else: the first in the chain
    one = split_sale(
        1,
        platform_fee_percentage=Decimal(0),
        shares=[(ALICE, L1, Decimal(50)), (BOB, L2, Decimal(50))],
    )
    assert one.parts == (0, 1, 0, 0)


def test_a_split_is_deterministic() -> None:
    # given three licensors at 33.33% of $1.00, each exactly 33.33 cents
    shares = [
        (ALICE, L1, Decimal("33.33")),
        (BOB, L2, Decimal("33.33")),
        (CAROL, L3, Decimal("33.33")),
    ]
    # when it is split again and again, then the cent left goes to the first, every time
    splits = {split_sale(100, platform_fee_percentage=Decimal(0), shares=shares) for _ in range(5)}
    assert [split.parts for split in splits] == [(0, 34, 33, 33, 0)]


@pytest.mark.parametrize(
    ("fee", "shares", "message"),
    [
        (Decimal(90), [Decimal(5), Decimal("5.01")], "over 100%"),
        (Decimal(-1), [], "may not be negative"),
        (Decimal(10), [Decimal("-0.01")], "may not be negative"),
        (Decimal("NaN"), [], "finite"),
        (Decimal("Infinity"), [], "finite"),
    ],
)
def test_impossible_percentages_are_refused(
    fee: Decimal, shares: list[Decimal], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        split_sale(
            1000,
            platform_fee_percentage=fee,
            shares=[(ALICE, uuid.uuid4(), p) for p in shares],
        )


def test_exactly_100_percent_leaves_the_seller_nothing() -> None:
    split = split_sale(1001, platform_fee_percentage=Decimal(20), shares=[(ALICE, L1, Decimal(80))])
    assert split.seller_amount_minor == 0
    assert sum(split.parts) == 1001


def test_a_negative_amount_is_refused_and_zero_splits_into_zeros() -> None:
    with pytest.raises(ValueError, match="negative"):
        split_sale(-1, platform_fee_percentage=FEE, shares=[])
    assert split_sale(0, platform_fee_percentage=FEE, shares=[]).parts == (0, 0)


def test_a_split_whose_parts_do_not_add_up_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="sum to 99"):
        Split(amount_minor=100, platform_fee_minor=10, shares=(), seller_amount_minor=89)
    with pytest.raises(ValueError, match="negative"):
        Split(amount_minor=100, platform_fee_minor=-10, shares=(), seller_amount_minor=110)


def test_a_partial_refund_reverses_each_part_proportionally() -> None:
    # given the $10.00 sale of the first example
    sale = split_sale(
        1000,
        platform_fee_percentage=FEE,
        shares=[(ALICE, L1, Decimal(5)), (BOB, L2, Decimal(3))],
    )
    # when a quarter is refunded, then each part gives back a quarter
    quarter = split_refund(sale, 250)
    # (12.5 and 7.5 tie for the last cent: the first licensor wins it)
    assert quarter.parts == (25, 13, 7, 205)
    assert sum(quarter.parts) == 250
    # and the rest, refunded in two more steps, gives back exactly the original parts
    half = split_refund(sale, 500, already_refunded=quarter)
    so_far = add_splits(quarter, half)
    rest = split_refund(sale, 250, already_refunded=so_far)
    assert add_splits(so_far, rest).parts == sale.parts


def test_a_full_refund_returns_exactly_the_original_parts() -> None:
    sale = split_sale(
        999,
        platform_fee_percentage=FEE,
        shares=[(ALICE, L1, Decimal("5.00")), (BOB, L2, Decimal("3.33"))],
    )
    refund = split_refund(sale, 999)
    assert refund == sale


def test_a_refund_never_takes_back_a_negative_part() -> None:
    # given parts 6, 2, 6 of 14: refunding 10 then 1 more is the Alabama paradox of plain
    # largest-remainder rounding (cumulatively 4, 2, 4 then 5, 1, 5: the licensor's part
    # would go back up)
    sale = Split(
        amount_minor=14,
        platform_fee_minor=6,
        shares=(Share(ALICE, L1, Decimal("14.29"), 2),),
        seller_amount_minor=6,
    )
    ten = split_refund(sale, 10)
    assert ten.parts == (4, 2, 4)
    # when one more unit is refunded, then no part is negative and the licensor, already
    # over its share, gives nothing more
    one = split_refund(sale, 1, already_refunded=ten)
    assert one.parts == (0, 0, 1)
    # and the rest returns exactly the original parts
    so_far = add_splits(ten, one)
    rest = split_refund(sale, 3, already_refunded=so_far)
    assert rest.parts == (2, 0, 1)
    assert add_splits(so_far, rest).parts == sale.parts


@pytest.mark.parametrize("amount", [0, -5, 1001])
def test_a_refund_beyond_what_is_left_or_not_positive_is_refused(amount: int) -> None:
    sale = split_sale(1000, platform_fee_percentage=FEE, shares=[])
    with pytest.raises(ValueError, match=r"positive|exceeds"):
        split_refund(sale, amount)


def test_a_refund_after_others_is_bounded_by_what_is_left() -> None:
    sale = split_sale(1000, platform_fee_percentage=FEE, shares=[])
    first = split_refund(sale, 600)
    with pytest.raises(ValueError, match="exceeds what is left to refund \\(400"):
        split_refund(sale, 401, already_refunded=first)


def test_refunds_of_other_parties_are_refused() -> None:
    sale = split_sale(1000, platform_fee_percentage=FEE, shares=[(ALICE, L1, Decimal(5))])
    other = split_sale(100, platform_fee_percentage=FEE, shares=[(BOB, L2, Decimal(5))])
    with pytest.raises(ValueError, match="not a split between the sale's parties"):
        split_refund(sale, 10, already_refunded=other)
    # more of the platform fee than the sale's 100
    greedy = Split(101, 101, (Share(ALICE, L1, Decimal(5), 0),), 0)
    with pytest.raises(ValueError, match="not a split of this sale"):
        split_refund(sale, 10, already_refunded=greedy)


def test_only_splits_between_the_same_parties_add_up() -> None:
    sale = split_sale(1000, platform_fee_percentage=FEE, shares=[(ALICE, L1, Decimal(5))])
    other = split_sale(100, platform_fee_percentage=FEE, shares=[(BOB, L2, Decimal(5))])
    with pytest.raises(ValueError, match="same parties"):
        add_splits(sale, other)
    assert add_splits(sale, sale).parts == (200, 100, 1700)


# --- properties ---------------------------------------------------------------------------------

AMOUNTS = st.integers(min_value=0, max_value=10**11)


@st.composite
def percentages(draw: st.DrawFn) -> tuple[Decimal, list[tuple[uuid.UUID, uuid.UUID, Decimal]]]:
    """A platform fee and up to six licensors' shares that together stay within 100%, with
    two decimal places (as stored) or, sometimes, more."""
    places = draw(st.sampled_from([2, 2, 2, 4]))
    scale = 10**places
    budget = 100 * scale
    fee = draw(st.integers(min_value=0, max_value=budget))
    budget -= fee
    shares = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        share = draw(st.integers(min_value=0, max_value=budget))
        budget -= share
        recipient = draw(st.sampled_from([ALICE, BOB, CAROL, SELLER]))
        shares.append((recipient, uuid.uuid4(), Decimal(share) / scale))
    return Decimal(fee) / scale, shares


@settings(max_examples=400)
@given(amount=AMOUNTS, cut=percentages())
def test_sale_parts_sum_to_the_amount_and_round_each_exact_part(
    amount: int, cut: tuple[Decimal, list[tuple[uuid.UUID, uuid.UUID, Decimal]]]
) -> None:
    fee, shares = cut
    split = split_sale(amount, platform_fee_percentage=fee, shares=shares)
    assert split.amount_minor == amount
    assert sum(split.parts) == amount
    exact = [_exact(amount, fee), *(_exact(amount, p) for _, _, p in shares)]
    exact.append(Fraction(amount) - sum(exact, Fraction(0)))
    for part, quota in zip(split.parts, exact, strict=True):
        assert quota - 1 < part < quota + 1
    assert [(s.recipient_id, s.license_id, s.percentage) for s in split.shares] == shares
    # largest remainder: every part rounded up has a remainder at least as large as every
    # part rounded down
    up = [q - int(q) for p, q in zip(split.parts, exact, strict=True) if p > q]
    down = [q - int(q) for p, q in zip(split.parts, exact, strict=True) if p < q]
    if up and down:
        assert min(up) >= max(down)


@st.composite
def sale_and_refunds(draw: st.DrawFn) -> tuple[Split, list[int]]:
    fee, shares = draw(percentages())
    amount = draw(st.integers(min_value=1, max_value=draw(st.sampled_from([20, 10**4, 10**9]))))
    sale = split_sale(amount, platform_fee_percentage=fee, shares=shares)
    refunds: list[int] = []
    left = amount
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        if left == 0:
            break
        refund = draw(st.integers(min_value=1, max_value=left))
        refunds.append(refund)
        left -= refund
    if left and draw(st.booleans()):
        refunds.append(left)  # refunded in full, in the end
    return sale, refunds


@settings(max_examples=400)
@given(case=sale_and_refunds())
def test_refunds_never_exceed_a_part_and_a_full_refund_returns_every_part(
    case: tuple[Split, list[int]],
) -> None:
    sale, refunds = case
    so_far: Split | None = None
    for amount in refunds:
        refund = split_refund(sale, amount, already_refunded=so_far)
        # each refund is the amount asked, cut into non-negative parts
        assert refund.amount_minor == amount
        assert sum(refund.parts) == amount
        assert all(part >= 0 for part in refund.parts)
        so_far = refund if so_far is None else add_splits(so_far, refund)
        # all the refunds so far stay within each part, close to its proportional share
        for taken, part in zip(so_far.parts, sale.parts, strict=True):
            assert taken <= part
            assert abs(Fraction(so_far.amount_minor * part, sale.amount_minor) - taken) < 2
    assert so_far is not None
    if so_far.amount_minor == sale.amount_minor:
        assert so_far.parts == sale.parts


@settings(max_examples=200)
@given(case=sale_and_refunds())
def test_a_first_refund_is_the_largest_remainder_split_of_the_sale(
    case: tuple[Split, list[int]],
) -> None:
    # without earlier refunds, a refund of R is the sale's parts scaled by R / A, rounded
    # by largest remainder: each part within one unit of its exact share
    sale, refunds = case
    refund = split_refund(sale, refunds[0])
    for taken, part in zip(refund.parts, sale.parts, strict=True):
        assert abs(Fraction(refunds[0] * part, sale.amount_minor) - taken) < 1
