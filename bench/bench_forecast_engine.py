"""Benchmark of the forecast engine at scale: prints timings, accuracy and memory (no assertions).

    python bench/bench_forecast_engine.py [--open 100000] [--reference-trials 200000] [--workers 2]

1. Generates a synthetic history (``tests/engine/synthetic.py``) and keeps exactly
   ``--open`` open opportunities, plus every closed one as history.
2. Times the full ``engine.forecast.forecast`` (12 monthly periods, method "auto",
   statistics, calibration and slip model included, no pipeline history: the engine
   learns from today's values): first call and best of three.
3. Measures its peak memory with ``tracemalloc`` (numpy reports its buffers to it).
4. Compares its open-pipeline P10 / P50 / P90 with a Monte Carlo reference of
   ``--reference-trials`` trials of the same weights (``model_inputs``: the models learnt
   before the as-of date, ``Learnt.fit``, and the slip model's ``weights``;
   ``engine.forecast_distribution.simulate``, split over ``--workers`` processes with
   independent seeds).
5. Times a straightforward per-opportunity Python loop (one ``random()`` per opportunity
   and trial, the period found with ``bisect`` in its cumulative weights: the same model)
   on a subset and extrapolates it linearly to all opportunities x 10,000 trials.
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

from bench_common import emit

from engine.forecast import forecast, parse_options
from engine.forecast_data import OPEN, prepare_opportunities
from engine.forecast_distribution import QUANTILES, simulate
from engine.forecast_history import PipelineIndex, history_from_opportunities
from engine.forecast_model import Learnt
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


def model_inputs(opportunities) -> tuple[np.ndarray, np.ndarray]:
    """Amounts and weights (n x P) of the open pipeline over the 12 months of ``OPTIONS``, as ``forecast``
    builds them without a pipeline history: the history made of today's values, the models
    learnt before the as-of date, the slip model's weights of the stated probabilities."""
    frame = prepare_opportunities(opportunities)
    settings = parse_options(OPTIONS)
    boundaries = period_boundaries(periods_between(settings.date_from, settings.date_to, settings.granularity))
    as_of = day_number(settings.as_of)
    index = PipelineIndex.build(history_from_opportunities(frame))
    learnt = Learnt.fit(index, as_of, learn_new=False)  # "from new" plays no part in the open pipeline's law
    pipeline = frame[frame["status"].to_numpy() == OPEN]
    probability = learnt.probabilities(pipeline["probability"].to_numpy(), settings.calibrated)
    weights, _beyond = learnt.slip.weights(
        probability, pipeline["expected"].to_numpy(), pipeline["created"].to_numpy(), as_of, boundaries
    )
    return pipeline["amount"].to_numpy(dtype=np.float64), weights


def _simulate_part(arguments):
    amounts, weights, trials, seed = arguments
    return simulate(amounts, weights, trials, seed)


def reference_samples(amounts, weights, trials: int, workers: int, seed: int = 2024) -> np.ndarray:
    """``trials`` Monte Carlo trials over ``workers`` processes (independent seeds), sorted per period (trials x P)."""
    seeds = [int(child.generate_state(1)[0]) for child in np.random.SeedSequence(seed).spawn(workers)]
    parts = [trials // workers + (index < trials % workers) for index in range(workers)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        arguments = [(amounts, weights, n, s) for n, s in zip(parts, seeds, strict=True)]
        return np.sort(np.vstack(list(pool.map(_simulate_part, arguments))), axis=0)


def python_loop(amounts, cumulative, periods: int, trials: int, seed: int = 0) -> list[list[float]]:
    """The straightforward way: for every trial, for every opportunity, one draw decides whether it
    is won and in which period (``cumulative``: its cumulative weights over the periods)."""
    rng = random.Random(seed)
    totals = [[0.0] * periods for _ in range(trials)]
    for trial in range(trials):
        row = totals[trial]
        for amount, edges in zip(amounts, cumulative, strict=True):
            k = bisect.bisect_right(edges, rng.random())
            if k < periods:
                row[k] += amount
    return totals


def time_python_loop(amounts, weights, subset: int, trials: int) -> float:
    """Seconds per (opportunity x trial) of ``python_loop``, measured on ``subset`` opportunities."""
    started = time.perf_counter()
    cumulative = np.cumsum(weights[:subset], axis=1).tolist()
    python_loop(amounts[:subset].tolist(), cumulative, weights.shape[1], trials)
    return (time.perf_counter() - started) / (min(subset, len(amounts)) * trials)


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
    accuracy = result["accuracy"]
    print(f"  stated error: estimate cdf {accuracy['cdf_error']:.4f}, amount {accuracy['amount_error']:,.0f}; "
          f"bound cdf {accuracy['cdf_bound']:.4f}, amount {accuracy['amount_bound']:,.0f}")  # fmt: skip

    tracemalloc.start()
    forecast(opportunities, history, OPTIONS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory of one forecast (tracemalloc): {peak / 2**20:.0f} MB (target < 500 MB)")

    amounts, weights = model_inputs(opportunities)
    started = time.perf_counter()
    samples = reference_samples(amounts, weights, arguments.reference_trials, arguments.workers)
    reference = np.quantile(samples, QUANTILES, axis=0, method="inverted_cdf")
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

    per_element = time_python_loop(amounts, weights, arguments.loop_subset, arguments.loop_trials)
    loop_seconds = per_element * len(amounts) * LOOP_TRIALS
    print(f"Python loop: {per_element * 1e9:.0f} ns per opportunity x trial, measured on "
          f"{arguments.loop_subset:,} opportunities x {arguments.loop_trials} trials and extrapolated to "
          f"{len(amounts):,} x {LOOP_TRIALS:,} trials: {loop_seconds:,.0f} s")  # fmt: skip
    print(f"speed ratio, full forecast vs Python loop: {loop_seconds / min(timings):,.0f}x "
          f"(engine Monte Carlo alone, per opportunity x trial: {per_element / mc_per_element:,.0f}x)")  # fmt: skip
    emit(f"forecast engine ({open_count:,} open opportunities, synthetic)", [
        ("full forecast, 12 months, best of 3", min(timings), "s", "< 1 s"),
        ("peak memory", peak / 2**20, "MB", "< 500 MB"),
        ("largest P10/P50/P90 difference from the reference", 100 * relative.max(), "%", "<= 1 %"),
        ("speed against a plain Python loop", loop_seconds / min(timings), "x", None),
    ])


if __name__ == "__main__":
    main()
