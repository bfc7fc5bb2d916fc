"""The pricing rule and the one rounding rule: examples a till would print, and properties.

Expected cents are recomputed here with ``Decimal.quantize(..., ROUND_HALF_UP)`` rather than
through ``to_cents``, so these tests pin the rule itself, not whatever ``to_cents`` does.
"""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.domain.money import cents, from_cents, to_cents, whole_points
from app.domain.pricing import (
    DiscountOffer,
    DiscountSource,
    LineInput,
    PricedSale,
    best_offer,
    points_earned,
    price_sale,
    redemption_value,
    refund_share,
    returned_value,
)

CENT = Decimal("0.01")
CODE, CARD, GROUP = DiscountSource.CODE, DiscountSource.LOYALTY_CARD, DiscountSource.GROUP
TIER = DiscountSource.TIER
# Written out here, not imported: the tie rule is what is under test.
TIE_ORDER = {CODE: 0, CARD: 1, TIER: 2, GROUP: 3}


def d(text: str) -> Decimal:
    return Decimal(text)


def half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def two_decimals(value: Decimal) -> bool:
    return value.as_tuple().exponent == -2


def sale_amounts(sale: PricedSale) -> list[Decimal]:
    per_line = [x for line in sale.lines for x in (line.amount, line.discount, line.total)]
    return [sale.subtotal, sale.discount_total, sale.total, *per_line]


# --- strategies -------------------------------------------------------------------------------


def hundredths(low: int, high: int) -> st.SearchStrategy[Decimal]:
    """Decimals with exactly two places, as the till sends them (``Decimal('12.50')``)."""
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-2))


PRICES = hundredths(0, 9_999_999)
# Ties are where the priority rule matters; a handful of shared percents makes them common.
PERCENTS = st.one_of(
    st.sampled_from([d("0.00"), d("5.00"), d("10.00"), d("12.50"), d("100.00")]),
    hundredths(0, 10_000),
)
LINES = st.lists(st.builds(LineInput, st.integers(1, 1000), PRICES), min_size=1, max_size=6)
# A small alphabet so that equal codes (the last tie-break) occur too.
OFFERS = st.lists(
    st.builds(
        DiscountOffer,
        st.sampled_from(list(DiscountSource)),
        st.text("ABC", min_size=1, max_size=3),
        PERCENTS,
    ),
    max_size=6,
)


# --- examples a shop would recognise ------------------------------------------------------------


def test_the_bigger_group_discount_beats_a_smaller_code() -> None:
    offers = [
        DiscountOffer(CODE, "SPRING10", d("10.00")),
        DiscountOffer(GROUP, "Staff", d("12.50")),
    ]
    sale = price_sale([LineInput(3, d("9.99"))], offers)

    assert sale.applied == DiscountOffer(GROUP, "Staff", d("12.50"))
    (line,) = sale.lines
    assert (line.amount, line.discount, line.total) == (d("29.97"), d("3.75"), d("26.22"))
    # 29.97 x 12.5% = 3.74625: half up to the cent, not truncated to 3.74.
    assert (sale.subtotal, sale.discount_total, sale.total) == (d("29.97"), d("3.75"), d("26.22"))


def test_the_code_alone_would_give_ten_percent() -> None:
    sale = price_sale([LineInput(3, d("9.99"))], [DiscountOffer(CODE, "SPRING10", d("10.00"))])
    # 2.997 -> 3.00
    assert (sale.discount_total, sale.total) == (d("3.00"), d("26.97"))


def test_on_a_tie_the_code_beats_the_card_which_beats_a_group() -> None:
    group = DiscountOffer(GROUP, "Gold", d("10.00"))
    card = DiscountOffer(CARD, "LC-0001", d("10.00"))
    code = DiscountOffer(CODE, "ZZZ", d("10.00"))
    assert best_offer([group, card, code]).source is CODE  # type: ignore[union-attr]
    assert best_offer([group, card]) == card
    assert best_offer([DiscountOffer(GROUP, "Silver", d("10.00")), group]) == group


