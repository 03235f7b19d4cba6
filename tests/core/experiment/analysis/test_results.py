"""The results schema: one declaration per metric, and every output generated from it."""

from __future__ import annotations

import csv
import io
import json
import statistics

import pytest

from core.cli import main as cli
from core.experiment.analysis import results
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


def test_each_axis_is_the_metrics_that_name_it_in_declaration_order():
    assert [a.key for a in results.AXES] == ["fit", "meaning"]
    assert [m.judged_key for m in results.axis_metrics("fit")] == [results.PRIMARY]
    assert [m.judged_key for m in results.axis_metrics("meaning")] == ["mrr_positive_after", "median_rank_negative_after"]
    assert all(m.higher_is_better is not None for a in results.AXES for m in results.axis_metrics(a.key))
    assert {d["key"]: d["axis"] for d in results.describe()}["mrr_positive"] == "meaning"
    row = {"mrr_positive_after": 0.71833, "mrr_positive_after_ci95": [0.6751, 0.76157], "eval_loss": 6.3}
    assert results.with_interval("mrr_positive_after", row) == "0.718 [0.675, 0.762]"
    assert results.with_interval("eval_loss", row) == "6.3000" and results.with_interval("median_rank_negative_after", row) == "–"


def test_the_best_row_is_the_lowest_primary_metric_and_only_among_several():
    rows = [{"strategy": "a", "eval_loss": 0.5}, {"strategy": "b", "eval_loss": 0.4}, {"strategy": "c"}]
    assert results.best_row(rows)["strategy"] == "b"
    assert results.best_row(rows[:1]) is None


@pytest.fixture
def extra_metric(monkeypatch):
    """One more metric, declared the way every metric is: a label, a meaning, and how to read it from
    a symbol's record (the same for a one-symbol member and for each symbol of a vocabulary)."""
    extra = results.Metric("token_characters", "Characters in the new token",
                           "How many characters the new token's name has.",
                           lambda record, phase: float(len(record.token)), digits=1, higher_is_better=None)
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
    table = [line for line in markdown[markdown.index("| Input embedding"):].splitlines() if line.startswith("| ")]
    assert "| Characters in the new token |" in table[0] + "|"
    assert expected in table[1] and expected in table[2]
    saved = json.loads((out / "comparison.json").read_text())
    assert all(m["row"]["token_characters"] == len(TOKEN) for m in saved["members"])

    # The page: the comparison table, the CSV download, and the run viewer of a fine-tuning run.
    service = Service(runs_dir=runs, tiny=True)
    compare_id = data["run_id"]
    files = service.results.comparison_files(compare_id)
    rows = list(csv.DictReader(io.StringIO(open(files[0], encoding="utf-8").read())))
    assert [r["token_characters"] for r in rows] == [str(float(len(TOKEN)))] * 2
    page = render.compare_table(service.results.run(compare_id)["result"]["rows"])
    column = page["headers"].index("Characters in the new token")
    assert [r[column] for r in page["data"]] == [f"{expected} ± 0.0"] * 2  # three seeds by default

    code = cli.main(["finetune", str(spec), "--strategy", "average", "--runs", str(runs), *TINY_RUN])
    finetuned = json.loads(capsys.readouterr().out)
    assert code == 0 and finetuned["rows"][0]["token_characters"] == len(TOKEN)
    viewer = dict(map(tuple, render.run_result_rows(service.results.run(finetuned["run_id"])["result"])))
    assert viewer["Characters in the new token"] == expected
    assert "token_characters" in [k for m in service.settings.metrics() for k in m["keys"]]


def _cells(line: str) -> list[str]:
    """A Markdown table line's cells."""
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


def test_one_declared_metric_reaches_every_vocabulary_output(extra_metric, tmp_path, capsys):
    from core.service import Service
    from glossui import render
    from tests.core.experiment.vocab_fixtures import three_dicts

    two = three_dicts()[:2]
    vocab = tmp_path / "two.jsonl"
    vocab.write_text("".join(json.dumps(d) + "\n" for d in two), encoding="utf-8")
    tokens = [d["new_token"] for d in two]
    runs, out = tmp_path / "runs", tmp_path / "out"
    short = ["--model", "tiny-random", "--epochs", "1", "--batch-size", "30", "--grad-accum", "1",
             "--max-new-tokens", "2", "--no-progress", "--runs", str(runs)]

    # A comparison on the vocabulary: each symbol's rows, the Markdown and the report written with --out.
    code = cli.main(["vocab", "compare", str(vocab), "--strategies", "average,random_both", "--seeds", "1",
                     "--out", str(out), "--json", *short])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    for symbol, token in zip(data["symbols"], tokens):
        assert [r["token_characters"] for r in symbol["rows"]] == [len(token)] * 2
    assert [r["token_characters"] for r in data["rows"]] == [statistics.fmean(map(len, tokens))] * 2
    report = (out / "report.md").read_text(encoding="utf-8")
    lines = report.splitlines()
    head = [i for i, line in enumerate(lines) if line.startswith("| Input embedding")]
    assert len(head) == 2  # each symbol's results table
    for i, token in zip(head, tokens):
        column = _cells(lines[i]).index("Characters in the new token")
        assert [_cells(lines[j])[column] for j in (i + 2, i + 3)] == [f"{len(token):.1f}"] * 2
    assert "Characters in the new token" in (out / "report.html").read_text(encoding="utf-8")

    # A vocabulary fine-tuned: the CLI's table of symbols and the page's.
    code = cli.main(["vocab", "finetune", str(vocab), *short])
    text = capsys.readouterr().out
    assert code == 0
    head = next(line for line in text.splitlines() if line.startswith("| Token"))
    column = _cells(head).index("Characters in the new token")
    cells = [_cells(line)[column] for line in text.splitlines() if line.startswith("| \\[")]
    assert cells == [f"{len(t):.1f}" for t in tokens]
    service = Service(runs_dir=runs, tiny=True)
    finetuned = next(r for r in service.results.runs() if r["kind"] == "vocab")
    page = render.vocab_table(service.results.run(finetuned["id"])["result"]["symbols"])
    column = page["headers"].index("Characters in the new token")
    assert [r[column] for r in page["data"]] == [f"{len(t):.1f}" for t in tokens]
