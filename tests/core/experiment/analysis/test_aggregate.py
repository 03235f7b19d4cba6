"""Across symbols: ranks with shared places, wins / ties / losses from each symbol's verdict, metrics over
symbols (one data point each) against an independent computation, and the overall verdict on
constructed results (a clear winner, nothing separates, a flagged winner)."""

from __future__ import annotations

import math
import statistics

from scipy import stats as scipy_stats

from core.experiment.analysis.aggregate import aggregate, outcome_on


def _row(strategy: str, eval_loss: float, outcome: str, flags=(), mrr: float | None = None,
         meaning: str | None = None, **extra) -> dict:
    """A strategy's row on one symbol as the verdict leaves it: its outcome over both axes, and per
    axis (fit: the same as overall unless told; meaning: only with an MRR)."""
    return {"strategy": strategy, "label": strategy.upper(), "calculated_output": True, "seeds": 3, "stopped": False,
            "eval_loss": eval_loss, "mrr_positive_after": mrr, "outcome": outcome, "flags": list(flags),
            "axes": {"fit": {"outcome": extra.pop("fit", outcome)}, "meaning": {"outcome": meaning}}, **extra}


def _symbol(name: str, winner: str | None, rows: list[dict], flags=()) -> dict:
    return {"spec": name, "rows": rows, "verdict": {"winner": winner, "flags": list(flags)}}


def test_a_strategy_that_never_loses_wins_across_symbols():
    symbols = [
        _symbol("wool shop", "avg", [_row("avg", 4.0, "win"), _row("opt", 4.2, "loss"), _row("rnd", 5.0, "loss")]),
        _symbol("post office", None, [_row("avg", 3.1, "tie"), _row("opt", 3.0, "tie"), _row("rnd", 3.5, "tie")]),
        _symbol("brush teeth", "avg", [_row("avg", 2.0, "win"), _row("opt", 2.05, "tie"), _row("rnd", 2.9, "loss")]),
    ]
    rows, verdict = aggregate(symbols)
    by = {r["strategy"]: r for r in rows}
    assert (by["avg"]["wins"], by["avg"]["ties"], by["avg"]["losses"]) == (2, 1, 0)
    assert (by["opt"]["wins"], by["opt"]["ties"], by["opt"]["losses"]) == (0, 2, 1)
    assert (by["rnd"]["wins"], by["rnd"]["ties"], by["rnd"]["losses"]) == (0, 1, 2)
    assert by["avg"]["ranks"] == {"wool shop": 1.0, "post office": 2.0, "brush teeth": 1.0}
    assert math.isclose(by["avg"]["mean_rank"], 4 / 3, rel_tol=1e-5)
    # One symbol is one data point: the mean, spread and t-interval are over the three symbols.
    values = [4.0, 3.1, 2.0]
    assert math.isclose(by["avg"]["eval_loss_mean"], statistics.fmean(values), rel_tol=1e-6)
    assert math.isclose(by["avg"]["eval_loss_std"], statistics.stdev(values), rel_tol=1e-5)
    half = scipy_stats.t.ppf(0.975, 2) * statistics.stdev(values) / math.sqrt(3)
    assert math.isclose(by["avg"]["eval_loss_ci95"][0], statistics.fmean(values) - half, rel_tol=1e-5)
    assert [r["strategy"] for r in rows] == ["avg", "opt", "rnd"]
    assert verdict["winner"] == "avg" and verdict["tied_with_winner"] == [] and verdict["symbols"] == 3
    assert by["avg"]["axes"]["fit"] == {"ranks": by["avg"]["ranks"], "mean_rank": by["avg"]["mean_rank"],
                                        "wins": 2, "ties": 1, "losses": 0}
    assert by["avg"]["axes"]["meaning"] == {"ranks": {"wool shop": None, "post office": None, "brush teeth": None},
                                            "mean_rank": None, "wins": 0, "ties": 0, "losses": 0}
    assert verdict["sentence"].startswith("Across 3 symbols (3 strategies, judged on fit and on meaning), AVG is best: "
                                          "it never loses (2 wins, 1 tie of 3; fit: mean rank 1.3, 2 wins, 1 tie; "
                                          "meaning: no rank, no result)")


def test_nothing_separates_when_every_strategy_loses_somewhere():
    symbols = [
        _symbol("a", "avg", [_row("avg", 1.0, "win"), _row("opt", 2.0, "loss")]),
        _symbol("b", "opt", [_row("avg", 2.0, "loss"), _row("opt", 1.0, "win")]),
    ]
    rows, verdict = aggregate(symbols)
    assert verdict["winner"] is None and verdict["tied_with_winner"] == []
    assert "nothing is best on every symbol" in verdict["sentence"]
    assert "1 win, 1 loss" in verdict["sentence"]
    assert "every strategy loses on at least one symbol" in verdict["sentence"]
    assert "more symbols or more seeds" in verdict["sentence"]
    assert all(r["wins"] == 1 and r["losses"] == 1 and r["mean_rank"] == 1.5 for r in rows)


