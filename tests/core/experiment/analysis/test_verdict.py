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


def rows_of(members: list[dict]) -> list[dict]:
    import statistics

    rows = []
    for name in dict.fromkeys(m["strategy"] for m in members):
        mine = [m["eval_loss"] for m in members if m["strategy"] == name]
        rows.append({"strategy": name, "label": name.title(), "seeds": len(mine), "eval_loss": statistics.fmean(mine),
                     "eval_loss_std": statistics.stdev(mine) if len(mine) > 1 else None,
                     "eval_loss_ci95": None})
    return rows


def judge(losses, **per_strategy):
    members = members_of(losses, **per_strategy)
    rows = rows_of(members)
    return verdict.judge(rows, members), {r["strategy"]: r for r in rows}


def test_a_clear_winner():
    v, rows = judge({"average": [1.00, 1.01, 1.02], "random": [1.50, 1.52, 1.49], "last": [1.20, 1.22, 1.21]})
    assert v["winner"] == "average" and v["tied_with_winner"] == [] and v["flags"] == []
    assert v["sentence"].startswith("Average has the best validation loss")
    assert "better than Random, Last" in v["sentence"]
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
    v, rows = judge({"random_both": [0.90, 0.91, 0.90], "average": [1.00, 1.01, 1.02]},
                    random_both={"median_rank_negative_after": [2.0, 3.0, 1.0]})
    assert v["winner"] == "random_both"
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
