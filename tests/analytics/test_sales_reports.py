"""Sales reports (issue 11 §4): every dimension from the aggregates, discounts, points, consent."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from app.domain.permissions import Permission as P
from app.domain.reports import SalesReportDimension, SalesReportQuery
from app.services.sales_aggregates import rebuild
from app.services.sales_reports import SalesReportService
from tests.analytics.helpers import at, move_sale

REPORT = """query($from: Date!, $to: Date!, $by: [SalesReportDimension!]!, $f: SalesReportFilter) {
  salesReport(from: $from, to: $to, groupBy: $by, filter: $f) {
    day storeId productId category cashierId payment segment
    sales units revenue discountTotal pointsRedeemed returnedUnits returnedValue } }"""
FRIDAY, MONDAY = date(2026, 10, 30), date(2026, 11, 2)
SUMS = ("sales", "units", "revenue", "discountTotal")


class Shop:
    head: uuid.UUID
    branch: uuid.UUID
    cashier: uuid.UUID
    tea: uuid.UUID
    cup: uuid.UUID


@pytest.fixture
async def shop(runtime: Any, factory: Any) -> Shop:
    """Three sales: a VIP's (10% group discount) on a Friday at head office by a cashier,
    a walk-in's by card at the branch and one by the cashier, both the next Monday."""
    s = Shop()
    s.head = (await factory.head_office()).id
    s.branch = (await factory.store("BR")).id
    s.tea = (await factory.product("TEA", price="2.50", category="Tea")).id
    s.cup = (await factory.product("CUP", price="10.00", category="Ware")).id
    role = await factory.auth().create_role("till-staff", [P.SALE_CREATE])
    user = await factory.auth().create_staff_user(
        "ana", "long-enough-password", role.value.id, None
    )
    s.cashier = user.value.id
    vip = await factory.customer(name="Vip Customer")
    group = await factory.group("VIP", "10")
    await factory.add_to_group(group.id, vip.id)
    first = await factory.completed_sale(vip.id, [("TEA", 2), ("CUP", 1)])
    card = await factory.completed_sale(None, [("TEA", 4)], payment="CARD", store_id=s.branch)
    cash = await factory.completed_sale(None, [("CUP", 1)])
    await move_sale(runtime, first.id, at(FRIDAY), cashier_id=s.cashier)
    await move_sale(runtime, card.id, at(MONDAY))
    await move_sale(runtime, cash.id, at(MONDAY), cashier_id=s.cashier)
    await rebuild(runtime.tx)
    return s


async def _report(gql: Any, token: str, by: list[str], **filters: Any) -> Any:
    body = await gql(
        REPORT,
        {"from": "2026-10-01", "to": "2026-11-30", "by": by, "f": filters or None},
        token=token,
    )
    assert "errors" not in body, body
    return body["data"]["salesReport"]


def _sums(rows: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(r[k] for k in (*keys, *SUMS)) for r in rows]


async def test_every_dimension(gql, factory, shop: Shop) -> None:
    token = await factory.token(P.REPORT_VIEW)
    [total] = await _report(gql, token, [])
    assert total["day"] is None
    assert _sums([total]) == [(3, 8, "33.50", "1.50")]
    assert total["pointsRedeemed"] == 0

    stores = await _report(gql, token, ["STORE"])
    assert sorted(_sums(stores, "storeId")) == sorted(
        [(str(shop.head), 2, 4, "23.50", "1.50"), (str(shop.branch), 1, 4, "10.00", "0.00")]
    )
    products = await _report(gql, token, ["PRODUCT"])
    assert sorted(_sums(products, "productId")) == sorted(
        [(str(shop.tea), 2, 6, "14.50", "0.50"), (str(shop.cup), 2, 2, "19.00", "1.00")]
    )
    # By product, points are not split over lines; returns are counted.
    assert {(r["pointsRedeemed"], r["returnedUnits"]) for r in products} == {(None, 0)}
    assert _sums(await _report(gql, token, ["CATEGORY"]), "category") == [
        ("Tea", 2, 6, "14.50", "0.50"),
        ("Ware", 2, 2, "19.00", "1.00"),
    ]
    cashiers = await _report(gql, token, ["CASHIER"])
    assert sorted(_sums(cashiers, "cashierId"), key=str) == sorted(
        [(str(shop.cashier), 2, 4, "23.50", "1.50"), (None, 1, 4, "10.00", "0.00")], key=str
    )
    assert _sums(await _report(gql, token, ["PAYMENT"]), "payment") == [
        ("CARD", 1, 4, "10.00", "0.00"),
        ("CASH", 2, 4, "23.50", "1.50"),
    ]
    # The segment the sale was made with: the VIP's first purchase was NEW.
    segments = await _report(gql, token, ["SEGMENT"])
    assert sorted(_sums(segments, "segment"), key=str) == [
        ("NEW", 1, 3, "13.50", "1.50"),
        (None, 2, 5, "20.00", "0.00"),
    ]
    assert _sums(await _report(gql, token, ["WEEK"]), "day") == [
        ("2026-10-26", 1, 3, "13.50", "1.50"),
        ("2026-11-02", 2, 5, "20.00", "0.00"),
    ]
    assert _sums(await _report(gql, token, ["MONTH"]), "day") == [
        ("2026-10-01", 1, 3, "13.50", "1.50"),
        ("2026-11-01", 2, 5, "20.00", "0.00"),
    ]
    by_day_and_payment = await _report(gql, token, ["DAY", "PAYMENT"])
    assert _sums(by_day_and_payment, "day", "payment") == [
        ("2026-10-30", "CASH", 1, 3, "13.50", "1.50"),
        ("2026-11-02", "CARD", 1, 4, "10.00", "0.00"),
        ("2026-11-02", "CASH", 1, 1, "10.00", "0.00"),
    ]


