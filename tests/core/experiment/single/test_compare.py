"""Comparisons: configuration checks, the generation-agreement number against a direct computation,
mean ± std rows, the research-shaped table, a tiny end-to-end run, and (slow) the default model."""

from __future__ import annotations

import json
import math
import statistics

import pytest
import torch

from core.execution import backend_for
from core.experiment.single.compare import CompareConfig, run_comparison, summarize
from core.report.document import with_markdown
from core.report.tables import markdown_table
from core.spec.errors import InputError
from core.train.finetune import FinetuneConfig
from core.embedding.strategies import RESEARCH_STRATEGIES, STRATEGIES

REQUIRED = {"strategy", "best_epoch", "eval_loss", "train_loss", "cos_input_before_after", "cos_output_before_after",
            "time_per_epoch_s", "mrr_positive_before", "mrr_positive_after", "median_rank_negative_after"}


def test_config_defaults_and_problems():
    c = CompareConfig()
    assert c.strategies == list(RESEARCH_STRATEGIES) and c.seeds == 3 and c.leak_rank == 10  # paired seeds by default
    assert CompareConfig(strategies="all").strategies == list(STRATEGIES)
    assert CompareConfig(strategies="average, random_both", seeds=2).members == [
        ("average", 0), ("random_both", 0), ("average", 1), ("random_both", 1)]
    with pytest.raises(InputError) as err:
        CompareConfig(strategies=["average", "nope", "average"], seeds=0, max_new_tokens=0)
    assert err.value.fields == ["strategies", "strategies", "seeds", "max_new_tokens"]
    with pytest.raises(InputError) as err:
        CompareConfig(strategies=[])
    assert err.value.fields == ["strategies"]


def _member_row(strategy: str, seed: int, eval_loss: float, **extra) -> dict:
    row = {"strategy": strategy, "seed": seed, "label": strategy, "calculated_output": True, "stopped": False}
    row.update({k: None for k in ("best_epoch", "best_step", "train_loss", "initial_eval_loss",
                                  "cos_input_before_after", "cos_output_before_after", "time_per_epoch_s",
                                  "init_seconds", "mrr_positive_before", "mrr_positive_after",
                                  "median_rank_negative_before", "median_rank_negative_after",
                                  "median_rank_positive_before", "median_rank_positive_after",
                                  "gen_agreement_before", "gen_agreement_after", "gen_similarity_before",
                                  "gen_similarity_after", "hidden_mse_before", "hidden_mse_after")})
    row.update(eval_loss=eval_loss, **extra)
    return row


def test_rows_average_over_seeds_with_their_spread():
    members = [_member_row("average", 0, 0.30, best_epoch=6.0), _member_row("random_both", 0, 0.90, best_epoch=16.0),
               _member_row("average", 1, 0.34, best_epoch=6.5), _member_row("random_both", 1, 0.80, best_epoch=15.0)]
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.6, 0.8])
    starts = {0: {"average": {"input": e1, "output": e1}, "random_both": {"input": e2, "output": -e1}},
              1: {"average": {"input": e1, "output": e1}, "random_both": {"input": e1, "output": e2}}}
    rows = summarize(members, starts)
    assert [r["strategy"] for r in rows] == ["average", "random_both"]
    avg = rows[0]
    assert avg["seeds"] == 2 and math.isclose(avg["eval_loss"], 0.32)
    assert math.isclose(avg["eval_loss_std"], statistics.stdev([0.30, 0.34]), rel_tol=1e-5)
    assert math.isclose(avg["best_epoch"], 6.25) and avg["train_loss"] is None
    assert avg["cos_input_vs"] == {"random_both": pytest.approx((0.6 + 1.0) / 2)}
    assert avg["cos_output_vs"] == {"random_both": pytest.approx((-1.0 + 0.6) / 2)}
    table = markdown_table(rows)
    lines = table.strip().splitlines()
    # The research table's columns, one per wide metric, then the footer and the cosine tables.
    assert lines[0].count("|") == 12 and "Best epoch" in lines[0] and "Time per epoch (s)" in lines[0]
    assert lines[2].startswith("| **average**") and "**0.3200 ± 0.0283**" in lines[2]
    assert "15.50 ± 0.71" in lines[3]
    assert lines[5] == "Mean ± standard deviation over 2 seeds."
    # Cosines of the starting rows are a small table of their own, never one long cell.
    assert max(len(c) for line in lines if line.startswith("|") for c in line.split("|")) < 60
    start = lines.index("Cosine similarity of the strategies' starting input rows (same seed, averaged):")
    assert lines[start + 2] == "| | average | random\\_both |"
    assert lines[start + 4] == "| average | 1 | 0.8000 |" and lines[start + 5] == "| random\\_both | 0.8000 | 1 |"


