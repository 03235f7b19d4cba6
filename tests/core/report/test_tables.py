"""Every table of results follows the schema's declarations: numbers, cells, the best row, the CSV."""

from __future__ import annotations

import csv
import io

from core.experiment.analysis import results
from core.report import tables


def test_formatting_follows_the_declaration():
    loss, rank = results.metric("eval_loss"), results.metric("median_rank_negative")
    assert tables.format_value(loss, 0.32, 0.0283) == "0.3200 ± 0.0283"
    assert tables.format_value(loss, None) == "–" and tables.format_value(loss, float("nan")) == "–"
    assert tables.format_value(rank, 1204.0) == "1,204" and tables.format_value(rank, 47.5) == "47.5"
    row = {"median_rank_negative_before": 3.0, "median_rank_negative_after": 12000.0}
    assert tables.cell(rank, row) == "3 → 12,000"


def test_the_comparison_table_marks_the_best_row():
    rows = [{"strategy": "a", "eval_loss": 0.5}, {"strategy": "b", "eval_loss": 0.4}, {"strategy": "c"}]
    table = tables.comparison_table(rows)
    assert [r[0] for r in table["data"]] == ["a", "b (best)", "c"]
    assert len(table["headers"]) == 1 + sum(m.wide for m in results.METRICS)


def test_csv_has_every_key_and_the_spread_only_with_several_seeds():
    one = tables.csv_text([{"strategy": "a", "label": "A", "seeds": 1, "eval_loss": 0.5, "stopped": False}])
    head = one.splitlines()[0].split(",")
    keys = results.numeric_keys()
    assert head[:3] == tables.CSV_HEAD and head[3:3 + len(keys)] == keys
    assert head[3 + len(keys):] == [a.key for a in results.AXES] + ["tied_with_best", "flags", "stopped"]
    two = tables.csv_text([{"strategy": "a", "seeds": 2, "eval_loss": 0.5, "eval_loss_std": 0.1,
                             "eval_loss_ci95": [0.3, 0.7], "flags": ["unstable", "not_converged"],
                             "axes": {"fit": {"outcome": "loss"}, "meaning": {"outcome": "win"}}}])
    head, line = two.splitlines()[0].split(","), next(csv.DictReader(io.StringIO(two)))
    assert {"eval_loss_std", "eval_loss_ci95_low", "eval_loss_ci95_high"} <= set(head)
    assert (line["eval_loss_ci95_low"], line["eval_loss_ci95_high"]) == ("0.3", "0.7")
    assert line["flags"] == "unstable not_converged" and (line["fit"], line["meaning"]) == ("loss", "win")


def _vocab_result(trained: bool) -> dict:
    symbols = []
    for i, token in enumerate(["[A]", "[B]"]):
        symbols.append({"token": token, "gloss": f"gloss {i}", "quality_before": {"mrr_positive": 0.1 * (i + 1),
                        "median_rank_negative": 900.0, "median_rank_positive": 40.0},
                        "quality_after": {"mrr_positive": 0.5 + i / 10, "median_rank_negative": 1200.0,
                                          "median_rank_positive": 2.0} if trained else None,
                        **({"eval_loss_at_best": 1.25 + i, "initial_eval_loss": 3.5, "cos_input_before_after": 0.98,
                            "cos_output_before_after": 0.97} if trained else {})})
    finetune = {"best_epoch": 1.0, "train_loss_at_best": 2.0, "time_per_epoch_s": 3.25, "best_step": 2,
                "max_steps": 2, "history": [{"step": 0}]} if trained else None
    return {"symbols": symbols, "finetune": finetune, "init": {"seconds": 0.75}}


