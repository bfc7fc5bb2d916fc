"""Daily demand forecasts, their backtest, safety stock and reorder quantities (issue 11 §5).

Everything here works on a whole batch of series at once: ``history`` is an
``(series, days)`` array of units sold per day, every series on the same calendar (day 0
is the same weekday for all), zeros before a product's first sale. One pass over the
days updates every series and every candidate parameter set together, which is what
makes 5,000 series × 2 years a matter of seconds in numpy (bench/forecast.py).

The models, and why (docs/analytics.md, "Demand prediction"):

* ``seasonal-naive``: the same weekday last week. It is the floor every model must beat,
  and the MASE scale. It is also the answer when a series has under four weeks of sales.
* ``ets-weekday``: additive Holt-Winters with a damped trend and a weekday profile
  (ETS(A,Ad,A)), parameters picked per series from a small grid by one-step squared
  error on the days before the forecast origin. Errors are clipped at a few running
  mean-absolute-errors before they update the state, so that a promotion week or a
  stock-out does not drag the level for weeks afterwards.
* ``tsb-weekday``: Teunter–Syntetos–Babai for intermittent series (most SKUs in a shop sell
  0–3 a day): the probability of a sale and the size of a sale are smoothed
  separately, so the forecast decays while nothing sells (Croston never does), then
  scaled by a weekday index shrunk towards 1.

Each series gets the family whose one-step squared error before the origin is lower, so
the choice is made by measurement, per series, without looking at the days forecast.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from itertools import product

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

SEASON = 7
MIN_HISTORY = 28
"""Below four weeks of sales a weekday profile is noise; seasonal-naive answers instead."""

CLIP_MAES = 3.5
"""How many running mean-absolute-errors an error may move the state (promotions, stock-outs)."""

STOCKOUT_EXPECTED = 4.0
"""A day with no sale where the model expected this many is taken for a stock-out (even
for Poisson demand such a zero has under 2% chance) and skipped: the aggregates do not
say when the shelf was empty, and learning from those zeros would plan the next one."""

EXCESS_RATE = 0.01
"""Smoothing of what the clipping held back. Promotions keep coming but are not
announced to the forecast; their average excess goes back into the mean (not into the
state), so that orders planned from the mean are not short by the promotions' share."""

WEEKDAY_SHRINK_DAYS = 28.0
"""Pseudo-days of 'no weekday effect' mixed into the intermittent weekday index."""

ETS_GRID = tuple(
    (alpha, beta, gamma)
    for alpha, gamma in product((0.03, 0.08, 0.15, 0.3), (0.02, 0.08))
    for beta in (0.0, 0.01)
)
"""(level, trend, weekday) smoothing; small values because daily shop data is noisy."""
DAMPING = 0.9
TSB_GRID = tuple(product((0.05, 0.15, 0.3), (0.02, 0.05, 0.12)))
"""(size, probability) smoothing for TSB."""

METHODS = ("seasonal-naive", "ets-weekday", "tsb-weekday")


@dataclass(frozen=True, slots=True)
class _Fit:
    """Per series, at each origin: the chosen model's forecast and error figures.

    ``mean`` is (origins, series, horizon); ``sigma`` the one-step error standard
    deviation and ``alpha`` the level smoothing of the chosen model (origins, series);
    ``method`` an index into METHODS (origins, series).
    """

    mean: Array
    sigma: Array
    sigma_week: Array
    alpha: Array
    method: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Forecast:
    """The next ``horizon`` days of a batch of series.

    ``low``/``high`` bound a central prediction interval at ``interval``.
    ``sum_sigma[:, h-1]`` is the standard deviation of the error of the forecast summed
    over its first ``h`` days, for safety stock: the larger of what the model implies
    (``cumulative_sigma``) and the root mean square of that error measured at the
    weekly origins before the end, because the model's own figure is measured in-sample
    on the parameters it chose and is too kind.
    """

    method: list[str]
    mean: Array
    low: Array
    high: Array
    sum_sigma: Array
    interval: float