def test_on_a_tie_the_tier_comes_after_the_card_and_before_a_group() -> None:
    tier = DiscountOffer(TIER, "Gold", d("10.00"))
    group = DiscountOffer(GROUP, "A-Team", d("10.00"))
    assert best_offer([group, tier]) == tier
    assert best_offer([tier, DiscountOffer(CARD, "LC-1", d("10.00"))]).source is CARD  # type: ignore[union-attr]


def test_a_bigger_tier_discount_wins_and_a_smaller_one_never_stacks() -> None:
    tier = DiscountOffer(TIER, "Gold", d("15.00"))
    group = DiscountOffer(GROUP, "Staff", d("10.00"))
    wins = price_sale([LineInput(1, d("100.00"))], [group, tier])
    assert wins.applied == tier
    assert (wins.discount_total, wins.total) == (d("15.00"), d("85.00"))
    bigger_code = DiscountOffer(CODE, "VIP20", d("20.00"))
    loses = price_sale([LineInput(1, d("100.00"))], [group, tier, bigger_code])
    assert loses.applied == bigger_code
    # 20%, not 20% + 15% + 10%.
    assert (loses.discount_total, loses.total) == (d("20.00"), d("80.00"))


def test_groups_never_stack() -> None:
    offers = [DiscountOffer(GROUP, name, d("10.00")) for name in ("Gold", "Staff", "VIP")]
    sale = price_sale([LineInput(1, d("100.00"))], offers)
    assert (sale.discount_total, sale.total) == (d("10.00"), d("90.00"))
    assert sale.applied == offers[0]
    assert sale.offers == tuple(offers)


def test_a_hundred_percent_discount_makes_the_sale_free_but_not_negative() -> None:
    sale = price_sale(
        [LineInput(2, d("19.99")), LineInput(1, d("0.01"))],
        [DiscountOffer(CARD, "LC-0001", d("100.00"))],
    )
    assert [line.total for line in sale.lines] == [d("0.00"), d("0.00")]
    assert (sale.subtotal, sale.discount_total, sale.total) == (d("39.99"), d("39.99"), d("0.00"))
    assert str(sale.total) == "0.00"


def test_a_zero_percent_offer_is_not_applied() -> None:
    sale = price_sale([LineInput(1, d("5.00"))], [DiscountOffer(GROUP, "Friends", d("0.00"))])
    assert sale.applied is None
    assert (sale.discount_total, sale.total) == (d("0.00"), d("5.00"))
    assert sale.offers == (DiscountOffer(GROUP, "Friends", d("0.00")),)


def test_line_discounts_round_half_up_each_and_add_up_to_the_sale() -> None:
    # 5% of 0.10, 0.30 and 0.50 is exactly half a cent, 1.5 and 2.5 cents: half-even would
    # give 0.00 and 0.02 where half up gives 0.01 and 0.03.
    sale = price_sale(
        [LineInput(1, d("0.10")), LineInput(1, d("0.30")), LineInput(1, d("0.50"))],
        [DiscountOffer(CODE, "FIVE", d("5.00"))],
    )
    assert [line.discount for line in sale.lines] == [d("0.01"), d("0.02"), d("0.03")]
    assert (sale.discount_total, sale.total) == (d("0.06"), d("0.84"))


def test_points_pay_part_and_the_rest_earns_whole_points() -> None:
    # 1,250 points at 0.01 pay 12.50 of a 26.22 sale; 13.72 paid at 1 point per unit earns 13.
    assert redemption_value(1250, d("0.01")) == d("12.50")
    assert points_earned(d("13.72"), d("1.00")) == 13
    assert points_earned(d("13.72"), d("2.50")) == 34  # 34.30
    assert points_earned(d("0.99"), d("1.00")) == 0


def test_a_tier_multiplier_floors_the_exact_product_once() -> None:
    # 13.72 x 1 x 1.5 = 20.58 -> 20 (flooring 13 first and multiplying would give 19.5).
    assert points_earned(d("13.72"), d("1.00"), d("1.50")) == 20
    # 0.67 x 1.5 = 1.005: the fraction of each factor adds up to a whole point.
    assert points_earned(d("0.67"), d("1.00"), d("1.50")) == 1
    assert points_earned(d("13.72"), d("2.50"), d("1.00")) == points_earned(d("13.72"), d("2.50"))
    assert points_earned(d("99.99"), d("0.10"), d("10.00")) == 99  # 99.99