def test_all_tied_everywhere_has_no_winner():
    symbols = [_symbol(n, None, [_row("avg", 1.0, "tie"), _row("opt", 1.1, "tie")]) for n in ("a", "b")]
    _, verdict = aggregate(symbols)
    assert verdict["winner"] is None
    assert "no strategy wins on any symbol" in verdict["sentence"]


def test_a_flagged_winner_carries_its_flags_per_symbol():
    leak = {"strategy": "rnd", "flag": "leaks_into_negatives", "detail": "median rank 2"}
    late = {"strategy": "avg", "flag": "not_converged", "detail": "best step last"}
    symbols = [
        _symbol("a", "rnd", [_row("rnd", 1.0, "win", ["leaks_into_negatives"]), _row("avg", 2.0, "loss", ["not_converged"])],
                flags=[leak, late]),
        _symbol("b", "rnd", [_row("rnd", 1.0, "win"), _row("avg", 2.0, "loss")]),
    ]
    rows, verdict = aggregate(symbols)
    assert verdict["winner"] == "rnd"
    assert "but RND leaks into the negative contexts on a." in verdict["sentence"]
    assert "Other flags (had not converged: AVG (on a))." in verdict["sentence"]
    assert {(f["strategy"], f["symbol"]) for f in verdict["flags"]} == {("rnd", "a"), ("avg", "a")}
    assert verdict["flags"][0]["detail"].startswith("on a: ")
    assert {r["strategy"]: r["flags"] for r in rows} == {"rnd": ["leaks_into_negatives"], "avg": ["not_converged"]}


def test_outcome_of_a_strategy_that_did_not_finish():
    symbol = _symbol("a", "avg", [_row("avg", 1.0, "win", meaning="tie"), _row("opt", None, None, fit=None)])
    assert outcome_on(symbol, "avg") == "win" and outcome_on(symbol, "opt") is None and outcome_on(symbol, "x") is None
    assert outcome_on(symbol, "avg", "meaning") == "tie" and outcome_on(symbol, "opt", "fit") is None


def test_flags_raised_everywhere_are_grouped():
    late = lambda s, sym: {"strategy": s, "flag": "not_converged", "detail": "late"}  # noqa: E731
    symbols = [_symbol(name, "avg", [_row("avg", 1.0, "win", ["not_converged"]), _row("opt", 2.0, "loss", ["not_converged"])],
                       flags=[late("avg", name), late("opt", name)]) for name in ("a", "b", "c")]
    _, verdict = aggregate(symbols)
    assert verdict["winner"] == "avg"
    assert verdict["sentence"].endswith("but AVG had not converged on all 3 symbols. "
                                        "Other flags (had not converged: OPT (on all 3 symbols)).")


def test_each_axis_counts_its_own_wins_ties_and_losses_and_both_mean_ranks_are_given():
    # avg fits best on both symbols; rnd's token means its gloss best on both: the axes disagree,
    # so each symbol's verdict has no winner and both tie overall.
    symbols = [_symbol(name, None, [_row("avg", 1.0, "tie", mrr=0.1, meaning="loss", fit="win"),
                                    _row("rnd", 2.0, "tie", mrr=0.8, meaning="win", fit="loss")]) for name in ("a", "b")]
    rows, verdict = aggregate(symbols)
    by = {r["strategy"]: r for r in rows}
    assert {k: by["avg"]["axes"]["fit"][k] for k in ("wins", "ties", "losses", "mean_rank")} == \
        {"wins": 2, "ties": 0, "losses": 0, "mean_rank": 1.0}
    assert {k: by["avg"]["axes"]["meaning"][k] for k in ("wins", "ties", "losses", "mean_rank")} == \
        {"wins": 0, "ties": 0, "losses": 2, "mean_rank": 2.0}
    assert by["rnd"]["axes"]["meaning"]["ranks"] == {"a": 1.0, "b": 1.0} and by["rnd"]["ties"] == 2
    assert verdict["winner"] is None and verdict["axes"] == {"fit": {"label": "fit", "leader": "avg"},
                                                             "meaning": {"label": "meaning", "leader": "rnd"}}
    assert "AVG (2 ties; fit: mean rank 1.0, 2 wins; meaning: mean rank 2.0, 2 losses)" in verdict["sentence"]
    assert "RND (2 ties; fit: mean rank 2.0, 2 losses; meaning: mean rank 1.0, 2 wins)" in verdict["sentence"]
    assert "the axes lead to different strategies: AVG has the best mean rank on fit, RND has the best mean rank " \
           "on meaning." in verdict["sentence"]