@dataclass(frozen=True, slots=True)
class Backtest:
    """Rolling-origin MASE per series; NaN where a series never varied (no scale)."""

    mase: Array
    seasonal_naive_mase: Array
    coverage: float
    """Share of actual days inside the prediction interval, over every series and origin."""


def normal_quantile(p: float) -> float:
    """The standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be between 0 and 1")
    a = (-39.69683028665376, 220.9460984245205, -275.9285104469687,
         138.3577518672690, -30.66479806614716, 2.506628277459239)  # fmt: skip
    b = (-54.47609879822406, 161.5858368580409, -155.6989798598866,
         66.80131188771972, -13.28068155211763)  # fmt: skip
    c = (-0.007784894002430293, -0.3223964580411365, -2.400758277161838,
         -2.549732539343734, 4.374664141464968, 2.938163982698783)  # fmt: skip
    d = (0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416)
    low = 0.02425
    if p < low:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    if p > 1 - low:
        return -normal_quantile(1 - p)
    q = p - 0.5
    r = q * q
    return (
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    )


def _starts(y: Array) -> npt.NDArray[np.int64]:
    """The first day each series sold anything (its length if never)."""
    sold = y > 0
    first: npt.NDArray[np.int64] = sold.argmax(axis=1).astype(np.int64)
    first[~sold.any(axis=1)] = y.shape[1]
    return first


def _seasonal_naive(y: Array, origin: int, horizon: int) -> Array:
    steps = np.arange(horizon) % SEASON
    return y[:, origin - SEASON + steps]


def _init_window(y: Array, start: npt.NDArray[np.int64]) -> tuple[Array, Array]:
    """Level and weekday offsets from each series' first two weeks of sales."""
    n, t = y.shape
    idx = np.minimum(start[:, None] + np.arange(2 * SEASON)[None, :], t - 1)
    window = np.take_along_axis(y, idx, axis=1)
    level = window.mean(axis=1)
    weekday = idx % SEASON
    offsets = np.zeros((n, SEASON))
    for k in range(2 * SEASON):
        offsets[np.arange(n), weekday[:, k]] += (window[:, k] - level) / 2
    return level, offsets


