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
    assert head[3 + len(keys):] == ["tied_with_best", "flags", "stopped"]
    two = tables.csv_text([{"strategy": "a", "seeds": 2, "eval_loss": 0.5, "eval_loss_std": 0.1,
                             "eval_loss_ci95": [0.3, 0.7], "flags": ["unstable", "not_converged"]}])
    head, line = two.splitlines()[0].split(","), next(csv.DictReader(io.StringIO(two)))
    assert {"eval_loss_std", "eval_loss_ci95_low", "eval_loss_ci95_high"} <= set(head)
    assert (line["eval_loss_ci95_low"], line["eval_loss_ci95_high"]) == ("0.3", "0.7")
    assert line["flags"] == "unstable not_converged"
