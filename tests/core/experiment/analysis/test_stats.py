"""Statistics over seeds, checked against hand computation on fixed numbers."""

from __future__ import annotations

import math

import pytest

from core.experiment.analysis import stats

# Student-t critical values for a two-sided 95 % interval, from a printed table.
T_TABLE = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 10: 2.262, 30: 2.045}


def test_t_quantiles_match_the_printed_table():
    for n, t in T_TABLE.items():
        assert stats.t_quantile(n) == pytest.approx(t, abs=5e-4)


def test_summary_of_three_seeds_by_hand():
    values = [0.30, 0.34, 0.41]
    mean = (0.30 + 0.34 + 0.41) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 2)
    half = 4.302653 * sd / math.sqrt(3)
    s = stats.summary(values)
    assert s["n"] == 3 and s["mean"] == pytest.approx(mean) and s["std"] == pytest.approx(sd)
    assert s["ci95"] == pytest.approx([mean - half, mean + half], rel=1e-6)


def test_summary_ignores_missing_values_and_needs_two_for_a_spread():
    assert stats.summary([None, float("nan"), 2.0]) == {"n": 1, "mean": 2.0, "std": None, "ci95": None}
    assert stats.summary([]) == {"n": 0, "mean": None, "std": None, "ci95": None}
    assert stats.summary([True, 1.0, 3.0])["n"] == 2  # a bool is not a number here


def test_paired_difference_uses_the_seeds_both_have():
    a = {0: 1.0, 1: 2.0, 2: 4.0, 3: 9.0}
    b = {0: 0.5, 1: 1.0, 2: 3.0}
    d = stats.paired_difference(a, b)
    diffs = [0.5, 1.0, 1.0]
    mean = sum(diffs) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in diffs) / 2)
    assert d["n"] == 3 and d["mean"] == pytest.approx(mean) and d["std"] == pytest.approx(sd)
    assert not stats.contains_zero(d["ci95"])  # every seed agrees in sign, tightly
    assert stats.contains_zero(stats.paired_difference({0: 1.0, 1: -1.0}, {0: 0.0, 1: 0.0})["ci95"])
    assert stats.contains_zero(None)


def test_seeds_to_separate():
    # mean 0.1, sd 0.1: t(n) / sqrt(n) < 1 first holds at n = 7 (2.447 / 2.646 = 0.925; n = 6: 2.571 / 2.449 > 1).
    assert stats.seeds_to_separate({"n": 3, "mean": 0.1, "std": 0.1}) == 7
    assert stats.seeds_to_separate({"n": 3, "mean": 0.0, "std": 0.1}) is None
    assert stats.seeds_to_separate({"n": 3, "mean": 1e-6, "std": 1.0}, limit=20) == 20


def test_places_share_ties_and_follow_the_metric_direction():
    assert stats.places({"a": 1.0, "b": 2.0, "c": 1.0, "d": 3.0}, lower_is_better=True) == \
        {"a": 1.5, "c": 1.5, "b": 3.0, "d": 4.0}
    assert stats.places({"a": 1.0, "b": 2.0}, lower_is_better=False) == {"b": 1.0, "a": 2.0}
