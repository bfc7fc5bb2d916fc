"""The one loyalty decision (seed 004): on only with the shop's switch on and a customer
who has not opted out."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.domain.loyalty import loyalty_active


@pytest.mark.parametrize(
    ("enabled", "opted_out", "active"),
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_loyalty_is_active_only_when_the_shop_and_the_customer_take_part(
    enabled: bool, opted_out: bool, active: bool
) -> None:
    settings = SimpleNamespace(loyalty_enabled=enabled)
    assert loyalty_active(settings, SimpleNamespace(loyalty_opt_out=opted_out)) is active


def test_a_walk_in_sale_has_no_loyalty() -> None:
    assert loyalty_active(SimpleNamespace(loyalty_enabled=True), None) is False