def test_a_tiny_comparison_end_to_end(tiny_spec):
    from core.model.loading import load_model

    base = load_model("tiny-random")
    events, saved = [], []
    config = CompareConfig(strategies=["average", "random_both"], seeds=2,
                           finetune=FinetuneConfig(epochs=1, batch_size=2, grad_accum=1, learning_rate=1e-2))

    def write(member, folder):
        (folder / "name.txt").write_text(member.name)

    def keep(task, folder):
        saved.append((task.name, (folder / "name.txt").read_text()))

    result = run_comparison(tiny_spec, base, config, backend=backend_for(), emit=events.append, keep_adapter=keep,
                            write_adapter=write)
    assert saved == [(n, n) for n in ("average-s0", "random_both-s0", "average-s1", "random_both-s1")]
    assert [r["strategy"] for r in result.rows] == ["average", "random_both"]
    for row in result.rows:
        assert REQUIRED <= set(row) and row["seeds"] == 2
        mine = [m["row"]["eval_loss"] for m in result.members if m["strategy"] == row["strategy"]]
        assert math.isclose(row["eval_loss"], statistics.fmean(mine), rel_tol=1e-5)
    steps = [e for e in events if e["type"] == "step"]
    assert steps and all(e["strategy"] in ("average", "random_both") and e["seed"] in (0, 1) for e in steps)
    assert len([e for e in steps if (e["strategy"], e["seed"]) == ("average", 1)]) == 3  # step 0, 1, 2
    data = with_markdown(result.to_dict())
    # The verdict and a blank; the two axes' 4-line table and a blank; 4 table lines, blank, footer; then
    # per side a blank, a title, a blank and a 4-line cosine table.
    assert data["markdown"].startswith("**Verdict.** " + result.verdict["sentence"] + "\n\n| Strategy | Fit: ")
    assert data["markdown"].count("\n") == 2 + 5 + 6 + 2 * 7 and not result.stopped
    assert set(data["verdict"]) == {"metric", "winner", "tied_with_winner", "flags", "sentence", "seeds_to_separate",
                                    "axes", "disagreements"}
    assert set(data["verdict"]["axes"]) == {"fit", "meaning"} and data["verdict"]["axes"]["fit"]["metric"] == "eval_loss"
    assert all(set(row["axes"]) == {"fit", "meaning"} and row["outcome"] in ("win", "tie", "loss") for row in data["rows"])
    for row in data["rows"]:
        assert len(row["eval_loss_ci95"]) == 2 and row["eval_loss_mean"] == row["eval_loss"]
        assert row["eval_loss_ci95"][0] <= row["eval_loss"] <= row["eval_loss_ci95"][1]
    # The two strategies start from different rows and the base model is untouched.
    assert result.rows[0]["cos_output_vs"]["random_both"] < 0.99
    assert tiny_spec.new_token not in base.tokenizer.get_vocab()


def test_stop_between_members(tiny_spec):
    from core.model.loading import load_model

    base = load_model("tiny-random")
    events: list[dict] = []
    config = CompareConfig(strategies=["average", "last_token", "random"],
                           finetune=FinetuneConfig(epochs=1, batch_size=2, grad_accum=1))
    result = run_comparison(tiny_spec, base, config, backend=backend_for(), emit=events.append,
                            should_stop=lambda: any(e["type"] == "member" and e["status"] == "done" for e in events))
    assert result.stopped and [r["strategy"] for r in result.rows] == ["average"]
    assert not result.rows[0]["stopped"]  # the finished member was not cut short


@pytest.mark.slow
def test_calculated_output_beats_random_output_on_the_default_model(default_model):
    """One epoch of average vs random_both on a short part of the wool shop example: the calculated
    output row gives the lower validation loss (the research's main finding)."""
    from core.spec.gloss import GlossSpec, builtin_examples
    from tests.conftest import short

    spec = GlossSpec.from_dict(short(json.loads(builtin_examples()["wool_shop"].read_text(encoding="utf-8"))))
    config = CompareConfig(strategies=["average", "random_both"], seeds=1, finetune=FinetuneConfig(epochs=1),
                           max_new_tokens=4)
    result = run_comparison(spec, default_model, config, backend=backend_for())
    by = {r["strategy"]: r for r in result.rows}
    assert REQUIRED <= set(by["average"])
    assert by["average"]["eval_loss"] < by["random_both"]["eval_loss"]