def _run(y: Array, origins: list[int], horizon: int) -> _Fit:
    """One pass over the days for both families and every grid point.

    At each origin, each series takes the grid point (of either family) with the lowest
    one-step squared error so far, and forecasts ``horizon`` days from its state then.
    """
    n, t = y.shape
    start = _starts(y)
    ets = np.array(ETS_GRID)
    tsb = np.array(TSB_GRID)
    ge, gt = len(ets), len(tsb)
    a_e, b_e, g_e = (ets[:, i][:, None] for i in range(3))
    a_t, b_t = (tsb[:, i][:, None] for i in range(2))

    level0, offsets0 = _init_window(y, start)
    level = np.repeat(level0[None, :], ge, axis=0)
    trend = np.zeros((ge, n))
    season = np.repeat(offsets0[None, :, :], ge, axis=0)
    mae_e = np.full((ge, n), 1.0) + level * 0.5
    excess_e = np.zeros((ge, n))

    nz = y > 0
    first_size = np.where(start < t, y[np.arange(n), np.minimum(start, t - 1)], 1.0)
    size = np.repeat(first_size[None, :], gt, axis=0)
    prob = np.full((gt, n), 0.5)
    mae_t = np.repeat(first_size[None, :], gt, axis=0)
    excess_t = np.zeros((gt, n))
    wd_sum = np.zeros((n, SEASON))
    wd_count = np.zeros((n, SEASON))

    sse_e = np.zeros((ge, n))
    sse_t = np.zeros((gt, n))
    # Errors summed over the last 7 days, and the sum of their squares: promotions and
    # stock-outs make errors run together for days, which one-step errors cannot show.
    ring_e = np.zeros((SEASON, ge, n))
    ring_t = np.zeros((SEASON, gt, n))
    run_e = np.zeros((ge, n))
    run_t = np.zeros((gt, n))
    ssw_e = np.zeros((ge, n))
    ssw_t = np.zeros((gt, n))
    counted_w = np.zeros(n)
    counted = np.zeros(n)

    origin_set = {o: i for i, o in enumerate(origins)}
    k = len(origins)
    mean = np.zeros((k, n, horizon))
    sigma = np.zeros((k, n))
    sigma_week = np.zeros((k, n))
    alpha = np.zeros((k, n))
    method = np.zeros((k, n), dtype=np.int64)
    steps = np.arange(1, horizon + 1)
    damp = np.cumsum(DAMPING**steps)
    cols = np.arange(n)

    for day in range(t + 1):
        if day in origin_set:
            i = origin_set[day]
            be = sse_e.argmin(axis=0)
            bt = sse_t.argmin(axis=0)
            use_tsb = sse_t[bt, cols] < sse_e[be, cols]
            wd_future = (day + steps - 1) % SEASON
            ets_mean = (
                level[be, cols][:, None]
                + trend[be, cols][:, None] * damp[None, :]
                + season[be, cols][:, wd_future]
                + excess_e[be, cols][:, None]
            )
            overall = wd_sum.sum(axis=1) / np.maximum(wd_count.sum(axis=1), 1)
            index = (wd_sum + WEEKDAY_SHRINK_DAYS / SEASON * overall[:, None]) / (
                (wd_count + WEEKDAY_SHRINK_DAYS / SEASON) * np.maximum(overall[:, None], 1e-9)
            )
            tsb_mean = (prob[bt, cols] * (size[bt, cols] + excess_t[bt, cols]))[:, None] * index[
                :, wd_future
            ]
            chosen = np.where(use_tsb[:, None], tsb_mean, ets_mean)
            sse = np.where(use_tsb, sse_t[bt, cols], sse_e[be, cols])
            sig = np.sqrt(sse / np.maximum(counted, 1))
            alp = np.where(use_tsb, tsb[bt, 0] * 0.5, ets[be, 0])
            short = (day - start) < MIN_HISTORY
            naive = _seasonal_naive(y, day, horizon) if day >= SEASON else np.zeros((n, horizon))
            mean[i] = np.where(short[:, None], naive, np.maximum(chosen, 0.0))
            # For seasonal-naive the error is last week's change, day to day.
            naive_sig = np.sqrt(
                np.mean(np.diff(y[:, max(day - 2 * SEASON, 0) : day], axis=1) ** 2, axis=1)
                if day >= 2
                else np.zeros(n)
            )
            sigma[i] = np.where(short, naive_sig, sig)
            ssw = np.where(use_tsb, ssw_t[bt, cols], ssw_e[be, cols])
            sigma_week[i] = np.where(
                short, naive_sig * math.sqrt(SEASON), np.sqrt(ssw / np.maximum(counted_w, 1))
            )
            alpha[i] = np.where(short, 1.0, alp)
            method[i] = np.where(short, 0, np.where(use_tsb, 2, 1))
        if day == t:
            break

        obs = y[:, day]
        live = day >= start
        wd = day % SEASON
        scored = (day >= start + SEASON).astype(np.float64)
        counted += scored

        # ETS(A,Ad,A) in error-correction form, errors clipped for the state update only.
        s_now = season[:, :, wd]
        expected = level + DAMPING * trend + s_now
        zero = obs[None, :] == 0
        out = zero & (expected >= STOCKOUT_EXPECTED)
        err = np.where(out, 0.0, obs[None, :] - expected)
        sse_e += err * err * scored[None, :]
        slot = day % SEASON
        run_e += err * scored[None, :] - ring_e[slot]
        ring_e[slot] = err * scored[None, :]
        weekly = (day >= start + 2 * SEASON).astype(np.float64)
        counted_w += weekly
        ssw_e += run_e * run_e * weekly[None, :]
        bound = CLIP_MAES * mae_e
        clipped = np.clip(err, -bound, bound)
        live_f = live[None, :] & ~out
        new_level = level + DAMPING * trend + a_e * clipped
        trend = np.where(live_f, DAMPING * trend + b_e * clipped, trend)
        season[:, :, wd] = np.where(live_f, s_now + g_e * clipped, s_now)
        level = np.where(live_f, new_level, level)
        mae_e = np.where(live_f, 0.97 * mae_e + 0.03 * np.abs(clipped), mae_e)
        excess_e = np.where(live_f, excess_e + EXCESS_RATE * (err - clipped - excess_e), excess_e)

        # TSB, scaled by the weekday index as it stood before this day.
        overall = wd_sum.sum(axis=1) / np.maximum(wd_count.sum(axis=1), 1)
        idx_now = (wd_sum[:, wd] + WEEKDAY_SHRINK_DAYS / SEASON * overall) / (
            (wd_count[:, wd] + WEEKDAY_SHRINK_DAYS / SEASON) * np.maximum(overall, 1e-9)
        )
        expected_t = prob * size * idx_now[None, :]
        out_t = zero & (expected_t >= STOCKOUT_EXPECTED)
        err_t = np.where(out_t, 0.0, obs[None, :] - expected_t)
        sse_t += err_t * err_t * scored[None, :]
        run_t += err_t * scored[None, :] - ring_t[slot]
        ring_t[slot] = err_t * scored[None, :]
        ssw_t += run_t * run_t * weekly[None, :]
        live_f = live[None, :] & ~out_t
        sold = nz[:, day][None, :] & live_f
        bound_t = CLIP_MAES * np.maximum(mae_t, 0.5)
        size_obs = np.minimum(obs[None, :], size + bound_t)
        excess_t = np.where(
            sold, excess_t + EXCESS_RATE * (obs[None, :] - size_obs - excess_t), excess_t
        )
        size = np.where(sold, size + a_t * (size_obs - size), size)
        mae_t = np.where(sold, 0.95 * mae_t + 0.05 * np.abs(obs[None, :] - size), mae_t)
        prob = np.where(live_f, prob + b_t * (sold - prob), prob)
        counts = live & ~(zero[0] & (overall * idx_now >= STOCKOUT_EXPECTED))
        wd_sum[:, wd] += np.where(counts, obs, 0.0)
        wd_count[:, wd] += counts

    return _Fit(mean=mean, sigma=sigma, sigma_week=sigma_week, alpha=alpha, method=method)


