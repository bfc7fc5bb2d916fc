"""The discount-usage audit's rules (issue 11 §6; docs/analytics.md "Discount-usage audit").

Each rule reads what it needs through the repository and returns findings; none writes.
A finding's subject makes it unique per rule (``sale:<id>``, ``customer:<id>:<day>``,
``cashier:<id>:<metric>:<window>``), so judging the same sale again finds nothing new.

"The same staff member" is matched by id: the audit trail's ``actor_id`` against the
sale's ``cashier_id``. A sale rung up on a till's device token has no cashier id, so the
rules that need one (self-granted discounts, adjusted points, reactivations, outliers)
do not judge it.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

from app.db.repositories.discount_audit import AuditedSale, CustomerEvent, DiscountAuditRepository
from app.domain.discount_audit import (
    CashierMetric,
    FindingRule,
    FindingSeverity,
    NewFinding,
    robust_z_scores,
)
from app.domain.pricing import DiscountSource
from app.settings import Settings

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)

# What gave a customer each kind of discount, as the services audit it.
GRANTS: dict[str, tuple[str, ...]] = {
    DiscountSource.GROUP.value: ("add_to_group",),
    DiscountSource.LOYALTY_CARD.value: ("loyalty_card_issue", "loyalty_card_replace"),
    DiscountSource.CODE.value: ("discount_assign",),
}
GRANT_WORDS = {
    "add_to_group": "added the customer to a discount group",
    "loyalty_card_issue": "issued the customer a loyalty card",
    "loyalty_card_replace": "replaced the customer's loyalty card",
    "discount_assign": "assigned the customer a discount code",
}
CODE_HISTORY = ("discount_assign", "discount_remove", "discount_expire")
REACTIVATION = "set_status"
POINTS_ADJUST = "points_adjust"
# Every customer action a rule reads, fetched once per scan.
CUSTOMER_ACTIONS = (
    *CODE_HISTORY,
    *(a for actions in GRANTS.values() for a in actions if a != "discount_assign"),
    REACTIVATION,
    POINTS_ADJUST,
)


@dataclass(frozen=True, slots=True)
class AuditThresholds:
    grant_window: timedelta = timedelta(minutes=120)
    outlier_window: timedelta = timedelta(days=7)
    outlier_min_sales: int = 30
    outlier_min_peers: int = 4
    outlier_z: float = 3.5
    outlier_min_gap: float = 0.05
    daily_discounted_visits: int = 4
    daily_discounted_visits_one_store: int = 6
    points_window: timedelta = timedelta(hours=72)
    reactivations: int = 3
    reactivation_window: timedelta = timedelta(days=30)

    @classmethod
    def from_settings(cls, s: Settings) -> AuditThresholds:
        return cls(
            grant_window=timedelta(minutes=s.audit_grant_window_minutes),
            outlier_window=timedelta(days=s.audit_outlier_window_days),
            outlier_min_sales=s.audit_outlier_min_sales,
            outlier_min_peers=s.audit_outlier_min_peers,
            outlier_z=s.audit_outlier_z,
            outlier_min_gap=s.audit_outlier_min_gap,
            daily_discounted_visits=s.audit_daily_discounted_visits,
            daily_discounted_visits_one_store=s.audit_daily_discounted_visits_one_store,
            points_window=timedelta(hours=s.audit_points_window_hours),
            reactivations=s.audit_reactivations,
            reactivation_window=timedelta(days=s.audit_reactivation_window_days),
        )


def _when(sale: AuditedSale) -> datetime:
    assert sale.completed_at is not None  # every sale a rule judges was completed
    return sale.completed_at


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def by_customer(events: Sequence[CustomerEvent]) -> dict[uuid.UUID, list[CustomerEvent]]:
    found: dict[uuid.UUID, list[CustomerEvent]] = defaultdict(list)
    for event in events:
        found[event.customer_id].append(event)
    return found


def _sale_finding(
    rule: FindingRule,
    severity: FindingSeverity,
    sale: AuditedSale,
    explanation: str,
    amount: Decimal | None,
    **details: Any,
) -> NewFinding:
    return NewFinding(
        rule=rule,
        subject=f"sale:{sale.id}",
        severity=severity,
        explanation=explanation,
        sale_id=sale.id,
        customer_id=sale.customer_id,
        cashier_id=sale.cashier_id,
        store_id=sale.store_id,
        amount=amount,
        details=details,
    )


# -- 1. a code the customer did not hold ------------------------------------------------


def _code_held(history: Sequence[CustomerEvent], at: datetime) -> tuple[str | None, str | None]:
    """The code the customer held at ``at`` and its expiry (ISO), from the audit trail."""
    held: tuple[str | None, str | None] = (None, None)
    for event in history:
        if event.at > at:
            break
        if event.action == "discount_assign":
            held = (event.after.get("discountCode"), event.after.get("expiresAt"))
        elif event.action in ("discount_remove", "discount_expire"):
            held = (None, None)
    return held


def invalid_codes(
    sales: Sequence[AuditedSale], events: dict[uuid.UUID, list[CustomerEvent]]
) -> list[NewFinding]:
    """A CODE discount applied where, at the time of sale, the customer held no code,
    another code, or this code past its expiry.

    The live till re-prices at completion and cannot do this; a till that priced offline
    from a stale copy, an import, or a hand-edited row can. The assignment history comes
    from the audit trail (assign, remove, expire), not today's assignment, which the expiry
    job has long since reset.
    """
    found = []
    for sale in sales:
        if sale.source != DiscountSource.CODE.value or sale.customer_id is None:
            continue
        at = _when(sale)
        history = [e for e in events.get(sale.customer_id, []) if e.action in CODE_HISTORY]
        code, expires = _code_held(history, at)
        applied = sale.code or ""
        if code is None:
            why = f"Code {applied} was applied, but the customer held no discount code then."
        elif code.upper() != applied.upper():
            why = f"Code {applied} was applied, but the customer's code then was {code}."
        elif expires is not None and datetime.fromisoformat(expires) <= at:
            why = f"Code {applied} was applied after it expired at {expires}."
        else:
            continue
        found.append(
            _sale_finding(
                FindingRule.INVALID_CODE,
                FindingSeverity.HIGH,
                sale,
                why,
                sale.discount_total,
                appliedCode=applied,
                heldCode=code,
                expiresAt=expires,
            )
        )
    return found


# -- 2. a discount the cashier gave just before ringing it up ---------------------------


def self_granted(
    sales: Sequence[AuditedSale],
    events: dict[uuid.UUID, list[CustomerEvent]],
    limits: AuditThresholds,
) -> list[NewFinding]:
    """The sale's discount came from a group, card or code that the cashier who rang it up
    had given the customer within ``grant_window`` before."""
    found = []
    for sale in sales:
        if not sale.discounted or sale.customer_id is None or sale.cashier_id is None:
            continue
        actions = GRANTS.get(sale.source or "", ())
        at, cashier = _when(sale), str(sale.cashier_id)
        grants = [
            e
            for e in events.get(sale.customer_id, [])
            if e.action in actions
            and e.actor_id == cashier
            and at - limits.grant_window <= e.at <= at
        ]
        if not grants:
            continue
        grant = grants[-1]
        minutes = _minutes(at - grant.at)
        why = (
            f"The cashier {GRANT_WORDS[grant.action]} {minutes} minutes before ringing up this "
            f"sale, which took that {sale.source} discount."
        )
        found.append(
            _sale_finding(
                FindingRule.SELF_GRANTED_DISCOUNT,
                FindingSeverity.MEDIUM,
                sale,
                why,
                sale.discount_total,
                grant=grant.action,
                minutesBefore=minutes,
                source=sale.source,
            )
        )
    return found


# -- 5. points the cashier added, redeemed on their own sale ----------------------------


def adjusted_points_redeemed(
    sales: Sequence[AuditedSale],
    events: dict[uuid.UUID, list[CustomerEvent]],
    limits: AuditThresholds,
) -> list[NewFinding]:
    """Points redeemed on a sale whose cashier had credited the customer points by hand
    (a manual ADJUST) within ``points_window`` before."""
    found = []
    for sale in sales:
        if sale.points_redeemed <= 0 or sale.customer_id is None or sale.cashier_id is None:
            continue
        at, cashier = _when(sale), str(sale.cashier_id)
        credits = [
            e
            for e in events.get(sale.customer_id, [])
            if e.action == POINTS_ADJUST
            and e.actor_id == cashier
            and int(e.after.get("points", 0)) > 0
            and at - limits.points_window <= e.at <= at
        ]
        if not credits:
            continue
        added = sum(int(e.after["points"]) for e in credits)
        hours = round((at - credits[0].at).total_seconds() / 3600, 1)
        why = (
            f"The cashier added {added} points by hand {hours} hours before this sale, "
            f"on which they redeemed {sale.points_redeemed} points."
        )
        found.append(
            _sale_finding(
                FindingRule.ADJUSTED_POINTS_REDEEMED,
                FindingSeverity.HIGH,
                sale,
                why,
                sale.points_amount,
                pointsAdded=added,
                pointsRedeemed=sale.points_redeemed,
                hoursBefore=hours,
            )
        )
    return found


# -- 4. one customer's discount on many visits a day ------------------------------------


def _day_start(at: datetime) -> datetime:
    return datetime.combine(at.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)


def _reached_count(visits: Sequence[AuditedSale], limits: AuditThresholds) -> AuditedSale | None:
    """The first visit (in time order) at which the day became a finding, if it did."""
    stores: set[uuid.UUID] = set()
    for count, visit in enumerate(visits, start=1):
        stores.add(visit.store_id)
        if count >= limits.daily_discounted_visits_one_store or (
            len(stores) > 1 and count >= limits.daily_discounted_visits
        ):
            return visit
    return None


async def frequent_use(
    repo: DiscountAuditRepository,
    sales: Sequence[AuditedSale],
    through: datetime,
    limits: AuditThresholds,
) -> list[NewFinding]:
    """A customer with ``daily_discounted_visits`` or more discounted sales in one UTC day
    across stores (``daily_discounted_visits_one_store`` at one store): one finding per
    customer and day, on the sale that reached the count.

    The day is read as it stood at ``through``: a later sale is the next scan's, so a
    finding's figures do not depend on when the scan happened to run."""
    touched = {
        (s.customer_id, _day_start(_when(s))) for s in sales if s.discounted and s.customer_id
    }
    if not touched:
        return []
    customers = sorted({c for c, _ in touched if c is not None})
    start = min(d for _, d in touched)
    end = max(d for _, d in touched) + DAY
    days: dict[tuple[uuid.UUID, datetime], list[AuditedSale]] = defaultdict(list)
    for sale in await repo.customers_sales_completed(customers, start, end):
        if sale.discounted and sale.customer_id is not None and _when(sale) <= through:
            days[(sale.customer_id, _day_start(_when(sale)))].append(sale)
    found = []
    for (customer, day), visits in sorted(days.items(), key=lambda kv: (kv[0][1], str(kv[0][0]))):
        if (customer, day) not in touched:
            continue
        reached = _reached_count(visits, limits)
        if reached is None:
            continue
        stores = {v.store_id for v in visits}
        why = (
            f"The customer's discount was used on {len(visits)} visits on {day.date()}, "
            f"at {len(stores)} store(s)."
        )
        found.append(
            NewFinding(
                rule=FindingRule.FREQUENT_DISCOUNT_USE,
                subject=f"customer:{customer}:{day.date()}",
                severity=FindingSeverity.HIGH if len(stores) > 1 else FindingSeverity.MEDIUM,
                explanation=why,
                sale_id=reached.id,
                customer_id=customer,
                cashier_id=reached.cashier_id,
                store_id=reached.store_id,
                amount=sum((v.discount_total for v in visits), Decimal("0.00")),
                details={
                    "day": day.date().isoformat(),
                    "visits": len(visits),
                    "stores": len(stores),
                    "saleIds": [str(v.id) for v in visits],
                },
            )
        )
    return found