def test_the_compare_and_finetune_commands(tmp_path, spec_dict, capsys):
    import json

    from core.cli.main import main

    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec_dict))
    common = ["--model", "tiny-random", "--epochs", "1", "--batch-size", "2", "--grad-accum", "1",
              "--runs", str(tmp_path / "runs"), "--max-new-tokens", "4", "--no-progress", "--json"]
    assert main(["compare", str(spec_file), "--strategies", "average,random_both", "--out", str(tmp_path / "out")]
                + common) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "done" and [r["strategy"] for r in data["rows"]] == ["average", "random_both"]
    assert all(REQUIRED <= set(r) for r in data["rows"])
    assert (tmp_path / "out" / "comparison.md").read_text() == data["markdown"]
    assert main(["finetune", str(spec_file), "--strategy", "last_token"] + common) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"][0]["strategy"] == "last_token" and (tmp_path / "runs" / data["run_id"] / "adapter").is_dir()
    # Bad settings: exit status 2, every problem named, nothing started.
    assert main(["finetune", str(spec_file)] + common + ["--lr", "nan", "--epochs", "0"]) == 2
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert [p["field"] for p in problems] == ["learning_rate", "epochs"]
    assert main(["compare", str(spec_file), "--strategies", "average,wool"] + common) == 2
    assert json.loads(capsys.readouterr().out)["problems"][0]["field"] == "strategies"
    assert main(["finetune", str(spec_file)] + common + ["--batch-size", "9"]) == 2
    assert json.loads(capsys.readouterr().out)["problems"][0]["field"] == "batch_size"
    assert len(list((tmp_path / "runs").iterdir())) == 2


def test_a_comparison_over_two_symbols(tiny_spec):
    """Each symbol gets its own rows and verdict; across symbols one row per strategy with its ranks
    and record, and members tagged with their symbol."""
    import json

    from core.model.loading import load_model
    from core.spec.gloss import GlossSpec
    from tests.conftest import TOKEN, tiny_spec_dict

    other = GlossSpec.from_dict({**json.loads(json.dumps(tiny_spec_dict()).replace(TOKEN, "[BLISS_12345]")),
                                 "symbol_id": "12345"})
    base = load_model("tiny-random")
    events: list[dict] = []
    config = CompareConfig(strategies=["average", "random_both"], seeds=2,
                           finetune=FinetuneConfig(epochs=1, batch_size=2, grad_accum=1, learning_rate=1e-2))
    result = run_comparison([tiny_spec, other], base, config, backend=backend_for(), emit=events.append)
    data = with_markdown(result.to_dict())
    assert [s["spec"] for s in data["symbols"]] == data["specs"] == [tiny_spec.title, other.title]
    assert len(data["members"]) == 8 and {m["symbol"] for m in data["members"]} == set(data["specs"])
    for one in data["symbols"]:
        assert len(one["members"]) == 4 and one["verdict"]["sentence"]
    by = {r["strategy"]: r for r in data["rows"]}
    assert set(by) == {"average", "random_both"}
    for row in data["rows"]:
        assert row["wins"] + row["ties"] + row["losses"] == 2 and set(row["ranks"]) == set(data["specs"])
        per_symbol = [next(r for r in s["rows"] if r["strategy"] == row["strategy"])["eval_loss"]
                      for s in data["symbols"]]
        assert math.isclose(row["eval_loss"], statistics.fmean(per_symbol), rel_tol=1e-5)
    assert data["verdict"]["sentence"].startswith("Across 2 symbols")
    assert data["markdown"].startswith("**Verdict.** " + data["verdict"]["sentence"])
    assert "| Strategy | Wins | Ties | Losses | Fit: mean rank | Fit: wins / ties / losses |" in data["markdown"]
    for row in data["rows"]:  # each axis: a rank on each symbol and a record over the two
        assert all(set(row["axes"][k]["ranks"]) == set(data["specs"]) for k in ("fit", "meaning"))
        assert all(sum(row["axes"][k][c] for c in ("wins", "ties", "losses")) == 2 for k in ("fit", "meaning"))
    assert {e["symbol"] for e in events if e["type"] == "step"} == {tiny_spec.new_token, other.new_token}


def test_two_symbols_may_not_share_a_token(tiny_spec):
    from core.model.loading import load_model

    with pytest.raises(InputError) as err:
        run_comparison([tiny_spec, tiny_spec], load_model("tiny-random"),
                       CompareConfig(seeds=1, finetune=FinetuneConfig(batch_size=2)), backend=backend_for())
    assert err.value.fields == ["specs"] and "more than once" in str(err.value)
