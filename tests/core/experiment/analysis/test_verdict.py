"""The verdict on constructed rows: a clear winner, all tied, a flagged winner, not converged, unstable."""

from __future__ import annotations

import pytest

from core.experiment.analysis import verdict


def members_of(losses: dict[str, list[float]], **per_strategy) -> list[dict]:
    """Per-seed rows: validation losses by strategy; ``per_strategy[name]`` adds keys to that strategy's rows."""
    out = []
    for name, values in losses.items():
        for seed, loss in enumerate(values):
            row = {"strategy": name, "seed": seed, "eval_loss": loss, "best_step": 10, "steps": 30,
                   "median_rank_negative_after": 5000.0}
            row.update({k: (v[seed] if isinstance(v, list) else v) for k, v in per_strategy.get(name, {}).items()})
            out.append(row)
    return out


JUDGED = ("eval_loss", "mrr_positive_after", "median_rank_negative_after")


def rows_of(members: list[dict]) -> list[dict]:
    """Per-strategy rows as ``summarize`` makes them, computed here independently: the mean, the
    standard deviation and the Student-t 95 % interval of every judged key."""
    import math
    import statistics

    from scipy.stats import t

    rows = []
    for name in dict.fromkeys(m["strategy"] for m in members):
        mine = [m for m in members if m["strategy"] == name]
        row = {"strategy": name, "label": name.title(), "seeds": len(mine)}
        for key in JUDGED:
            values = [m[key] for m in mine if m.get(key) is not None]
            row[key] = statistics.fmean(values) if values else None
            row[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else None
            half = t.ppf(0.975, len(values) - 1) * row[f"{key}_std"] / math.sqrt(len(values)) if len(values) > 1 \
                else None
            row[f"{key}_ci95"] = [row[key] - half, row[key] + half] if half is not None else None
        rows.append(row)
    return rows


def judge(losses, **per_strategy):
    members = members_of(losses, **per_strategy)
    rows = rows_of(members)
    return verdict.judge(rows, members), {r["strategy"]: r for r in rows}


def test_a_clear_winner():
    v, rows = judge({"average": [1.00, 1.01, 1.02], "random": [1.50, 1.52, 1.49], "last": [1.20, 1.22, 1.21]})
    assert v["winner"] == "average" and v["tied_with_winner"] == [] and v["flags"] == []
    assert v["sentence"].startswith("Average is best (3 seeds; 95 % intervals over seeds in brackets): ")
    assert "separated on fit from Random, Last (validation loss 1.0100 [" in v["sentence"]
    assert "; tied on meaning (median rank, testing-negative 5,000 [5,000, 5,000] against Random" in v["sentence"]
    assert rows["random"]["tied_with_best"] is False and rows["average"]["tied_with_best"] is True
    assert rows["random"]["diff_vs_best"]["mean"] == pytest.approx(0.4933333, rel=1e-5)


def test_a_tie_with_the_winner_is_named():
    v, rows = judge({"average": [1.00, 1.01, 1.02], "last": [1.00, 1.03, 1.00], "random": [1.5, 1.52, 1.49]})
    assert v["winner"] == "average" and v["tied_with_winner"] == ["last"] and "tied with Last" in v["sentence"]


def test_all_tied_has_no_winner_and_says_how_many_seeds_would_separate():
    v, _ = judge({"average": [1.00, 1.10, 0.95], "random": [1.02, 1.05, 1.01]})
    assert v["winner"] is None and v["tied_with_winner"] == []
    assert v["sentence"].startswith("Nothing separates the strategies")
    assert isinstance(v["seeds_to_separate"], int) and f"about {v['seeds_to_separate']} seeds" in v["sentence"]


def test_one_seed_never_names_a_winner():
    v, _ = judge({"average": [1.0], "random": [2.0]})
    assert v["winner"] is None and "one seed cannot separate" in v["sentence"] and "--seeds" in v["sentence"]


def test_a_flagged_winner_carries_its_flag_in_the_same_sentence():
    # The leak alone does not separate them on meaning here (average's ranks spread too widely).
    v, rows = judge({"random_both": [0.90, 0.91, 0.90], "average": [1.00, 1.01, 1.02]},
                    random_both={"median_rank_negative_after": [2.0, 3.0, 1.0]},
                    average={"median_rank_negative_after": [5000.0, 11.0, 12.0]})
    assert v["winner"] == "random_both" and rows["average"]["axes"]["meaning"]["outcome"] == "tie"
    assert v["flags"] == [{"strategy": "random_both", "flag": "leaks_into_negatives", "detail": v["flags"][0]["detail"]}]
    sentence = v["sentence"]
    assert sentence.count(".") >= 1 and "Random_Both leaks into the negative contexts" in sentence
    assert "median rank 2" in sentence and rows["random_both"]["flags"] == ["leaks_into_negatives"]
    # The threshold is configurable.
    members = members_of({"random_both": [0.9, 0.91, 0.9], "average": [1.0, 1.01, 1.02]},
                         random_both={"median_rank_negative_after": 2.0})
    assert verdict.judge(rows_of(members), members, leak_rank=1)["flags"] == []


def test_not_converged_when_most_seeds_peak_at_the_end():
    v, rows = judge({"average": [1.0, 1.01, 1.02], "random": [1.5, 1.52, 1.49]},
                    average={"best_step": [30, 29, 10]})
    assert rows["average"]["flags"] == ["not_converged"] and "had not converged" in v["sentence"]
    assert "2 of 3 seed(s)" in v["flags"][0]["detail"] and "train longer" in v["flags"][0]["detail"]
    v, rows = judge({"average": [1.0, 1.01, 1.02], "random": [1.5, 1.52, 1.49]}, average={"best_step": [30, 10, 10]})
    assert rows["average"]["flags"] == []


def test_unstable_when_the_spread_exceeds_the_gap_to_the_neighbour():
    v, rows = judge({"average": [1.0, 1.4, 0.6], "last": [1.05, 1.06, 1.04], "random": [3.0, 3.01, 2.99]})
    assert "unstable" in rows["average"]["flags"] and "unstable" not in rows["random"]["flags"]
    assert any(f["flag"] == "unstable" and f["strategy"] == "average" for f in v["flags"])


def test_nothing_finished():
    v = verdict.judge([{"strategy": "a", "label": "A", "eval_loss": None}], [])
    assert v["winner"] is None and "nothing to compare" in v["sentence"]


# -- two axes: fit (validation loss) and meaning (MRR, then the median rank on negatives) ---------------

def two_axes(fit: dict[str, list[float]], mrr: dict[str, list[float]], negative=None):
    """Members with a validation loss and an MRR after fine-tuning per seed (and the median rank on
    the negatives, 5000 unless given)."""
    extra = {name: {"mrr_positive_after": values, **({"median_rank_negative_after": negative[name]}
                                                      if negative and name in negative else {})}
             for name, values in mrr.items()}
    return judge(fit, **extra)


def interval(values: list[float], digits: int) -> str:
    """"mean [low, high]" with the Student-t 95 % interval, computed here."""
    import math
    import statistics

    from scipy.stats import t

    mean, half = statistics.fmean(values), t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return f"{mean:.{digits}f} [{mean - half:.{digits}f}, {mean + half:.{digits}f}]"


def test_tied_on_both_axes_names_no_winner():
    v, rows = two_axes({"average": [1.00, 1.10, 0.95], "random": [1.02, 1.05, 1.01]},
                       {"average": [0.5, 0.7, 0.6], "random": [0.6, 0.5, 0.65]})
    assert v["winner"] is None and v["disagreements"] == []
    assert v["sentence"].startswith("Nothing separates the strategies (3 seeds;")
    assert "tied on fit (validation loss" in v["sentence"] and "; tied on meaning (MRR, testing-positive" in v["sentence"]
    assert all(r["axes"][k]["outcome"] == "tie" and r["outcome"] == "tie" for r in rows.values() for k in ("fit", "meaning"))
    assert v["axes"]["meaning"]["metric"] == "mrr_positive_after"
    assert v["axes"]["meaning"]["metrics"] == ["mrr_positive_after", "median_rank_negative_after"]


def test_separated_on_fit_only():
    v, rows = two_axes({"average": [1.00, 1.01, 1.02], "random": [1.50, 1.52, 1.49]},
                       {"average": [0.5, 0.7, 0.6], "random": [0.6, 0.5, 0.65]})
    assert v["winner"] == "average" and v["axes"]["fit"]["winner"] == "average" and v["axes"]["meaning"]["winner"] is None
    assert (f"separated on fit from Random (validation loss {interval([1.00, 1.01, 1.02], 4)} against "
            f"{interval([1.50, 1.52, 1.49], 4)}); tied on meaning") in v["sentence"]
    assert rows["random"]["axes"]["fit"] | {"beaten_by": ["average"], "outcome": "loss"} == rows["random"]["axes"]["fit"]
    assert rows["random"]["axes"]["meaning"]["outcome"] == "tie" and rows["random"]["outcome"] == "loss"
    assert rows["random"]["tied_with_best"] is False and rows["random"]["diff_vs_best"]["mean"] == pytest.approx(0.4933333)


def test_separated_on_meaning_only_as_on_the_wool_shop():
    fit = {"average": [6.30, 6.34, 6.32], "random_both": [6.33, 6.31, 6.35]}
    mrr = {"average": [0.70, 0.72, 0.735], "random_both": [0.01, 0.02, 0.015]}
    v, rows = two_axes(fit, mrr)
    assert v["winner"] == "average" and v["axes"]["fit"]["winner"] is None and v["axes"]["meaning"]["winner"] == "average"
    assert v["sentence"].startswith("Average is best (3 seeds; 95 % intervals over seeds in brackets): tied on fit "
                                    f"(validation loss {interval(fit['average'], 4)} against "
                                    f"{interval(fit['random_both'], 4)}); separated on meaning from Random_Both "
                                    f"(MRR, testing-positive {interval(mrr['average'], 3)} against "
                                    f"{interval(mrr['random_both'], 3)})")
    assert rows["random_both"]["axes"]["meaning"]["outcome"] == "loss"
    assert rows["random_both"]["axes"]["fit"]["outcome"] == "tie" and rows["random_both"]["outcome"] == "loss"


def test_when_the_first_meaning_metric_ties_the_next_one_may_separate():
    v, rows = two_axes({"average": [1.00, 1.10, 0.95], "last": [1.02, 1.05, 1.01]},
                       {"average": [0.5, 0.7, 0.6], "last": [0.6, 0.5, 0.65]},
                       negative={"average": [4000.0, 4100.0, 3900.0], "last": [40.0, 60.0, 50.0]})
    assert v["winner"] == "average" and rows["last"]["axes"]["meaning"]["vs_best"]["metric"] == "median_rank_negative_after"
    assert ("separated on meaning from Last (MRR, testing-positive 0.600 [" in v["sentence"]
            and "; median rank, testing-negative 4,000 [" in v["sentence"] and "against Last 50 [" in v["sentence"])


def test_axes_that_disagree_are_said_to_and_no_winner_is_picked():
    v, rows = two_axes({"average": [1.00, 1.01, 1.02], "random_both": [1.50, 1.52, 1.49]},
                       {"average": [0.01, 0.02, 0.015], "random_both": [0.70, 0.72, 0.735]})
    assert v["winner"] is None and v["tied_with_winner"] == []
    assert v["disagreements"] == [{"fit": "average", "meaning": "random_both"}]
    assert v["sentence"].startswith("The two axes disagree (3 seeds; 95 % intervals over seeds in brackets): with "
                                    "Average, the model fits the validation sentences better (validation loss ")
    assert "but with Random_Both, the token means its gloss better (MRR, testing-positive 0.718 [" in v["sentence"]
    assert "choose by what matters more to you" in v["sentence"]
    assert rows["average"]["outcome"] == rows["random_both"]["outcome"] == "tie"
    assert rows["average"]["axes"]["fit"]["outcome"] == "win" and rows["average"]["axes"]["meaning"]["outcome"] == "loss"


def test_a_winner_is_told_where_two_others_disagree():
    v, _ = two_axes({"average": [1.00, 1.01, 1.02], "last": [1.20, 1.21, 1.22], "random": [1.50, 1.52, 1.49]},
                    {"average": [0.90, 0.91, 0.92], "last": [0.10, 0.11, 0.12], "random": [0.50, 0.52, 0.51]})
    assert v["winner"] == "average" and v["disagreements"] == [{"fit": "last", "meaning": "random"}]
    assert "The axes disagree on Last and Random: with Last, the model fits the validation sentences better; " \
           "with Random, the token means its gloss better." in v["sentence"]


def test_one_seed_has_no_interval_and_says_so():
    v, rows = two_axes({"average": [1.0], "random_both": [2.0]}, {"average": [0.7], "random_both": [0.01]})
    assert v["winner"] is None
    assert v["sentence"].startswith("Nothing separates the strategies: one seed cannot separate strategies, as it gives "
                                    "no interval (Average: tied on fit (validation loss 1.0000 against 2.0000); tied "
                                    "on meaning (MRR, testing-positive 0.700 against 0.010")
    assert "run at least 3 seeds with --seeds" in v["sentence"] and "[" not in v["sentence"]


def test_a_metric_missing_for_some_rows():
    fit = {"average": [1.00, 1.01, 1.02], "last": [1.20, 1.21, 1.22], "random": [1.50, 1.52, 1.49]}
    members = members_of(fit, average={"mrr_positive_after": [0.90, 0.91, 0.92]},
                         random={"mrr_positive_after": [0.10, 0.11, 0.12]})
    for m in members:
        if m["strategy"] == "last":
            del m["median_rank_negative_after"]  # no meaning number at all for last
    rows = rows_of(members)
    v = verdict.judge(rows, members)
    by = {r["strategy"]: r for r in rows}
    assert v["winner"] == "average" and by["last"]["axes"]["meaning"]["outcome"] is None
    assert "; no meaning numbers for Last" in v["sentence"] and by["last"]["outcome"] == "loss"
    assert by["average"]["axes"]["meaning"]["beats"] == ["random"]


def test_a_measure_joins_the_meaning_axis_by_its_declaration(monkeypatch):
    from core.experiment.analysis import results

    hidden = results.Metric("hidden_mse", "Hidden-state distance", "Distance of the token's hidden states from the "
                            "gloss's on held-out text.", lambda record, phase: None, higher_is_better=False,
                            axis="meaning")
    monkeypatch.setattr(results, "METRICS", [*results.METRICS, hidden])
    members = members_of({"average": [1.00, 1.10, 0.95], "last": [1.02, 1.05, 1.01]},
                         average={"mrr_positive_after": [0.5, 0.7, 0.6], "hidden_mse": [0.10, 0.12, 0.11]},
                         last={"mrr_positive_after": [0.6, 0.5, 0.65], "hidden_mse": [0.50, 0.55, 0.52]})
    rows = rows_of(members)
    for r in rows:  # the new key's mean and interval, as summarize gives every declared key
        values = [m["hidden_mse"] for m in members if m["strategy"] == r["strategy"]]
        r["hidden_mse"], r["hidden_mse_ci95"] = sum(values) / 3, None
    v = verdict.judge(rows, members)
    assert v["axes"]["meaning"]["metrics"] == ["mrr_positive_after", "median_rank_negative_after", "hidden_mse"]
    assert v["winner"] == "average" and "separated on meaning from Last" in v["sentence"]
    assert "; hidden-state distance 0.1100 against Last 0.5233" in v["sentence"]


def test_seeds_to_separate_are_counted_where_the_best_and_the_runner_up_are_tied():
    v, _ = two_axes({"average": [6.30, 6.34, 6.32], "random_both": [6.33, 6.31, 6.35]},
                    {"average": [0.70, 0.72, 0.735], "random_both": [0.01, 0.02, 0.015]})
    diffs = [a - b for a, b in zip([6.30, 6.34, 6.32], [6.33, 6.31, 6.35])]  # fit: tied; meaning: separated
    from core.experiment.analysis import stats

    assert v["seeds_to_separate"] == stats.seeds_to_separate(stats.summary(diffs)) > 3