# -- 6. reactivated at the till and discounted, again and again --------------------------


def _reactivated_on(
    sales: Sequence[AuditedSale], events: dict[uuid.UUID, list[CustomerEvent]]
) -> list[AuditedSale]:
    """Discounted sales on which their own cashier reactivated the customer."""
    found = []
    for sale in sales:
        if not sale.discounted or sale.customer_id is None or sale.cashier_id is None:
            continue
        for e in events.get(sale.customer_id, []):
            if (
                e.action == REACTIVATION
                and e.before.get("status") == "INACTIVE"
                and e.after.get("status") == "ACTIVE"
                and e.after.get("saleId") == str(sale.id)
                and e.actor_id == str(sale.cashier_id)
            ):
                found.append(sale)
                break
    return found


async def repeated_reactivation(
    repo: DiscountAuditRepository,
    sales: Sequence[AuditedSale],
    events: dict[uuid.UUID, list[CustomerEvent]],
    limits: AuditThresholds,
) -> list[NewFinding]:
    """A cashier who reactivated inactive customers at the till and sold them at a discount
    ``reactivations`` times within ``reactivation_window``: each of those sales is a finding.

    One reactivation is ordinary (a lapsed customer comes back); the pattern is the repeat,
    so the earlier sales of the run are reported with the one that completed it.
    """
    candidates = _reactivated_on(sales, events)
    by_cashier: dict[uuid.UUID, list[AuditedSale]] = defaultdict(list)
    for sale in candidates:
        assert sale.cashier_id is not None
        by_cashier[sale.cashier_id].append(sale)
    found: dict[uuid.UUID, NewFinding] = {}
    for cashier, new in by_cashier.items():
        first, last = min(_when(s) for s in new), max(_when(s) for s in new)
        theirs = await repo.cashier_sales_completed(
            cashier, first - limits.reactivation_window, last
        )
        customers = sorted({s.customer_id for s in theirs if s.discounted and s.customer_id})
        history = by_customer(await repo.customer_events(customers, (REACTIVATION,), last))
        runs = sorted(_reactivated_on(theirs, history), key=lambda s: (_when(s), s.id))
        for sale in new:
            at = _when(sale)
            run = [s for s in runs if at - limits.reactivation_window <= _when(s) <= at]
            if len(run) < limits.reactivations:
                continue
            days = limits.reactivation_window.days
            for hit in run:
                why = (
                    f"The cashier reactivated an inactive customer at the till and sold at a "
                    f"discount {len(run)} times within {days} days; this is one of them."
                )
                found[hit.id] = _sale_finding(
                    FindingRule.REPEATED_REACTIVATION,
                    FindingSeverity.MEDIUM,
                    hit,
                    why,
                    hit.discount_total,
                    reactivations=len(run),
                    windowDays=days,
                )
    return list(found.values())


