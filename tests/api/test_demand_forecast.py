"""Demand forecasts and reorder suggestions through GraphQL (issue 11 §5), on both databases.

History is made through the sale services, as tills make it, then moved back in time:
the nightly job reads completed sales minus returns per day.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import update

from app.db.models import Sale, SaleReturn
from app.db.repositories.forecasts import ForecastRepository
from app.domain.permissions import Permission as P
from app.services.forecasts import FORECAST_JOB
from app.services.job_registry import SCHEDULED_JOBS
from app.services.loyalty import LoyaltyService
from app.services.sale_reversals import ReturnLineDraft, SaleReturnCommand, SaleReversalService
from app.services.sales_aggregates import rebuild
from app.services.unit_of_work import UnitOfWork

FORECAST = """query($p: ID!, $s: ID!, $days: Int) {
  demandForecast(productId: $p, storeId: $s, days: $days) {
    method points { date quantity low high } backtest { mase seasonalNaiveMase } } }"""
SUGGESTIONS = """query($s: ID, $first: Int, $after: String) {
  reorderSuggestions(storeId: $s, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { product { sku leadTimeDays minStock } store { code } onHand
      forecastDemand safetyStock suggestedQuantity } } } }"""
UPDATE = """mutation($id: ID!, $input: ProductUpdateInput!) {
  productUpdate(id: $id, input: $input) {
    product { leadTimeDays minStock } errors { field code } } }"""
TODAY = datetime(2026, 12, 7, 2, 20, tzinfo=UTC)
# Mon..Sun, from a Monday: a weekly shape the forecast should keep.
WEEK = [2, 2, 2, 3, 4, 6, 1]


async def _backdate(runtime: Any, model: Any, column: str, row_id: uuid.UUID, at: datetime) -> None:
    async with runtime.db.write() as session:
        await session.execute(update(model).where(model.id == row_id).values({column: at}))


async def _history(factory: Any, runtime: Any, sku: str, store_id: uuid.UUID, days: int) -> None:
    """One sale a day of WEEK's quantity for ``days`` days before TODAY."""
    for back in range(days, 0, -1):
        day = TODAY - timedelta(days=back)
        sale = await factory.completed_sale(None, [(sku, WEEK[day.weekday()])], store_id=store_id)
        await _backdate(runtime, Sale, "completed_at", sale.id, day.replace(hour=12))


async def _count(runtime: Any, product_id: uuid.UUID, store_id: uuid.UUID, on_hand: int) -> None:
    async def work(uow: UnitOfWork) -> None:
        await uow.products.set_stock(product_id, store_id, on_hand, uow.now)

    await runtime.tx.run(None, work)


async def _run(runtime: Any) -> Any:
    # The backdated sales reach the aggregates as a rebuild puts them there (a night's run
    # aggregates only its own day and the days that changed).
    await rebuild(runtime.tx)
    return await SCHEDULED_JOBS[FORECAST_JOB].run(runtime.tx, TODAY)


