"""Demand forecasts: speed on 5,000 series × 2 years, accuracy against the statsforecast anchor.

    .venv/bin/python bench/forecast.py [--series 5000 --days 730 --anchor-series 200]
        [--simulate-seeds 0,1,2,3,4,5,6,7,8,9,11]

Prints, for the numpy service model (app/domain/forecasting.py), the time to forecast
and to backtest every series and the rolling-origin MASE against seasonal-naive; the
8-week ordering simulation on each seed asked for (fill rate and average stock against
"order up to 2 weeks of last month's average"); and, on a subset, Nixtla
statsforecast's AutoETS, TSB and CrostonOptimized on the same origins with their import
and first-fit times. The anchor lives in the ``bench`` dependency group
(``uv sync --group bench``); without it that part is skipped. Both sides use the same
data from the fixed-seed synthetic shop.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from app.domain import forecasting
from app.domain.forecast_simulation import generate_shop, simulate_ordering

HORIZON = 14
ORIGINS = 4


def mase_of(y: np.ndarray, forecasts: dict[int, np.ndarray]) -> np.ndarray:
    """Rolling-origin MASE with the same scale as forecasting.backtest."""
    scores = []
    for origin, predicted in forecasts.items():
        train = y[:, :origin]
        diffs = np.abs(train[:, 7:] - train[:, :-7])
        started = np.cumsum(train > 0, axis=1)[:, 7:] > 0
        scale = np.where(started, diffs, 0).sum(axis=1) / np.maximum(started.sum(axis=1), 1)
        scale = np.where(scale > 0, scale, np.nan)
        actual = y[:, origin : origin + HORIZON]
        scores.append(np.abs(actual - predicted).mean(axis=1) / scale)
    return np.nanmean(np.stack(scores), axis=0)


def anchor(y: np.ndarray, origins: list[int]) -> None:
    try:
        began = time.perf_counter()
        import pandas as pd
        from statsforecast import StatsForecast
        from statsforecast.models import TSB, AutoETS, CrostonOptimized, SeasonalNaive
    except ImportError:
        print("statsforecast not installed (uv sync --group bench): anchor skipped")
        return
    imported = time.perf_counter() - began
    n, _ = y.shape
    models = {
        "AutoETS": AutoETS(season_length=7),
        "TSB": TSB(alpha_d=0.1, alpha_p=0.1),
        "CrostonOptimized": CrostonOptimized(),
        "SeasonalNaive": SeasonalNaive(season_length=7),
    }
    predicted: dict[str, dict[int, np.ndarray]] = {name: {} for name in models}
    timings: dict[str, float] = {}
    first_fit = None
    for name, model in models.items():
        began = time.perf_counter()
        for origin in origins:
            frames = pd.DataFrame(
                {
                    "unique_id": np.repeat(np.arange(n), origin),
                    "ds": np.tile(pd.date_range("2024-01-01", periods=origin), n),
                    "y": y[:, :origin].ravel(),
                }
            )
            sf = StatsForecast(models=[model], freq="D", n_jobs=1)
            out = sf.forecast(df=frames, h=HORIZON)
            if first_fit is None:
                first_fit = time.perf_counter() - began
            column = next(c for c in out.columns if c not in ("unique_id", "ds"))
            predicted[name][origin] = (
                out.sort_values(["unique_id", "ds"])[column].to_numpy().reshape(n, HORIZON)
            )
        timings[name] = time.perf_counter() - began
    print(f"statsforecast import {imported:.1f} s, first fit (numba compile) {first_fit:.1f} s")
    for name in models:
        score = np.nanmean(mase_of(y, predicted[name]))
        print(
            f"  {name:<18} MASE {score:.3f}   {timings[name]:7.1f} s"
            f" for {n} series × {len(origins)} origins"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=5000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--anchor-series", type=int, default=200)
    parser.add_argument("--simulate-series", type=int, default=500)
    parser.add_argument(
        "--simulate-seeds", default="11", help="comma-separated shop seeds, e.g. 0,1,2,11"
    )
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}")

    began = time.perf_counter()
    shop = generate_shop(args.series, args.days + 56, seed=11)
    history = shop.sales[:, : args.days]
    print(
        f"synthetic shop: {args.series} series × {args.days} days"
        f" in {time.perf_counter() - began:.1f} s"
    )

    began = time.perf_counter()
    result = forecasting.forecast(history, horizon=HORIZON)
    forecast_s = time.perf_counter() - began
    began = time.perf_counter()
    tested = forecasting.backtest(history, horizon=HORIZON, origins=ORIGINS)
    backtest_s = time.perf_counter() - began
    model, naive = float(np.nanmean(tested.mase)), float(np.nanmean(tested.seasonal_naive_mase))
    methods = {m: result.method.count(m) for m in forecasting.METHODS}
    print(
        f"numpy model: forecast {forecast_s:.1f} s + backtest {backtest_s:.1f} s"
        f" = {forecast_s + backtest_s:.1f} s for {args.series} series (target ≤ 60 s)"
    )
    print(f"  methods chosen: {methods}")
    print(
        f"  backtest MASE {model:.3f} vs seasonal-naive {naive:.3f}"
        f" (ratio {model / naive:.3f}, target ≤ 0.9); 95% interval coverage {tested.coverage:.3f}"
    )
    for label, mask in (("intermittent", shop.intermittent), ("regular", ~shop.intermittent)):
        print(
            f"  {label:<12} MASE {np.nanmean(tested.mase[mask]):.3f}"
            f" vs seasonal-naive {np.nanmean(tested.seasonal_naive_mase[mask]):.3f}"
        )

    k = args.simulate_series
    for seed in (int(s) for s in args.simulate_seeds.split(",")):
        sim = generate_shop(k, args.days + 56, seed=seed)
        for policy in ("suggested", "two_weeks"):
            began = time.perf_counter()
            outcome = simulate_ordering(
                sim.sales[:, : args.days], sim.demand[:, args.days :], sim.lead_time_days, policy
            )
            print(
                f"8 weeks ordering, seed {seed}, {k} series, {policy:<9}:"
                f" fill rate {outcome.fill_rate:.4f},"
                f" average stock {outcome.average_stock:.0f} units"
                f" ({time.perf_counter() - began:.1f} s)"
            )

    if args.anchor_series:
        sub = history[: args.anchor_series]
        origins = [args.days - HORIZON - 7 * i for i in range(ORIGINS - 1, -1, -1)]
        began = time.perf_counter()
        ours = forecasting.backtest(sub, horizon=HORIZON, origins=ORIGINS)
        print(
            f"subset of {len(sub)} series: numpy model MASE {np.nanmean(ours.mase):.3f}"
            f" in {time.perf_counter() - began:.2f} s,"
            f" seasonal-naive {np.nanmean(ours.seasonal_naive_mase):.3f}"
        )
        anchor(sub, origins)


if __name__ == "__main__":
    main()
