"""Statistics over seeds: mean, standard deviation and a 95 % confidence interval, and paired
differences between strategies.

Intervals are Student-t intervals: ``mean ± t(0.975, n − 1) · s / √n`` with ``s`` the sample
standard deviation (n − 1 in the denominator). With the handful of seeds a comparison runs, a
bootstrap has too few values to resample; the t-interval is the textbook choice and honest about
how wide a 3-seed interval is (t = 4.30 for n = 3). Every strategy of a comparison runs the same
seeds, so two strategies are compared on their per-seed differences (a paired interval), which
removes what a seed does to both alike.
"""

from __future__ import annotations

import math
import statistics
from typing import Iterable

from core.jsonsafe import finite

CONFIDENCE = 0.95


def _finite(values: Iterable) -> list[float]:
    return [float(v) for v in values if finite(v)]


def t_quantile(n: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t critical value for ``n`` values (n − 1 degrees of freedom)."""
    from scipy.stats import t

    return float(t.ppf(0.5 + confidence / 2, n - 1))


def summary(values: Iterable) -> dict:
    """{"n", "mean", "std", "ci95"} of the finite values (std and interval need two of them)."""
    xs = _finite(values)
    n = len(xs)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None}
    mean = statistics.fmean(xs)
    if n == 1:
        return {"n": 1, "mean": mean, "std": None, "ci95": None}
    std = statistics.stdev(xs)
    half = t_quantile(n) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci95": [mean - half, mean + half]}


def paired_difference(a: dict, b: dict) -> dict:
    """Summary of ``a[seed] − b[seed]`` over the seeds both have a finite value for."""
    diffs = [a[s] - b[s] for s in a if s in b and finite(a[s]) and finite(b[s])]
    return summary(diffs)


def contains_zero(interval: list | None) -> bool:
    return interval is None or interval[0] <= 0.0 <= interval[1]


def seeds_to_separate(differences: dict, limit: int = 100) -> int | None:
    """How many seeds a paired difference with this mean and spread would likely need before its
    95 % interval excludes 0 (the smallest n with t(n) · s / √n < |mean|); None when the mean is 0
    or no spread is known, ``limit`` when even that many would not do."""
    mean, std = differences.get("mean"), differences.get("std")
    if mean is None or std is None or mean == 0:
        return None
    if std == 0:
        return max(2, differences.get("n") or 2)
    for n in range(2, limit + 1):
        if t_quantile(n) * std / math.sqrt(n) < abs(mean):
            return n
    return limit


def places(values: dict[str, float], lower_is_better: bool) -> dict[str, float]:
    """Rank 1 for the best; equal values share the average of their places."""
    ordered = sorted(values.items(), key=lambda kv: kv[1], reverse=not lower_is_better)
    out: dict[str, float] = {}
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1][1] == ordered[i][1]:
            j += 1
        for k in range(i, j + 1):
            out[ordered[k][0]] = (i + j) / 2 + 1
        i = j + 1
    return out