# -- 3. cashiers against their store's peers --------------------------------------------


def windows_closed(
    after: datetime, through: datetime, length: timedelta
) -> list[tuple[datetime, datetime]]:
    """The ``length``-long windows (counted from 1970) that ended in (after, through]."""
    end = EPOCH + ((through - EPOCH) // length) * length
    found = []
    while end > after:
        found.append((end - length, end))
        end -= length
    return sorted(found)


@dataclass
class _Tally:
    sales: int = 0
    completed: int = 0
    discounted: int = 0
    price_cuts: int = 0
    voided_discounted: int = 0
    discount_amount: Decimal = Decimal("0.00")
    voided_amount: Decimal = Decimal("0.00")

    def counts(self, metric: CashierMetric) -> tuple[int, int]:
        """(events, out of) for the metric."""
        if metric is CashierMetric.DISCOUNT_RATE:
            return self.discounted, self.completed
        if metric is CashierMetric.PRICE_OVERRIDE_RATE:
            return self.price_cuts, self.sales
        return self.voided_discounted, self.sales

    def rate(self, metric: CashierMetric) -> float:
        events, of = self.counts(metric)
        return events / of if of else 0.0

    def amount(self, metric: CashierMetric) -> Decimal | None:
        if metric is CashierMetric.DISCOUNT_RATE:
            return self.discount_amount
        if metric is CashierMetric.VOID_AFTER_DISCOUNT_RATE:
            return self.voided_amount
        return None


METRIC_WORDS = {
    CashierMetric.DISCOUNT_RATE: "completed sales with a discount",
    CashierMetric.PRICE_OVERRIDE_RATE: "sales with a price cut below list",
    CashierMetric.VOID_AFTER_DISCOUNT_RATE: "sales voided after a discount",
}


def _sampling_noise(metric: CashierMetric, tallies: Sequence[_Tally]) -> list[float]:
    """Each cashier's binomial standard error at the store's pooled rate: what their rate
    would wander by through chance alone, over their own number of sales."""
    counts = [t.counts(metric) for t in tallies]
    events, of = sum(e for e, _ in counts), sum(n for _, n in counts)
    pooled = events / of if of else 0.0
    return [math.sqrt(pooled * (1 - pooled) / n) if n else 0.0 for _, n in counts]


async def cashier_outliers(
    repo: DiscountAuditRepository, after: datetime, through: datetime, limits: AuditThresholds
) -> list[NewFinding]:
    """Per store and closed window: cashiers whose discount, price-cut or void-after-discount
    rate has a robust z-score above ``outlier_z`` against the store's cashiers, and exceeds
    their median by ``outlier_min_gap``.

    Only cashiers with ``outlier_min_sales`` sales in the window count, and a store needs
    ``outlier_min_peers`` of them: rates over a handful of sales are noise.
    """
    found = []
    for start, end in windows_closed(after, through, limits.outlier_window):
        cuts = await repo.sales_with_price_cut(start, end)
        tallies: dict[uuid.UUID, dict[uuid.UUID, _Tally]] = defaultdict(lambda: defaultdict(_Tally))
        for sale in await repo.sales_created(start, end):
            assert sale.cashier_id is not None
            t = tallies[sale.store_id][sale.cashier_id]
            t.sales += 1
            t.price_cuts += sale.id in cuts
            if sale.status == "COMPLETED":
                t.completed += 1
                if sale.discounted:
                    t.discounted += 1
                    t.discount_amount += sale.discount_total
            elif sale.status == "VOIDED" and sale.discounted:
                t.voided_discounted += 1
                t.voided_amount += sale.discount_total
        for store, cashiers in tallies.items():
            peers = sorted(
                ((c, t) for c, t in cashiers.items() if t.sales >= limits.outlier_min_sales),
                key=lambda ct: str(ct[0]),
            )
            if len(peers) < limits.outlier_min_peers:
                continue
            for metric in CashierMetric:
                rates = [t.rate(metric) for _, t in peers]
                middle = median(rates)
                scores = robust_z_scores(rates, _sampling_noise(metric, [t for _, t in peers]))
                for (cashier, tally), rate, z in zip(peers, rates, scores, strict=True):
                    if z <= limits.outlier_z or rate - middle < limits.outlier_min_gap:
                        continue
                    why = (
                        f"{rate:.0%} of this cashier's {METRIC_WORDS[metric]} from {start.date()} "
                        f"to {(end - DAY).date()}, against a median of {middle:.0%} among "
                        f"{len(peers)} cashiers at the store (robust z {z:.1f})."
                    )
                    found.append(
                        NewFinding(
                            rule=FindingRule.CASHIER_OUTLIER,
                            subject=f"cashier:{cashier}:{metric.value}:{start.date()}",
                            severity=FindingSeverity.HIGH
                            if z > 2 * limits.outlier_z
                            else FindingSeverity.MEDIUM,
                            explanation=why,
                            sale_id=None,
                            customer_id=None,
                            cashier_id=cashier,
                            store_id=store,
                            amount=tally.amount(metric),
                            details={
                                "metric": metric.value,
                                "rate": round(rate, 4),
                                "storeMedian": round(middle, 4),
                                "z": round(z, 2),
                                "sales": tally.sales,
                                "peers": len(peers),
                                "windowStart": start.isoformat(),
                                "windowEnd": end.isoformat(),
                            },
                        )
                    )
    return found
