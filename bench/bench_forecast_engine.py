"""Benchmark of the forecast engine at scale: prints timings, accuracy and memory (no assertions).

    python bench/bench_forecast_engine.py [--open 100000] [--reference-trials 200000] [--workers 2]

1. Generates a synthetic history (``tests/engine/synthetic.py``) and keeps exactly
   ``--open`` open opportunities, plus every closed one as history.
2. Times the full ``engine.forecast.forecast`` (12 monthly periods, method "auto",
   statistics and calibration included): first call and best of three.
3. Measures its peak memory with ``tracemalloc`` (numpy reports its buffers to it).
4. Compares its P10 / P50 / P90 with a Monte Carlo reference of ``--reference-trials``
   trials of the same model (``engine.forecast_distribution.simulate``, split over
   ``--workers`` processes with independent seeds).
5. Times a straightforward per-opportunity Python loop (``random()`` for the win, then
   the conditional slip drawn from the sorted history with ``bisect``, as the engine's
   model) on a subset and extrapolates it linearly to all opportunities x 10,000 trials.
"""

import argparse
import bisect
import os
import random
import sys
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests" / "engine"))  # the tests' synthetic histories

from engine.forecast import forecast, open_pipeline_weights, parse_options
from engine.forecast_data import OPEN, prepare_opportunities
from engine.forecast_distribution import QUANTILES, simulate
from engine.forecast_periods import day_number, period_boundaries, periods_between

from synthetic import synthetic_history

AS_OF = date(2025, 6, 15)
OPTIONS = {"as_of": AS_OF, "date_from": "2025-06-01", "date_to": "2026-05-31", "granularity": "month"}
LOOP_TRIALS = 10_000


def build_data(open_count: int, seed: int = 1):
    """Synthetic opportunities with exactly ``open_count`` open ones, and their stage history."""
    opportunities, history = synthetic_history(
        int(open_count * 2.1), AS_OF, days=365, horizon_days=(0, 330), slip_days=(-20, 60), seed=seed
    )
    is_open = opportunities["won"].isna().to_numpy()
    keep = ~is_open | (np.cumsum(is_open) <= open_count)
    opportunities = opportunities[keep].reset_index(drop=True)
    history = history[history["lead_id"].isin(opportunities["id"])].reset_index(drop=True)
    return opportunities, history


def model_inputs(opportunities):
    """Open pipeline, amounts, weights (n x P) and slips, exactly as ``forecast`` builds them."""
    frame = prepare_opportunities(opportunities)
    settings = parse_options(OPTIONS)
    periods = periods_between(settings.date_from, settings.date_to, settings.granularity)
    amounts, weights, slips = open_pipeline_weights(frame, settings, periods)
    return frame[frame["status"] == OPEN], amounts, weights, slips, period_boundaries(periods)


def _simulate_part(arguments):
    amounts, weights, trials, seed = arguments
    return simulate(amounts, weights, trials, seed)


def reference_quantiles(amounts, weights, trials: int, workers: int, seed: int = 2024) -> np.ndarray:
    """Monte Carlo quantiles (len(QUANTILES) x P) from ``trials`` trials over ``workers`` processes."""
    seeds = [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(workers)]
    parts = [trials // workers + (index < trials % workers) for index in range(workers)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        samples = np.vstack(
            list(pool.map(_simulate_part, [(amounts, weights, n, s) for n, s in zip(parts, seeds, strict=True)]))
        )
    return np.quantile(samples, QUANTILES, axis=0, method="inverted_cdf")


def python_loop(amounts, probabilities, expected, slips, boundaries, as_of, trials, seed=0):
    """The straightforward way: for every trial, for every opportunity, draw win and close date."""
    rng = random.Random(seed)
    slips = slips.tolist()
    bounds = boundaries.tolist()
    periods = len(bounds) - 1
    totals = [[0.0] * periods for _ in range(trials)]
    for trial in range(trials):
        row = totals[trial]
        for amount, probability, day in zip(amounts, probabilities, expected, strict=True):
            if rng.random() >= probability / 100.0:
                continue
            first = bisect.bisect_left(slips, as_of - day)  # slips closing on or after the as-of date
            if first < len(slips):
                close = day + slips[first + int(rng.random() * (len(slips) - first))]
            else:
                close = max(day, as_of)
            k = bisect.bisect_right(bounds, close) - 1
            if 0 <= k < periods:
                row[k] += amount
    return totals