def test_returning_one_of_three_refunds_a_third_of_the_line() -> None:
    assert returned_value(d("26.22"), 3, 1) == d("8.74")
    assert returned_value(d("26.22"), 3, 2) == d("17.48")
    assert returned_value(d("26.22"), 3, 3) == d("26.22")
    assert returned_value(d("10.00"), 3, 1) == d("3.33")
    assert returned_value(d("10.00"), 3, 2) == d("6.67")


def test_a_whole_return_gives_back_exactly_what_was_paid() -> None:
    share = refund_share(
        total=d("26.22"),
        paid=d("13.72"),
        points_redeemed=1250,
        points_earned=13,
        returned=d("26.22"),
    )
    assert (share.money, share.points_restored, share.points_reversed) == (d("13.72"), 1250, 13)


def test_a_later_return_never_takes_money_back() -> None:
    # The smallest sale where paying "the rest of the returned value" as money went wrong:
    # 3.00 of goods, 2 points at 1.00 pay 2.00, 1.00 in cash. Returning the 1.00 item gave
    # all the cash back, then returning the 0.50 item restored a point worth 1.00 and made
    # the cumulative money fall to 0.50: a refund of -0.50.
    total, paid = d("3.00"), d("1.00")
    figures = []
    for returned in (d("1.00"), d("1.50"), d("3.00")):
        share = refund_share(
            total=total,
            paid=paid,
            points_redeemed=2,
            points_earned=1,
            returned=returned,
        )
        figures.append((share.money, share.points_restored, share.points_reversed))
    assert figures == [(d("0.33"), 0, 0), (d("0.50"), 1, 0), (d("1.00"), 2, 1)]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.005", "0.01"),
        ("0.015", "0.02"),
        ("0.025", "0.03"),
        ("2.675", "2.68"),
        ("-0.005", "-0.01"),
        ("-0.015", "-0.02"),
        ("0.0049999", "0.00"),
        ("1.994", "1.99"),
        ("7", "7.00"),
    ],
)
def test_to_cents_rounds_halves_away_from_zero(amount: str, expected: str) -> None:
    result = to_cents(d(amount))
    assert result == d(expected)
    assert str(result) == expected


def test_cents_round_trip() -> None:
    assert from_cents(1999) == d("19.99")
    assert str(from_cents(5)) == "0.05"
    assert cents(d("19.995")) == 2000
    assert whole_points(d("13.999")) == 13
    assert whole_points(d("-0.5")) == -1


# --- properties: money ------------------------------------------------------------------------

# Up to six places and twelve integer digits: everything a price times a percent can produce.
RAW_AMOUNTS = st.decimals(
    min_value=-(10**12), max_value=10**12, places=6, allow_nan=False, allow_infinity=False
)


@given(RAW_AMOUNTS)
@example(d("0.005"))
@example(d("-0.005"))
def test_to_cents_is_the_nearest_cent_halves_away_from_zero(amount: Decimal) -> None:
    result = to_cents(amount)
    assert two_decimals(result)
    assert result == half_up(amount)
    assert abs(result - amount) <= d("0.005")
    if abs(result - amount) == d("0.005"):
        assert abs(result) > abs(amount)
    assert to_cents(result) == result
    assert to_cents(-amount) == -result


@given(st.integers(-(10**12), 10**12))
def test_from_cents_and_cents_round_trip(n: int) -> None:
    amount = from_cents(n)
    assert two_decimals(amount)
    assert cents(amount) == n


# --- properties: pricing ----------------------------------------------------------------------


def expected_offer(offers: list[DiscountOffer]) -> DiscountOffer | None:
    positive = [o for o in offers if o.percent > 0]
    if not positive:
        return None
    top = max(o.percent for o in positive)
    at_top = [o for o in positive if o.percent == top]
    first_source = min(TIE_ORDER[o.source] for o in at_top)
    return min((o for o in at_top if TIE_ORDER[o.source] == first_source), key=lambda o: o.code)


