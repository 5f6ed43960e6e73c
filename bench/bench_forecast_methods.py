"""Benchmark of the revenue distribution's methods: time and real error of each (prints, no assertions).

    python bench/bench_forecast_methods.py [--sizes 500 5000 100000] [--trials 10000]
                                          [--reference-work 1e9] [--workers 2] [--no-lumpy]

For each pipeline (``--sizes`` open opportunities of a synthetic history from
``tests/engine/synthetic.py`` over 12 monthly periods, weighted as the engine weights them
— slip model and overdue odds learnt from the history, ``bench_forecast_engine.model_inputs``;
then, unless ``--no-lumpy``, a lumpy pipeline: 160 long shots of 1,000,000 among
3,000 small deals, in one period):

1. times ``revenue_forecast`` with ``auto``, ``analytic`` and ``monte_carlo`` at
   ``--trials`` trials (best of 3; Monte Carlo once). A Monte Carlo past ``MC_LIMIT`` is
   refused: its message is printed.
2. builds a reference: a Monte Carlo of ``--reference-work`` opportunity-trials (at most
   1,000,000 trials), seeded apart from the methods', over ``--workers`` processes.
3. measures each method's real error against it, in the terms of its reported error: the
   smallest ``e`` such that, at every amount ``x`` of every period, the reference CDF
   ``F`` and the method's law ``G`` satisfy ``F(x + d) >= G(x) - e`` and ``F(x - d) <=
   G(x) + e`` for the reported ``d = amount_error``. It is printed beside the reported
   ``cdf_error`` (the estimate for analytic, the DKW bound for Monte Carlo) and the sure
   bound ``cdf_bound``. The reference has its own sampling error (``ref noise``, its DKW
   bound at 95 %): a real error below it is not resolved.
4. the largest difference of P10 / P50 / P90 from the reference, as a share of the
   reference's P10-P90 width.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import emit
from bench_forecast_engine import build_data, model_inputs, reference_samples

from engine.forecast_distribution import MC_LIMIT, METHODS, QUANTILES, analytic_error, mc_cdf_error, revenue_forecast

MAX_REFERENCE_TRIALS = 1_000_000


def synthetic_pipeline(open_count: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Amounts and weights (n x 12) of exactly ``open_count`` open opportunities of a synthetic history."""
    opportunities, _history = build_data(open_count, seed)
    return model_inputs(opportunities)


def lumpy_pipeline(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """160 long shots (2 %) of 1,000,000 among 3,000 even-chance deals of 1..20, in one period."""
    rng = np.random.default_rng(seed)
    amounts = np.r_[np.full(160, 1_000_000.0), rng.integers(1, 21, 3000).astype(np.float64)]
    return amounts, np.r_[np.full(160, 0.02), np.full(3000, 0.5)][:, None]


def real_cdf_error(laws, reference: np.ndarray, tolerance: float) -> float:
    """The smallest ``e`` of the module docstring (3.), the largest over periods."""
    worst = 0.0
    trials = reference.shape[0]
    for k, law in enumerate(laws):
        sorted_samples = reference[:, k]

        def reference_cdf(points, sorted_samples=sorted_samples):
            return np.searchsorted(sorted_samples, points, side="right") / trials

        approx = np.cumsum(law.pmf)
        above = np.max(approx - reference_cdf(law.values + tolerance))
        jumps = np.unique(sorted_samples) + tolerance  # where F(x - d) rises
        points = np.concatenate([jumps, law.values - 1e-6 * max(1.0, abs(law.values[-1]))])  # and G's left limits
        approx_at = np.concatenate([[0.0], approx])[np.searchsorted(law.values, points, side="right")]
        below = np.max(reference_cdf(points - tolerance) - approx_at)
        worst = max(worst, float(above), float(below))
    return worst


def timed(function, repeat: int):
    best, result = np.inf, None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return result, best


def bench(name: str, amounts, weights, arguments) -> list:
    """Prints the table of the methods on one pipeline; returns its figures for ``emit``."""
    count = int(np.count_nonzero((amounts > 0) & (weights.sum(axis=1) > 0)))
    trials = int(min(MAX_REFERENCE_TRIALS, arguments.reference_work // max(count, 1)))
    started = time.perf_counter()
    reference = reference_samples(amounts, weights, trials, arguments.workers)
    noise = mc_cdf_error(trials)
    print(f"\n{name}: {count:,} opportunities x {weights.shape[1]} periods; reference {trials:,} trials "
          f"in {time.perf_counter() - started:.1f} s (ref noise {noise:.4f})")  # fmt: skip
    quantiles = np.array([reference[min(int(np.ceil(level * trials)) - 1, trials - 1)] for level in QUANTILES])
    width = np.maximum(quantiles[-1] - quantiles[0], 1.0)
    print(f"  {'method':<12} {'chosen':<12} {'time s':>8} {'cdf_error':>10} {'amount_error':>13} {'cdf_bound':>10}"
          f" {'real cdf err':>13} {'rule error':>11} {'quantile diff':>14}")  # fmt: skip
    figures = []
    for method in METHODS:
        repeat = 1 if method == "monte_carlo" else 3
        try:
            result, seconds = timed(
                lambda method=method: revenue_forecast(amounts, weights, method, arguments.trials, seed=0), repeat
            )
        except ValueError as error:
            print(f"  {method:<12} refused: {error}")
            figures.append((f"{name}: {method}", "refused", "", None))
            continue
        real = real_cdf_error(result.laws, reference, result.amount_error)
        rule = analytic_error(amounts, weights, result.laws) if result.method == "analytic" else result.cdf_error
        shown = f"<= {noise:.4f}" if real <= noise else f"{real:.4f}"
        difference = np.max(np.abs(result.quantiles - quantiles) / width)
        print(f"  {method:<12} {result.method:<12} {seconds:>8.3f} {result.cdf_error:>10.4f} "
              f"{result.amount_error:>13,.0f} {result.cdf_bound:>10.4f} {shown:>13} {rule:>11.4f} "
              f"{100 * difference:>13.2f}%")  # fmt: skip
        figures.append((f"{name}: {method} ({result.method}), real CDF error {shown}", seconds, "s", None))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 5_000, 100_000])
    parser.add_argument("--trials", type=int, default=10_000, help="trials of the methods' Monte Carlo")
    parser.add_argument("--reference-work", type=float, default=1e9, help="opportunity-trials of each reference")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--no-lumpy", action="store_true", help="skip the lumpy pipeline")
    arguments = parser.parse_args()
    print(f"methods at {arguments.trials:,} trials (Monte Carlo sampling error {mc_cdf_error(arguments.trials):.4f}, "
          f"limit {MC_LIMIT:,} opportunity-trials); 'rule error' = what auto compares with it")  # fmt: skip
    figures = []
    for size in arguments.sizes:
        figures += bench(f"synthetic pipeline, {size:,} open", *synthetic_pipeline(size), arguments)
    if not arguments.no_lumpy:
        figures += bench("lumpy pipeline (160 long shots of 1,000,000 + 3,000 small deals)", *lumpy_pipeline(),
                         arguments)
    emit(f"forecast methods ({arguments.trials:,} trials)", figures)


if __name__ == "__main__":
    main()
