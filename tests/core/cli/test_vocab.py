"""``python -m core vocab``: init and finetune on the tiny model, stored and listed as kind ``vocab``;
bad vocabularies exit 2 with every problem named by symbol and field, and write nothing."""

from __future__ import annotations

import json

import pytest

from core.spec.gloss import builtin_examples
from tests.core.cli.conftest import run
from tests.core.experiment.vocab_fixtures import three_dicts


def _dicts() -> list[dict]:
    return three_dicts()


def _folder(tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    for i, d in enumerate(_dicts()):
        (folder / f"{i}.json").write_text(json.dumps(d), encoding="utf-8")
    return folder


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_vocab_init_prints_one_json_object_and_the_run_is_listed(capsys, tmp_path):
    runs = tmp_path / "runs"
    code, out, err = run(capsys, "vocab", "init", _folder(tmp_path), "--model", "tiny-random", "--json", "--runs", runs,
                         "--no-progress", "--max-new-tokens", "2", "--strategy", "optimized", "--opt-epochs", "2",
                         "--contrast", "--precision", "bfloat16")
    assert code == 0, err
    data = json.loads(out)
    stored = json.loads((runs / data["run_id"] / "config.json").read_text(encoding="utf-8"))
    assert stored["init"]["precision"] == "bfloat16"
    assert data["status"] == "done" and data["kind"] == "vocab" and data["contrast"] is True
    assert data["strategy"] == "optimized" and data["finetune"] is None
    assert [s["token"] for s in data["symbols"]] == [d["new_token"] for d in _dicts()]
    assert all(s["mrr_positive_before"] is not None and s["mrr_positive_after"] is None and s["eval_loss"] is None
               for s in data["symbols"])
    assert len(data["confusion_before"]["own_rank"]) == len(data["symbols"])
    code, out, _ = run(capsys, "runs", "list", "--runs", runs, "--json")
    rows = json.loads(out)["runs"]
    assert code == 0 and [(r["run_id"], r["kind"]) for r in rows] == [(data["run_id"], "vocab")]


def test_vocab_finetune_readable_report(capsys, tmp_path):
    code, out, err = run(capsys, "vocab", "finetune", _folder(tmp_path), "--model", "tiny-random", "--runs", tmp_path / "runs",
                         "--no-progress", "--max-new-tokens", "2", "--epochs", "1", "--batch-size", "30",
                         "--grad-accum", "1")
    assert code == 0, err
    assert "| MRR, testing-positive (before → after) |" in out and "→" in out and "Confusion after fine-tuning" in out
    assert "Every symbol together: Best epoch 1.00;" in out
    assert "Adapter (every token)" in out and "(done)" in out


def test_conflicting_tokens_exit_2_naming_symbol_and_field_and_write_nothing(capsys, tmp_path):
    rows = _dicts()
    old, new = rows[1]["new_token"], rows[0]["new_token"]
    rows[1]["new_token"] = new
    for name in ("fine_tuning_sentences", "validation_sentences"):
        rows[1][name] = [s.replace(old, new) for s in rows[1][name]]
    rows[2]["positive_contexts"] = []  # and one bad spec among the others
    runs = tmp_path / "runs"
    code, out, err = run(capsys, "vocab", "finetune", _jsonl(tmp_path / "v.jsonl", rows), "--model", "tiny-random",
                         "--json", "--runs", runs)
    assert code == 2
    problems = json.loads(out)["problems"]
    fields = [p["field"] for p in problems]
    assert f"{new} new_token" in fields and f"{rows[2]['new_token']} positive_contexts" in fields
    assert "is the token of two symbols" in err and "Traceback" not in err
    assert not runs.exists() or not any(runs.iterdir())


def test_a_vocabulary_over_the_limit_exits_2(capsys, tmp_path, monkeypatch):
    from core.spec import limits

    monkeypatch.setattr(limits, "VOCAB_SYMBOLS", (1, 2))
    code, out, err = run(capsys, "vocab", "init", "builtin", "--model", "tiny-random", "--json",
                         "--runs", tmp_path / "runs")
    assert code == 2 and json.loads(out)["problems"][0]["field"] == "vocabulary"
    assert "over the limit of 2" in err and not (tmp_path / "runs").exists()
    code, _, err = run(capsys, "vocab", "init", tmp_path / "nowhere", "--runs", tmp_path / "runs")
    assert code == 2 and "vocabulary:" in err


@pytest.mark.slow
def test_vocab_finetune_on_the_default_model(capsys, tmp_path):
    # Two built-in symbols trained together: enough to see each token learn its own place.
    chosen = [json.loads(builtin_examples()[name].read_text(encoding="utf-8")) for name in ("wool_shop", "ice_cream")]
    code, out, err = run(capsys, "vocab", "finetune", _jsonl(tmp_path / "two.jsonl", chosen), "--epochs", "1",
                         "--json", "--runs", tmp_path / "runs", "--no-progress", "--max-new-tokens", "8")
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "done" and [s["token"] for s in data["symbols"]] == [d["new_token"] for d in chosen]
    for s in data["symbols"]:
        assert s["mrr_positive_after"] is not None and s["cos_input_before_after"] < 1
        # One epoch already helps the token where it belongs, on the real model.
        assert s["mrr_positive_after"] >= s["mrr_positive_before"] - 0.05
    summary = data["confusion_summary_after"]
    assert summary["own_token_best"] == len(data["symbols"])


def test_vocab_compare_judges_each_symbol_and_ranks_across(capsys, tmp_path):
    two = _jsonl(tmp_path / "two.jsonl", _dicts()[1:])
    code, out, err = run(capsys, "vocab", "compare", two, "--model", "tiny-random", "--runs", tmp_path / "runs",
                         "--no-progress", "--max-new-tokens", "2", "--epochs", "1", "--batch-size", "30",
                         "--grad-accum", "1", "--strategies", "average,random_both", "--seeds", "2", "--json",
                         "--out", tmp_path / "out", "--negative-logit", "-9")
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "done" and data["verdict"]["sentence"].startswith("Across 2 symbols")
    stored = json.loads((tmp_path / "runs" / data["run_id"] / "config.json").read_text(encoding="utf-8"))
    assert stored["init"]["negative_logit"] == -9.0   # the initialization flags reach every member
    # Its members run where a comparison's do: here, by default, for the tiny model.
    assert (stored["workers"], stored["backend"], stored["where"]) == (0, "local", "local")
    assert data["where"] == "this process" and data["workers"] == 1
    assert [s["spec"].split(" (Bliss")[0] for s in data["symbols"]] == [" / ".join(d["glosses"]) for d in _dicts()[1:]]
    assert {r["strategy"] for r in data["rows"]} == {"average", "random_both"}
    assert all(r["wins"] + r["ties"] + r["losses"] == 2 for r in data["rows"])
    saved = json.loads((tmp_path / "out" / "comparison.json").read_text(encoding="utf-8"))
    assert saved["vocabulary"] is True and len(saved["symbols"]) == 2
    assert "Across symbols" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_vocab_compare_with_a_bad_vocabulary_exits_2(capsys, tmp_path):
    rows = _dicts()[1:]
    rows[1] = {**rows[1], "new_token": rows[0]["new_token"]}
    code, out, err = run(capsys, "vocab", "compare", _jsonl(tmp_path / "bad.jsonl", rows), "--model", "tiny-random",
                         "--runs", tmp_path / "runs", "--no-progress", "--json")
    assert code == 2 and "Traceback" not in err and not (tmp_path / "runs").exists()
    assert any("new_token" in p["field"] or "token" in p["problem"] for p in json.loads(out)["problems"])