async def test_the_nightly_run_forecasts_each_product_at_each_store(
    gql, factory, runtime, raw_sql
) -> None:
    store = await factory.store("FC")
    jam = await factory.product("JAM", "3.00", stock={store.id: 4})
    await factory.product("IDLE", "1.00", stock={store.id: 50})
    token = await factory.token(P.REPORT_VIEW, P.SETTINGS_MANAGE)
    changed = await gql(
        UPDATE, {"id": str(jam.id), "input": {"leadTimeDays": 3, "minStock": 2}}, token=token
    )
    assert changed["data"]["productUpdate"] == {
        "product": {"leadTimeDays": 3, "minStock": 2},
        "errors": [],
    }
    await _history(factory, runtime, "JAM", store.id, 8 * 7)
    await _count(runtime, jam.id, store.id, 4)  # the sales took it below zero: a stock take

    run = await _run(runtime)
    assert run.claimed
    assert run.result["rows"] == 2
    again = await _run(runtime)
    assert not again.claimed  # the slot is done: a second worker or run-job changes nothing
    assert await raw_sql(
        "SELECT count(*) FROM job_runs WHERE job_name = 'refresh_demand_forecasts'"
    ) == [(1,)]

    body = await gql(FORECAST, {"p": str(jam.id), "s": str(store.id), "days": 7}, token=token)
    assert "errors" not in body, body
    found = body["data"]["demandForecast"]
    assert found["method"] in {"ets-weekday", "tsb-weekday"}
    days = [p["date"] for p in found["points"]]
    assert days == [(TODAY.date() + timedelta(days=i)).isoformat() for i in range(7)]
    for point in found["points"]:
        expected = WEEK[date.fromisoformat(point["date"]).weekday()]
        assert abs(point["quantity"] - expected) < 1.0, found["points"]
        assert point["low"] <= point["quantity"] <= point["high"]
    # A pattern repeated exactly: seasonal-naive is perfect, so it has no scale (null).
    assert found["backtest"] == {"mase": None, "seasonalNaiveMase": None}

    listed = await gql(SUGGESTIONS, {"s": str(store.id)}, token=token)
    assert "errors" not in listed, listed
    [edge] = listed["data"]["reorderSuggestions"]["edges"]
    node = edge["node"]
    assert node["product"] == {"sku": "JAM", "leadTimeDays": 3, "minStock": 2}
    assert node["store"] == {"code": "FC"}
    assert node["onHand"] == 4
    # Lead time 3 + review 7 days of a 20-a-week shape: about 29 units.
    assert 25 <= node["forecastDemand"] <= 33
    assert node["safetyStock"] >= 2  # minStock is the floor
    assert node["suggestedQuantity"] == -(-(node["forecastDemand"] + node["safetyStock"] - 4) // 1)
    # IDLE never sold and has 50 on hand: nothing to order, so not listed.
    assert listed["data"]["reorderSuggestions"]["totalCount"] == 1


async def test_history_is_net_units_per_day_from_the_aggregates(factory, runtime) -> None:
    store = await factory.store("RT")
    other = await factory.store("RU")
    product = await factory.product("TEA", "2.00", stock={store.id: 100, other.id: 100})
    sold_on = TODAY - timedelta(days=3)
    sale = await factory.completed_sale(None, [("TEA", 5)], store_id=store.id)
    await _backdate(runtime, Sale, "completed_at", sale.id, sold_on)
    reversals = SaleReversalService(runtime.tx, None, LoyaltyService(runtime.tx, None))
    voided = await factory.completed_sale(None, [("TEA", 9)], store_id=store.id)
    assert (await reversals.void(voided.id, "wrong till")).ok
    await _backdate(runtime, Sale, "completed_at", voided.id, sold_on)
    [line] = (await factory.sales().lines_for([sale.id]))[sale.id]
    back = await reversals.return_goods(
        sale.id, SaleReturnCommand((ReturnLineDraft(line.id, 2),), idempotency_key="tea-back")
    )
    assert back.ok, back.errors
    assert back.value is not None
    await _backdate(runtime, SaleReturn, "created_at", back.value.id, TODAY - timedelta(days=1))
    start, end = (TODAY - timedelta(days=4)).date(), (TODAY - timedelta(days=1)).date()
    await rebuild(runtime.tx)
    async with runtime.db.read() as session:
        units = await ForecastRepository(session).daily_units(store.id, product.id, start, end)
        elsewhere = await ForecastRepository(session).daily_units(other.id, product.id, start, end)
    # The void counts nothing; the return counts on its sale's day (goods that came back
    # were not demand), as the aggregates keep it.
    assert units == [0.0, 3.0, 0.0, 0.0]
    assert elsewhere == [0.0, 0.0, 0.0, 0.0]


async def test_reports_need_report_view_and_a_sane_number_of_days(gql, factory) -> None:
    store = await factory.store("PV")
    product = await factory.product("PEN", "1.00")
    variables = {"p": str(product.id), "s": str(store.id)}
    cashier = await factory.token(P.SALE_CREATE, P.CUSTOMER_VIEW)
    for document, name in ((FORECAST, "demandForecast"), (SUGGESTIONS, "reorderSuggestions")):
        body = await gql(document, variables, token=cashier)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], name
    analyst = await factory.token(P.REPORT_VIEW)
    before_first_run = await gql(FORECAST, variables, token=analyst)
    assert "errors" not in before_first_run, before_first_run
    assert before_first_run["data"] == {"demandForecast": None}
    too_far = await gql(FORECAST, {**variables, "days": 29}, token=analyst)
    assert [e["extensions"]["code"] for e in too_far["errors"]] == ["INVALID"]


async def test_suggestions_page_across_stores(gql, factory, runtime) -> None:
    stores = [await factory.store(code) for code in ("P1", "P2")]
    for n, store in enumerate(stores):
        for sku in (f"A{n}", f"B{n}"):
            await factory.product(sku, "1.00", stock={store.id: 0})
            await _history(factory, runtime, sku, store.id, 5 * 7)
    assert (await _run(runtime)).claimed
    token = await factory.token(P.REPORT_VIEW)
    seen: list[str] = []
    after = None
    while True:
        body = await gql(SUGGESTIONS, {"first": 3, "after": after}, token=token)
        assert "errors" not in body, body
        page = body["data"]["reorderSuggestions"]
        assert page["totalCount"] == 4
        seen += [e["node"]["product"]["sku"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == ["A0", "A1", "B0", "B1"]
    assert len(seen) == 4
    bound = await factory.token(P.REPORT_VIEW, store_id=stores[0].id)
    own = await gql(SUGGESTIONS, {}, token=bound)
    assert sorted(
        e["node"]["store"]["code"] for e in own["data"]["reorderSuggestions"]["edges"]
    ) == [
        "P1",
        "P1",
    ]


SERVICE_LEVEL = """mutation($level: Float) {
  businessSettingsUpdate(input: {forecastServiceLevel: $level}) {
    businessSettings { forecastServiceLevel } errors { field code } } }"""


async def test_the_service_level_is_a_setting_the_nightly_run_plans_for(
    gql, factory, runtime
) -> None:
    store = await factory.store("SL")
    await factory.product("OAT", "2.00", stock={store.id: 0})
    await _history(factory, runtime, "OAT", store.id, 6 * 7)
    await rebuild(runtime.tx)
    token = await factory.token(P.SETTINGS_MANAGE, P.REPORT_VIEW)
    refused = await gql(SERVICE_LEVEL, {"level": 1.0}, token=token)
    assert refused["data"]["businessSettingsUpdate"]["errors"] == [
        {"field": ["input", "forecastServiceLevel"], "code": "INVALID"}
    ]
    safety = {}
    for n, level in enumerate((0.8, 0.99)):
        body = await gql(SERVICE_LEVEL, {"level": level}, token=token)
        assert body["data"]["businessSettingsUpdate"] == {
            "businessSettings": {"forecastServiceLevel": level},
            "errors": [],
        }
        run = await SCHEDULED_JOBS[FORECAST_JOB].run(runtime.tx, TODAY + timedelta(days=7 * n))
        assert run.result["serviceLevel"] == level
        listed = await gql(SUGGESTIONS, {"s": str(store.id)}, token=token)
        [edge] = listed["data"]["reorderSuggestions"]["edges"]
        safety[level] = edge["node"]["safetyStock"]
    assert safety[0.99] > safety[0.8]