@given(LINES, OFFERS)
def test_a_sale_adds_up_to_the_cent(lines: list[LineInput], offers: list[DiscountOffer]) -> None:
    sale = price_sale(lines, offers)

    assert sale.applied == expected_offer(offers)
    percent = sale.applied.percent if sale.applied else Decimal(0)
    assert len(sale.lines) == len(lines)
    for given_line, line in zip(lines, sale.lines, strict=True):
        assert line.amount == given_line.unit_price * given_line.quantity
        assert line.discount == half_up(line.amount * percent / 100)
        assert line.total == line.amount - line.discount >= 0
    assert sale.subtotal == sum(line.amount for line in sale.lines)
    assert sale.discount_total == sum(line.discount for line in sale.lines)
    assert sale.total == sale.subtotal - sale.discount_total == sum(x.total for x in sale.lines)
    assert sale.total >= 0
    assert all(two_decimals(x) for x in sale_amounts(sale)), sale
    if sale.applied is None:
        assert sale.discount_total == 0


@given(LINES, OFFERS)
def test_offers_are_reported_all_and_sorted(
    lines: list[LineInput], offers: list[DiscountOffer]
) -> None:
    reported = price_sale(lines, offers).offers
    assert Counter(reported) == Counter(offers)
    keys = [(TIE_ORDER[o.source], o.code) for o in reported]
    assert keys == sorted(keys)


@given(LINES, OFFERS, st.data())
def test_offers_never_stack(
    lines: list[LineInput], offers: list[DiscountOffer], data: st.DataObject
) -> None:
    sale = price_sale(lines, offers)
    # Only the applied offer counts: pricing with it alone gives the same lines.
    alone = price_sale(lines, [sale.applied] if sale.applied else [])
    assert (alone.lines, alone.total, alone.applied) == (sale.lines, sale.total, sale.applied)

    # A lesser offer (or, with nothing applied, a zero one) changes nothing.
    ceiling = sale.applied.percent if sale.applied else Decimal(0)
    lesser = data.draw(
        st.builds(
            DiscountOffer,
            st.sampled_from(list(DiscountSource)),
            st.text("ABC", min_size=1, max_size=3),
            hundredths(0, max(0, int(ceiling * 100) - 1)),
        ),
        label="lesser offer",
    )
    position = data.draw(st.integers(0, len(offers)), label="inserted at")
    more = price_sale(lines, [*offers[:position], lesser, *offers[position:]])
    assert (more.lines, more.subtotal, more.discount_total, more.total, more.applied) == (
        sale.lines,
        sale.subtotal,
        sale.discount_total,
        sale.total,
        sale.applied,
    )


@given(LINES)
def test_no_offer_no_discount(lines: list[LineInput]) -> None:
    sale = price_sale(lines, [])
    assert sale.applied is None
    assert sale.discount_total == 0
    assert sale.total == sale.subtotal


# --- properties: points -----------------------------------------------------------------------


@given(st.integers(0, 10**10), hundredths(0, 10_000))
def test_points_earned_is_the_floor_of_paid_times_rate(paid_cents: int, rate: Decimal) -> None:
    paid = Decimal(paid_cents).scaleb(-2)
    earned = points_earned(paid, rate)
    assert 0 <= earned <= paid * rate
    # Integer arithmetic: cents times hundredths of a point is in ten-thousandths.
    assert earned == paid_cents * int(rate * 100) // 10_000


@given(st.integers(0, 10**10), hundredths(0, 10_000), hundredths(100, 1000))
def test_a_tier_multiplier_earns_the_floor_of_the_exact_product(
    paid_cents: int, rate: Decimal, multiplier: Decimal
) -> None:
    paid = Decimal(paid_cents).scaleb(-2)
    earned = points_earned(paid, rate, multiplier)
    # Integer arithmetic: cents x hundredths x hundredths is in millionths of a point.
    assert earned == paid_cents * int(rate * 100) * int(multiplier * 100) // 1_000_000
    # Never fewer points than without a tier, never more than the exact product.
    assert points_earned(paid, rate) <= earned <= paid * rate * multiplier


