"""A synthetic shop, and weeks of ordering simulated on it (issue 11 §5 quality target).

The shop is generated from a fixed seed so that the quality test and bench/forecast.py
see the same data every run. It has what makes shop demand hard: a weekly profile,
trend, a yearly wave, promotions (unannounced to the forecast), intermittent SKUs selling
0–3 a day, overdispersed counts, products launched part-way, and stock-outs that censor
the sales history (nothing sold although people asked).

The ordering simulation compares two policies on the same future demand, both reviewing
weekly with each SKU's lead time and losing the sales they cannot serve:

* ``suggested``: order up to the forecast over lead time + review period plus safety
  stock (``app.domain.forecasting.reorder``), the forecast refitted at each review on
  the sales seen so far;
* ``two_weeks``: order up to 2 weeks of last month's average daily sales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.domain import forecasting

Array = npt.NDArray[np.float64]

WEEKLY = np.array([0.85, 0.9, 0.95, 1.0, 1.15, 1.4, 0.75])


@dataclass(frozen=True, slots=True)
class Shop:
    """``demand`` is what customers wanted each day (series, days); ``sales`` what the
    history shows (stock-outs censor it); ``lead_time_days`` per series."""

    demand: Array
    sales: Array
    lead_time_days: npt.NDArray[np.int64]
    intermittent: npt.NDArray[np.bool_]


def generate_shop(series: int, days: int, seed: int = 11, intermittent_share: float = 0.5) -> Shop:
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    intermittent = rng.random(series) < intermittent_share
    base = np.where(
        intermittent,
        rng.uniform(0.1, 1.2, series),
        np.exp(rng.uniform(np.log(2), np.log(30), series)),
    )
    profile = WEEKLY[None, :] * rng.uniform(0.85, 1.15, (series, 7))
    profile = 1 + (profile / profile.mean(axis=1, keepdims=True) - 1) * rng.uniform(
        0.3, 1.5, (series, 1)
    )
    weekly = profile[:, t % 7]
    growth = rng.uniform(-0.35, 0.5, (series, 1))
    trend = np.exp(growth * t[None, :] / 365)
    wave = 1 + rng.uniform(0, 0.25, (series, 1)) * np.sin(
        2 * np.pi * t[None, :] / 365 + rng.uniform(0, 2 * np.pi, (series, 1))
    )
    promo = np.ones((series, days))
    for s in range(series):
        for _ in range(rng.poisson(6 * days / 365)):
            start = rng.integers(0, days)
            promo[s, start : start + rng.integers(3, 8)] = rng.uniform(1.5, 3.0)
    rate = base[:, None] * weekly * trend * wave * promo
    # Gamma-Poisson (negative binomial, shape 5): shop counts vary more than Poisson.
    demand = rng.poisson(rate * rng.gamma(5.0, 1 / 5.0, rate.shape)).astype(np.float64)
    launched = rng.random(series) < 0.1
    launch_day = np.where(launched, rng.integers(days // 5, days // 2, series), 0)
    demand[t[None, :] < launch_day[:, None]] = 0.0
    sales = demand.copy()
    for s in range(series):
        for _ in range(rng.poisson(4 * days / 365)):
            start = rng.integers(0, days)
            sales[s, start : start + rng.integers(2, 7)] = 0.0
    lead = rng.integers(1, 6, series).astype(np.int64)
    return Shop(demand=demand, sales=sales, lead_time_days=lead, intermittent=intermittent)


@dataclass(frozen=True, slots=True)
class PolicyResult:
    fill_rate: float
    """Units sold / units demanded over the simulated days, whole shop."""
    average_stock: float
    """Units on hand at the end of the day, summed over the shop, averaged over the days."""


def simulate_ordering(
    history: Array,
    future_demand: Array,
    lead_time_days: npt.NDArray[np.int64],
    policy: str,
    review_days: int = 7,
    service_level: float = 0.95,
) -> PolicyResult:
    """Run ``policy`` over ``future_demand`` (series, days), reviewing every ``review_days``.

    Both policies start from the same stock, two weeks of last month's average (what the
    shop already had), and nothing on order.
    """
    n, horizon = future_demand.shape
    seen = history.copy()
    on_hand = np.ceil(14 * seen[:, -28:].mean(axis=1))
    arrivals = np.zeros((n, horizon + int(lead_time_days.max()) + 1))
    rows = np.arange(n)
    sold_total = 0.0
    stock_total = 0.0
    for day in range(horizon):
        on_hand += arrivals[:, day]
        if day % review_days == 0:
            on_order = arrivals[:, day + 1 :].sum(axis=1)
            if policy == "suggested":
                fc = forecasting.forecast(seen, horizon=int(lead_time_days.max()) + review_days)
                plan = forecasting.reorder(
                    fc.mean,
                    fc.sum_sigma,
                    on_hand,
                    lead_time_days,
                    review_days,
                    service_level,
                    on_order=on_order,
                )
                order = plan.suggested.astype(np.float64)
            elif policy == "two_weeks":
                target = 14 * seen[:, -28:].mean(axis=1)
                order = np.maximum(np.ceil(target - on_hand - on_order), 0.0)
            else:
                raise ValueError(f"unknown policy {policy!r}")
            arrivals[rows, day + lead_time_days] += order
        sold = np.minimum(future_demand[:, day], on_hand)
        on_hand -= sold
        sold_total += float(sold.sum())
        stock_total += float(on_hand.sum())
        seen = np.concatenate([seen, sold[:, None]], axis=1)
    wanted = float(future_demand.sum())
    return PolicyResult(
        fill_rate=sold_total / wanted if wanted else 1.0,
        average_stock=stock_total / horizon,
    )