def _interval(mean: Array, sigma: Array, alpha: Array, interval: float) -> tuple[Array, Array]:
    """Normal bounds widening with the horizon as a level error would: σ²(1 + (h-1)α²)."""
    horizon = mean.shape[-1]
    z = normal_quantile(0.5 + interval / 2)
    h = np.arange(horizon)
    spread = z * sigma[..., None] * np.sqrt(1 + h * alpha[..., None] ** 2)
    return np.maximum(mean - spread, 0.0), mean + spread


def forecast(
    history: Array, horizon: int = 14, interval: float = 0.95, error_origins: int = 26
) -> Forecast:
    """Forecast each series ``horizon`` days past the end of ``history``.

    The same pass also forecasts from ``error_origins`` weekly origins before the end;
    their errors, summed over 1..horizon days, are the measured part of ``sum_sigma``.
    """
    y = np.asarray(history, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] < SEASON:
        raise ValueError("history must be (series, days) with at least a week of days")
    t = y.shape[1]
    past = [o for o in (t - horizon - SEASON * k for k in range(error_origins)) if o > 0]
    past.sort()
    fit = _run(y, [*past, t], horizon)
    last = len(past)
    mean, sigma, alpha = fit.mean[last], fit.sigma[last], fit.alpha[last]
    low, high = _interval(mean, sigma, alpha, interval)
    days = np.arange(1, horizon + 1)
    model = np.stack(
        [
            cumulative_sigma(sigma, fit.sigma_week[last], alpha, np.full(len(sigma), h))
            for h in days
        ],
        axis=1,
    )
    if past:
        errors = np.stack(
            [np.cumsum(y[:, o : o + horizon] - fit.mean[i], axis=1) for i, o in enumerate(past)]
        )
        measured = np.sqrt((errors**2).mean(axis=0))
        sum_sigma = np.maximum(model, measured)
    else:
        sum_sigma = model
    return Forecast(
        method=[METHODS[m] for m in fit.method[last]],
        mean=mean,
        low=low,
        high=high,
        sum_sigma=sum_sigma,
        interval=interval,
    )