def time_python_loop(pipeline, slips, boundaries, as_of, subset: int, trials: int) -> float:
    """Seconds per (opportunity x trial) of ``python_loop``, measured on ``subset`` opportunities."""
    rows = pipeline.iloc[:subset]
    expected = np.where(np.isnan(rows["expected"]), as_of, rows["expected"]).astype(int).tolist()
    started = time.perf_counter()
    python_loop(rows["amount"].tolist(), rows["probability"].tolist(), expected, slips, boundaries, as_of, trials)
    return (time.perf_counter() - started) / (subset * trials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open", type=int, default=100_000, help="open opportunities")
    parser.add_argument("--reference-trials", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--loop-subset", type=int, default=1_000, help="opportunities timed in the Python loop")
    parser.add_argument("--loop-trials", type=int, default=50, help="trials timed in the Python loop")
    arguments = parser.parse_args()

    started = time.perf_counter()
    opportunities, history = build_data(arguments.open)
    open_count = int(opportunities["won"].isna().sum())
    print(f"data: {open_count:,} open + {len(opportunities) - open_count:,} closed opportunities, "
          f"{len(history):,} stage changes (generated in {time.perf_counter() - started:.2f} s)")  # fmt: skip

    timings = []
    for _ in range(3):
        started = time.perf_counter()
        result = forecast(opportunities, history, OPTIONS)
        timings.append(time.perf_counter() - started)
    print(f"full forecast, 12 monthly periods, method auto -> {result['method']}: "
          f"first {timings[0]:.3f} s, best of 3 {min(timings):.3f} s (target < 1 s)")  # fmt: skip
    print(f"  stated error bound: cdf {result['accuracy']['cdf_error']:.4f}, "
          f"amount {result['accuracy']['amount_error']:,.0f}")  # fmt: skip

    tracemalloc.start()
    forecast(opportunities, history, OPTIONS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory of one forecast (tracemalloc): {peak / 2**20:.0f} MB (target < 500 MB)")

    pipeline, amounts, weights, slips, boundaries = model_inputs(opportunities)
    started = time.perf_counter()
    reference = reference_quantiles(amounts, weights, arguments.reference_trials, arguments.workers)
    elapsed = time.perf_counter() - started
    mc_per_element = elapsed * arguments.workers / (arguments.reference_trials * len(amounts))
    print(f"Monte Carlo reference: {arguments.reference_trials:,} trials x {len(amounts):,} opportunities "
          f"on {arguments.workers} processes in {elapsed:.1f} s "
          f"(engine simulate: {mc_per_element * 1e9:.1f} ns per opportunity x trial per process)")  # fmt: skip
    engine = np.array([[row[key] for row in result["periods"]] for key in ("p10", "p50", "p90")])
    relative = np.abs(engine - reference) / np.maximum(reference, 1.0)
    spread = np.abs(engine - reference) / np.maximum(reference[2] - reference[0], 1.0)
    print("  period     P10 ref      diff      P50 ref      diff      P90 ref      diff")
    for k, row in enumerate(result["periods"]):
        cells = "".join(f"{reference[j, k]:>13,.0f} {100 * relative[j, k]:>7.3f}%" for j in range(3))
        print(f"  {row['period']}{cells}")
    for j, name in enumerate(("P10", "P50", "P90")):
        print(f"  {name}: max difference {100 * relative[j].max():.3f} % of the value "
              f"({100 * spread[j].max():.2f} % of the P10-P90 width) (target within 1 %)")  # fmt: skip

    per_element = time_python_loop(
        pipeline, slips, boundaries, day_number(AS_OF), arguments.loop_subset, arguments.loop_trials
    )
    loop_seconds = per_element * len(amounts) * LOOP_TRIALS
    print(f"Python loop: {per_element * 1e9:.0f} ns per opportunity x trial, measured on "
          f"{arguments.loop_subset:,} opportunities x {arguments.loop_trials} trials and extrapolated to "
          f"{len(amounts):,} x {LOOP_TRIALS:,} trials: {loop_seconds:,.0f} s")  # fmt: skip
    print(f"speed ratio, full forecast vs Python loop: {loop_seconds / min(timings):,.0f}x "
          f"(engine Monte Carlo alone, per opportunity x trial: {per_element / mc_per_element:,.0f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