def test_a_vocabulary_table_is_read_from_the_schema_like_a_comparison():
    table = tables.vocabulary_table(_vocab_result(trained=True))
    mrr, loss = results.metric("mrr_positive"), results.metric("eval_loss")
    assert table["headers"][:2] == ["Token", "Gloss"]
    # every metric of a symbol's own with a value, in the schema's order; the shared ones below the table
    own = [m for m in results.METRICS if not m.shared]
    assert table["headers"][2:] == [m.heading if m.phases else m.label for m in own
                                    if m.key not in ("gen_agreement", "gen_similarity", "hidden_mse")]
    first = dict(zip(table["headers"], table["data"][0]))
    assert first["Token"] == "[A]" and first["Gloss"] == "gloss 0"
    assert first[mrr.heading] == "0.100 → 0.500" and first[loss.label] == "1.2500"
    assert table["data"][1][table["headers"].index(loss.label)] == "2.2500"
    shared = dict(table["shared"])
    assert shared == {"Best epoch": "1.00", "Training loss": "2.0000", "Time per epoch (s)": "3.25", "Best step": "2",
                      "Initialization time (s)": "0.75"}


def test_an_initialized_vocabulary_shows_the_numbers_before_alone():
    table = tables.vocabulary_table(_vocab_result(trained=False))
    mrr = results.metric("mrr_positive")
    assert table["headers"] == ["Token", "Gloss", mrr.label, results.metric("median_rank_negative").label,
                                results.metric("median_rank_positive").label]
    assert table["data"][1] == ["[B]", "gloss 1", "0.200", "900", "40"]
    assert dict(table["shared"]) == {"Initialization time (s)": "0.75"}


def test_a_markdown_grid_escapes_every_cell():
    grid = tables.markdown_grid(["a|b", "c"], [["<x>", "1"]])
    assert grid == "| a\\|b | c |\n|---|---|\n| &lt;x&gt; | 1 |\n"


def test_the_axes_table_gives_each_axis_its_numbers_with_intervals_and_where_each_strategy_stands():
    rows = [{"strategy": "average", "label": "Average", "eval_loss": 6.3191, "eval_loss_ci95": [6.2177, 6.4206],
             "mrr_positive_after": 0.718, "mrr_positive_after_ci95": [0.69, 0.746], "median_rank_negative_after": 900.0,
             "axes": {"fit": {"outcome": "tie", "beaten_by": []}, "meaning": {"outcome": "win", "beaten_by": []}}},
            {"strategy": "random_both", "label": "Random both", "eval_loss": 6.35, "mrr_positive_after": 0.015,
             "axes": {"fit": {"outcome": "tie", "beaten_by": []},
                      "meaning": {"outcome": "loss", "beaten_by": ["average"]}}}]
    table = tables.axes_table(rows)
    assert table["headers"] == ["Strategy", "Fit: Validation loss", "Fit: verdict",
                                "Meaning: MRR, testing-positive after fine-tuning",
                                "Meaning: Median rank, testing-negative after fine-tuning", "Meaning: verdict"]
    assert table["data"] == [["Average", "6.3191 [6.2177, 6.4206]", "tied", "0.718 [0.690, 0.746]", "900", "best"],
                             ["Random both", "6.3500", "tied", "0.015", "–", "behind Average"]]


def test_across_rows_give_the_record_and_each_axis_mean_rank_and_record():
    row = {"strategy": "a", "label": "A", "wins": 1, "ties": 1, "losses": 0,
           "axes": {"fit": {"ranks": {"x": 1.0, "y": 1.5}, "mean_rank": 1.25, "wins": 1, "ties": 1, "losses": 0},
                    "meaning": {"ranks": {"x": 2.0, "y": None}, "mean_rank": 2.0, "wins": 0, "ties": 0, "losses": 1}}}
    headers, lines = tables.across_rows({"rows": [row], "specs": ["x", "y"]})
    assert headers == ["Strategy", "Wins", "Ties", "Losses", "Fit: mean rank", "Fit: wins / ties / losses",
                       "Meaning: mean rank", "Meaning: wins / ties / losses", "Rank on x (fit / meaning)",
                       "Rank on y (fit / meaning)"]
    assert lines == [["A", "1", "1", "0", "1.25", "1 / 1 / 0", "2.00", "0 / 0 / 1", "1 / 2", "1.5 / –"]]