def backtest(
    history: Array,
    horizon: int = 14,
    origins: int = 4,
    step: int = SEASON,
    interval: float = 0.95,
) -> Backtest:
    """Rolling-origin evaluation over the last ``origins`` windows, ``step`` days apart.

    Each origin forecasts from the days before it only (parameters included) and is
    scored on the ``horizon`` days after it. MASE divides the mean absolute error by the
    in-sample mean absolute seasonal (weekly) difference before the origin, so the
    seasonal-naive forecast scores about 1 and lower is better.
    """
    y = np.asarray(history, dtype=np.float64)
    n, t = y.shape
    last = t - horizon
    points = [last - step * i for i in range(origins - 1, -1, -1)]
    if points[0] < 2 * SEASON:
        raise ValueError("history too short for this backtest")
    fit = _run(y, points, horizon)
    start = _starts(y)
    diffs = np.abs(y[:, SEASON:] - y[:, :-SEASON])
    valid = np.arange(SEASON, t)[None, :] >= (start[:, None] + SEASON)
    diffs = np.where(valid, diffs, 0.0)
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(diffs, axis=1)], axis=1)
    cum_n = np.concatenate([np.zeros((n, 1)), np.cumsum(valid, axis=1)], axis=1)
    model_err = np.zeros((len(points), n))
    naive_err = np.zeros((len(points), n))
    inside = 0.0
    total = 0
    for i, o in enumerate(points):
        actual = y[:, o : o + horizon]
        scale_n = cum_n[:, o - SEASON]
        scale = cum[:, o - SEASON] / np.maximum(scale_n, 1)
        scale = np.where(scale > 0, scale, np.nan)
        model_err[i] = np.abs(actual - fit.mean[i]).mean(axis=1) / scale
        naive_err[i] = np.abs(actual - _seasonal_naive(y, o, horizon)).mean(axis=1) / scale
        low, high = _interval(fit.mean[i], fit.sigma[i], fit.alpha[i], interval)
        live = (start < o)[:, None]
        inside += float((((actual >= low) & (actual <= high)) & live).sum())
        total += int(live.sum()) * horizon
    with warnings.catch_warnings():
        # A series that never varied has no MASE at any origin: NaN, not a warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        return Backtest(
            mase=np.nanmean(model_err, axis=0) if len(points) else model_err[0],
            seasonal_naive_mase=np.nanmean(naive_err, axis=0),
            coverage=inside / max(total, 1),
        )


def cumulative_sigma(sigma: Array, sigma_week: Array, alpha: Array, days: Array) -> Array:
    """Standard deviation of the error of a forecast summed over ``days`` days.

    Two things make it more than σ√H. A level error persists across the days summed: with
    one-step error σ and level smoothing α the summed error has variance
    σ² Σ_{j<H} (1 + jα)². And errors run together (a promotion, a stock-out): the
    measured error of 7-day sums, scaled to H days, shows that. The larger one counts.
    """
    days = np.asarray(days, dtype=np.int64)
    top = int(days.max()) if days.size else 0
    j = np.arange(max(top, 1))
    terms = (1 + j[None, :] * np.asarray(alpha)[:, None]) ** 2
    terms = np.where(j[None, :] < days[:, None], terms, 0.0)
    level = np.asarray(sigma) * np.sqrt(terms.sum(axis=1))
    runs = np.asarray(sigma_week) * np.sqrt(days / SEASON)
    out: Array = np.maximum(level, runs)
    return out


@dataclass(frozen=True, slots=True)
class Reorder:
    """Per series: demand forecast over lead time + review period, safety stock, order."""

    forecast_demand: Array
    safety_stock: Array
    suggested: npt.NDArray[np.int64]