@given(LINES, OFFERS, hundredths(1, 10_000))
def test_a_tier_offer_competes_as_one_more_candidate(
    lines: list[LineInput], offers: list[DiscountOffer], percent: Decimal
) -> None:
    tier = DiscountOffer(TIER, "Gold", percent)
    with_tier = price_sale(lines, [*offers, tier])
    without = price_sale(lines, offers)
    assert with_tier.applied == expected_offer([*offers, tier])
    if with_tier.applied == tier:
        assert without.applied is None or without.applied.percent <= percent
    else:
        # It lost: the sale is priced exactly as without it (nothing stacks).
        assert (with_tier.discount_total, with_tier.total) == (
            without.discount_total,
            without.total,
        )
    # One percent off every line, whichever won.
    best = with_tier.applied.percent if with_tier.applied else Decimal(0)
    assert with_tier.discount_total == sum(
        (half_up(line.amount * best / 100) for line in with_tier.lines), Decimal("0.00")
    )


# --- properties: returns ----------------------------------------------------------------------


@given(hundredths(0, 10**9), st.integers(1, 1000), st.data())
def test_a_lines_returned_value_grows_to_its_total(
    line_total: Decimal, quantity: int, data: st.DataObject
) -> None:
    cut = sorted(data.draw(st.lists(st.integers(0, quantity), max_size=8), label="returned"))
    values = [returned_value(line_total, quantity, q) for q in [0, *cut, quantity]]
    assert values[0] == 0
    assert values[-1] == line_total
    assert values == sorted(values)
    assert all(two_decimals(v) for v in values)


def return_steps(
    data: st.DataObject, quantities: list[int], max_steps: int = 12
) -> list[tuple[int, int]]:
    """Return every unit of every line in random partial steps, in random order."""
    left = list(quantities)
    steps: list[tuple[int, int]] = []
    while any(left):
        open_lines = [i for i, n in enumerate(left) if n]
        i = data.draw(st.sampled_from(open_lines), label="line")
        # Bounded so an example stays short; the last step then takes all that is left.
        n = left[i] if len(steps) >= max_steps else data.draw(st.integers(1, left[i]), label="qty")
        left[i] -= n
        steps.append((i, n))
    return steps


@settings(max_examples=300, deadline=None)
@given(LINES, OFFERS, hundredths(1, 100), hundredths(0, 1000), st.data())
def test_returning_a_sale_in_steps_refunds_exactly_what_was_paid(
    lines: list[LineInput],
    offers: list[DiscountOffer],
    point_value: Decimal,
    rate: Decimal,
    data: st.DataObject,
) -> None:
    sale = price_sale(lines, offers)
    total = sale.total
    redeemed = data.draw(st.integers(0, int(total / point_value)), label="points redeemed")
    by_points = redemption_value(redeemed, point_value)
    assert by_points == redeemed * point_value <= total
    paid = total - by_points
    earned = points_earned(paid, rate)

    returned_qty = [0] * len(sale.lines)
    previous = (Decimal(0), 0, 0)
    line_values = [Decimal(0)] * len(sale.lines)
    for i, n in return_steps(data, [line.quantity for line in sale.lines]):
        returned_qty[i] += n
        line = sale.lines[i]
        value = returned_value(line.total, line.quantity, returned_qty[i])
        assert value >= line_values[i]
        line_values[i] = value
        returned = sum(line_values, Decimal(0))
        assert returned <= total

        share = refund_share(
            total=total,
            paid=paid,
            points_redeemed=redeemed,
            points_earned=earned,
            returned=returned,
        )
        money, restored, reversed_ = share.money, share.points_restored, share.points_reversed
        step = (returned, money, restored, reversed_)
        assert two_decimals(money), step
        assert 0 <= money <= paid, step
        assert 0 <= restored <= redeemed, step
        assert 0 <= reversed_ <= earned, step
        # Cumulative figures: a later return never takes back what an earlier one gave.
        assert money >= previous[0], (previous, step)
        assert restored >= previous[1], (previous, step)
        assert reversed_ >= previous[2], (previous, step)
        # Exact, no tolerance: both sides are whole cents (point values have two decimals).
        assert money + restored * point_value <= returned, step
        previous = (money, restored, reversed_)

    assert returned == total
    assert previous == (paid, redeemed, earned)
