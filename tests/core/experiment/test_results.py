"""The results schema: one declaration per metric, and every output generated from it."""

from __future__ import annotations

import csv
import io
import json

import pytest

from core.cli import main as cli
from core.experiment import results
from tests.conftest import TOKEN, tiny_spec_dict

TINY_RUN = ["--model", "tiny-random", "--epochs", "1", "--batch-size", "2", "--grad-accum", "1",
            "--max-new-tokens", "4", "--no-progress", "--json"]


def test_every_metric_is_declared_once_with_what_the_outputs_need():
    keys = [m.key for m in results.METRICS]
    assert len(keys) == len(set(keys))
    for m in results.METRICS:
        assert m.label and m.meaning.endswith(".") and m.kind in ("number", "rank")
        assert m.higher_is_better in (True, False, None)
    assert results.metric(results.PRIMARY).higher_is_better is False
    assert results.numeric_keys()[:2] == ["best_epoch", "eval_loss"]
    assert "mrr_positive_before" in results.numeric_keys() and "mrr_positive" not in results.numeric_keys()


def test_formatting_follows_the_declaration():
    loss, rank = results.metric("eval_loss"), results.metric("median_rank_negative")
    assert results.format_value(loss, 0.32, 0.0283) == "0.3200 ± 0.0283"
    assert results.format_value(loss, None) == "–" and results.format_value(loss, float("nan")) == "–"
    assert results.format_value(rank, 1204.0) == "1,204" and results.format_value(rank, 47.5) == "47.5"
    row = {"median_rank_negative_before": 3.0, "median_rank_negative_after": 12000.0}
    assert results.cell(rank, row) == "3 → 12,000"


def test_the_best_row_is_the_lowest_primary_metric_and_only_among_several():
    rows = [{"strategy": "a", "eval_loss": 0.5}, {"strategy": "b", "eval_loss": 0.4}, {"strategy": "c"}]
    assert results.best_row(rows)["strategy"] == "b"
    assert results.best_row(rows[:1]) is None
    table = results.comparison_table(rows)
    assert [r[0] for r in table["data"]] == ["a", "b (best)", "c"]
    assert len(table["headers"]) == 1 + sum(m.wide for m in results.METRICS)


def test_csv_has_every_key_and_the_spread_only_with_several_seeds():
    one = results.csv_text([{"strategy": "a", "label": "A", "seeds": 1, "eval_loss": 0.5, "stopped": False}])
    head = one.splitlines()[0].split(",")
    keys = results.numeric_keys()
    assert head[:3] == results.CSV_HEAD and head[3:3 + len(keys)] == keys
    assert head[3 + len(keys):] == ["tied_with_best", "flags", "stopped"]
    two = results.csv_text([{"strategy": "a", "seeds": 2, "eval_loss": 0.5, "eval_loss_std": 0.1,
                             "eval_loss_ci95": [0.3, 0.7], "flags": ["unstable", "not_converged"]}])
    head, line = two.splitlines()[0].split(","), next(csv.DictReader(io.StringIO(two)))
    assert {"eval_loss_std", "eval_loss_ci95_low", "eval_loss_ci95_high"} <= set(head)
    assert (line["eval_loss_ci95_low"], line["eval_loss_ci95_high"]) == ("0.3", "0.7")
    assert line["flags"] == "unstable not_converged"


@pytest.fixture
def extra_metric(monkeypatch):
    """One more metric, declared the way every metric is: a label, a meaning, and how to read it."""
    extra = results.Metric("token_characters", "Characters in the new token",
                           "How many characters the new token's name has.",
                           lambda member, phase: float(len(member.init.token)), digits=1, higher_is_better=None)
    monkeypatch.setattr(results, "METRICS", [*results.METRICS, extra])
    return extra


def test_one_declared_metric_reaches_every_output(extra_metric, tmp_path, capsys):
    from core.service import Service
    from glossui import render

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(tiny_spec_dict()))
    runs, out = tmp_path / "runs", tmp_path / "out"
    expected = f"{len(TOKEN):.1f}"

    # A comparison through the CLI: its JSON rows, its Markdown and the files written with --out.
    code = cli.main(["compare", str(spec), "--strategies", "average,random_both", "--runs", str(runs),
                     "--out", str(out), *TINY_RUN])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [r["token_characters"] for r in data["rows"]] == [len(TOKEN), len(TOKEN)]
    assert data["verdict"]["sentence"] and data["markdown"].startswith("**Verdict.** " + data["verdict"]["sentence"])
    assert all(r["token_characters_ci95"] == [len(TOKEN), len(TOKEN)] for r in data["rows"])
    markdown = (out / "comparison.md").read_text()
    assert markdown == data["markdown"]
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert "| Characters in the new token |" in table[0] + "|"
    assert expected in table[1] and expected in table[2]
    saved = json.loads((out / "comparison.json").read_text())
    assert all(m["row"]["token_characters"] == len(TOKEN) for m in saved["members"])

    # The page: the comparison table, the CSV download, and the run viewer of a fine-tuning run.
    service = Service(runs_dir=runs, tiny=True)
    compare_id = data["run_id"]
    files = service.comparison_files(compare_id)
    rows = list(csv.DictReader(io.StringIO(open(files[0], encoding="utf-8").read())))
    assert [r["token_characters"] for r in rows] == [str(float(len(TOKEN)))] * 2
    page = render.compare_table(service.run(compare_id)["result"]["rows"])
    column = page["headers"].index("Characters in the new token")
    assert [r[column] for r in page["data"]] == [f"{expected} ± 0.0"] * 2  # three seeds by default

    code = cli.main(["finetune", str(spec), "--strategy", "average", "--runs", str(runs), *TINY_RUN])
    finetuned = json.loads(capsys.readouterr().out)
    assert code == 0 and finetuned["rows"][0]["token_characters"] == len(TOKEN)
    viewer = dict(map(tuple, render.run_result_rows(service.run(finetuned["run_id"])["result"])))
    assert viewer["Characters in the new token"] == expected
    assert "token_characters" in [k for m in service.metrics() for k in m["keys"]]