_Z_GRID = np.linspace(-2.0, 4.5, 1301)
_LOSS = np.array(
    [
        math.exp(-z * z / 2) / math.sqrt(2 * math.pi) - z * 0.5 * math.erfc(z / math.sqrt(2))
        for z in _Z_GRID
    ]
)
"""The standard normal loss function G(z) = E[(X − z)⁺], decreasing in z."""


def fill_rate_z(service_level: float, demand_per_review: Array, error_sigma: Array) -> float:
    """The safety factor z, one for the whole batch, with Σσ·G(z) = (1 − service level) ×
    Σ demand per review period: the batch's expected units short are that share of its
    units wanted.

    The service level is a fill rate, the share of units wanted that are on the shelf.
    One z for every series is the least stock that reaches it for the batch: a unit of
    safety stock saves P(demand > stock) = 1 − Φ(z) units short, so while series differ
    in z, stock moved to the lower z saves more shortage than it costs where it leaves.
    Solving the fill rate per series instead gives slow movers, whose error is large
    against their demand, a higher z than fast movers: more stock for the same fill
    (issue 11 §5, docs/analytics.md). A fixed z from a
    cycle service level (no stock-out in 95% of weeks) would overstock everything.
    Clamped to [0, 4.5]: never below the mean forecast, never beyond what a shop stocks.
    """
    if not 0.0 < service_level < 1.0:
        raise ValueError("service level must be between 0 and 1")
    sigma = float(np.maximum(np.asarray(error_sigma, dtype=np.float64), 0.0).sum())
    wanted = float(np.asarray(demand_per_review, dtype=np.float64).sum())
    target = (1 - service_level) * wanted / max(sigma, 1e-9)
    z = float(np.interp(-target, -_LOSS, _Z_GRID))
    return min(max(z, 0.0), 4.5)


def reorder(
    daily_mean: Array,
    sum_sigma: Array,
    on_hand: Array,
    lead_time_days: npt.NDArray[np.int64] | Array,
    review_days: int,
    service_level: float,
    min_stock: Array | None = None,
    on_order: Array | None = None,
) -> Reorder:
    """An order-up-to policy over the protection period (lead time + review period).

    The order brings stock on hand plus on order up to the demand forecast over the
    protection period plus safety stock, z × the error of that summed forecast
    (``sum_sigma``, see ``Forecast``), with one z for the batch set so that its expected
    units short per review period are (1 − service level) of the demand in it: the
    service level is a fill rate, the share of units wanted that are on the shelf, which
    is what a shop feels (see ``fill_rate_z``). ``min_stock`` is a floor under the
    safety stock: the shelf never plans to go below it. ``daily_mean`` and ``sum_sigma``
    need at least max(lead time) + review days of columns.
    """
    lead = np.asarray(lead_time_days, dtype=np.int64)
    protect = lead + review_days
    if daily_mean.shape[1] < int(protect.max(initial=0)):
        raise ValueError("forecast shorter than lead time plus review period")
    mask = np.arange(daily_mean.shape[1])[None, :] < protect[:, None]
    demand = (daily_mean * mask).sum(axis=1)
    # The days this order serves: after it arrives, until the next one does.
    served = (np.arange(daily_mean.shape[1])[None, :] >= lead[:, None]) & mask
    per_review = (daily_mean * served).sum(axis=1)
    error = np.take_along_axis(np.asarray(sum_sigma), (protect - 1)[:, None], axis=1)[:, 0]
    safety = fill_rate_z(service_level, per_review, error) * error
    if min_stock is not None:
        safety = np.maximum(safety, np.asarray(min_stock, dtype=np.float64))
    position = np.asarray(on_hand, dtype=np.float64)
    if on_order is not None:
        position = position + on_order
    need = np.ceil(demand + safety - position - 1e-9)
    return Reorder(
        forecast_demand=demand,
        safety_stock=safety,
        suggested=np.maximum(need, 0).astype(np.int64),
    )