async def test_filters_narrow_the_rows(gql, factory, shop: Shop) -> None:
    token = await factory.token(P.REPORT_VIEW)
    tea_days = await _report(gql, token, ["DAY"], category="Tea")
    assert _sums(tea_days, "day") == [
        ("2026-10-30", 1, 2, "4.50", "0.50"),
        ("2026-11-02", 1, 4, "10.00", "0.00"),
    ]
    by_card = await _report(gql, token, ["STORE"], payment="CARD")
    assert _sums(by_card, "storeId") == [(str(shop.branch), 1, 4, "10.00", "0.00")]
    assert await _report(gql, token, [], segment="LOYAL") == []


async def test_product_and_sale_dimensions_cannot_be_crossed(gql, factory, shop: Shop) -> None:
    token = await factory.token(P.REPORT_VIEW)
    for by, filters in (
        (["PRODUCT", "CASHIER"], None),
        (["CATEGORY"], {"segment": "NEW"}),
        (["PAYMENT"], {"productId": str(shop.tea)}),
    ):
        body = await gql(
            REPORT, {"from": "2026-10-01", "to": "2026-11-30", "by": by, "f": filters}, token=token
        )
        assert [e["extensions"]["code"] for e in body["errors"]] == [
            "REPORT_DIMENSIONS_INCOMPATIBLE"
        ], body
    for by, start, end in (
        (["DAY", "WEEK"], "2026-10-01", "2026-11-30"),
        ([], "2026-11-30", "2026-10-01"),
    ):
        body = await gql(REPORT, {"from": start, "to": end, "by": by}, token=token)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID"], body


async def test_a_store_bound_analyst_sees_only_their_store(gql, factory, shop: Shop) -> None:
    bound = await factory.token(P.REPORT_VIEW, store_id=shop.branch)
    rows = await _report(gql, bound, ["STORE"])
    assert [r["storeId"] for r in rows] == [str(shop.branch)]
    refused = await gql(
        REPORT,
        {"from": "2026-10-01", "to": "2026-11-30", "by": [], "f": {"storeId": str(shop.head)}},
        token=bound,
    )
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"]
    # Chain-wide figures are for chain-wide callers.
    for field in ("pointsLiability { points }", "consentRates { rate }"):
        body = await gql(f"{{ {field} }}", token=bound)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], field


async def test_reports_need_report_view(gql, factory, shop: Shop) -> None:
    cashier = await factory.token(P.SALE_CREATE, P.CUSTOMER_VIEW)
    for document in (
        '{ salesReport(from: "2026-10-01", to: "2026-10-31", groupBy: []) { sales } }',
        '{ discountUsage(from: "2026-10-01", to: "2026-10-31") { sales } }',
        "{ pointsLiability { points } }",
        "{ consentRates { rate } }",
        "{ customerSegments { customers } }",
    ):
        body = await gql(document, token=cashier)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], document


async def test_discount_usage_points_liability_and_consent_rates(gql, factory, shop: Shop) -> None:
    await factory.customer(email="news@example.com", email_marketing=True)
    token = await factory.token(P.REPORT_VIEW)
    body = await gql(
        '{ discountUsage(from: "2026-10-01", to: "2026-11-30") '
        "{ source cashierId sales discountTotal } "
        "pointsLiability { points pointValue value } "
        "consentRates { channel customers subscribed rate } }",
        token=token,
    )
    assert "errors" not in body, body
    assert body["data"]["discountUsage"] == [
        {"source": "GROUP", "cashierId": str(shop.cashier), "sales": 1, "discountTotal": "1.50"}
    ]
    # The VIP paid 13.50 and earned 13 points at 1 a unit; a point is worth 0.01.
    assert body["data"]["pointsLiability"] == {
        "points": 13,
        "pointValue": "0.01",
        "value": "0.13",
    }
    assert body["data"]["consentRates"] == [
        {"channel": "EMAIL", "customers": 2, "subscribed": 1, "rate": "0.5000"},
        {"channel": "SMS", "customers": 2, "subscribed": 0, "rate": "0.0000"},
    ]


async def test_a_report_is_one_statement_over_the_aggregates(
    runtime, shop: Shop, count_statements
) -> None:
    service = SalesReportService(runtime.tx, None)
    for dimensions in ((SalesReportDimension.CATEGORY,), (SalesReportDimension.SEGMENT,)):
        query = SalesReportQuery(FRIDAY, MONDAY, dimensions)
        with count_statements() as counter:
            rows = await service.sales_report(query)
        assert rows
        [statement] = counter.statements
        assert "sale_lines" not in statement
        assert "FROM sales " not in statement
        assert "sales_daily" in statement
