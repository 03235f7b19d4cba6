"""core/cli/train.py: ``finetune`` and ``compare`` flags reach the configs, bad values exit 2 naming
the setting before the model loads, ``--json`` prints one object with ``rows``, Ctrl-C and failures.

tests/core/experiment/test_compare.py runs both commands end to end once and checks a few bad values, and
tests/test_bad_inputs.py checks epochs, learning rate, batch size, dropout, warm-up, seeds and
strategies; this file covers the other flags and the command's own behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import core.cli.train as cli_train
import core.runs.submit as submit_module
from tests.core.cli.conftest import run
from tests.conftest import tiny_spec_dict

QUICK = ["--model", "tiny-random", "--epochs", "1", "--batch-size", "2", "--grad-accum", "1", "--no-progress"]


def one_json(out: str) -> dict:
    assert out.endswith("\n") and out.count("\n") == 1, out
    return json.loads(out)


def _fake_submit(monkeypatch, name: str, job=lambda ctx: None) -> list[tuple]:
    """Replace ``core.runs.submit.<name>`` with one that records its arguments and queues ``job``."""
    calls: list[tuple] = []

    def fake(runner, *args, **kwargs):
        calls.append((args, kwargs))
        return runner.submit(job, kind="test")

    monkeypatch.setattr(submit_module, name, fake)
    if hasattr(cli_train, name):  # in case the command imports it at module level
        monkeypatch.setattr(cli_train, name, fake)
    return calls


def test_finetune_flags_reach_the_run_and_json_has_one_row(capsys, spec_file, tmp_path):
    runs = tmp_path / "runs"
    code, out, err = run(capsys, "finetune", spec_file, "--model", "tiny-random", "--json", "--no-progress",
                         "--runs", runs, "--strategy", "last_token", "--seed", "3", "--max-new-tokens", "2",
                         "--epochs", "1", "--learning-rate", "0.02", "--batch-size", "2", "--grad-accum", "2",
                         "--lr-scheduler", "constant", "--warmup-ratio", "0", "--weight-decay", "0.01",
                         "--max-grad-norm", "0.5", "--eval-every", "1", "--keep-last", "--lora-r", "4",
                         "--lora-alpha", "8", "--lora-dropout", "0", "--no-use-rslora",
                         "--lora-targets", "attention_mlp", "--compute-dtype", "float32", "--eval-batch-size", "2")
    assert code == 0, err
    data = one_json(out)
    assert data["status"] == "done" and len(data["rows"]) == 1
    row = data["rows"][0]
    assert row["strategy"] == "last_token"
    assert list(row)[:len(cli_train.ROW_KEYS)] == list(cli_train.ROW_KEYS)  # the table's columns first
    # 4 sentences, 2 per batch, 2 batches per step: one optimizer step — the flags were used.
    assert data["steps"] == 1 and Path(data["adapter"]).is_dir()
    stored = json.loads((runs / data["run_id"] / "config.json").read_text())
    assert stored["max_new_tokens"] == 2
    assert stored["init"]["strategy"] == "last_token" and stored["init"]["seed"] == 3
    assert stored["init"]["precision"] == "auto"
    ft = stored["finetune"]
    assert {k: ft[k] for k in ("epochs", "learning_rate", "batch_size", "grad_accum", "lr_scheduler",
                               "warmup_ratio", "weight_decay", "max_grad_norm", "eval_every", "restore_best",
                               "lora_r", "lora_alpha", "lora_dropout", "use_rslora", "lora_targets",
                               "compute_dtype", "eval_batch_size", "seed")} == {
        "epochs": 1, "learning_rate": 0.02, "batch_size": 2, "grad_accum": 2, "lr_scheduler": "constant",
        "warmup_ratio": 0.0, "weight_decay": 0.01, "max_grad_norm": 0.5, "eval_every": 1, "restore_best": False,
        "lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0, "use_rslora": False, "lora_targets": "attention_mlp",
        "compute_dtype": "float32", "eval_batch_size": 2, "seed": 3}
    adapter = json.loads((Path(data["adapter"]) / "adapter_config.json").read_text())
    assert adapter["r"] == 4 and adapter["lora_alpha"] == 8 and adapter["use_rslora"] is False
    assert set(adapter["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                              "down_proj"}
    assert f"Run {data['run_id']} in" in err


def test_unset_flags_keep_the_defaults_and_aliases_agree(capsys, spec_file, tmp_path, monkeypatch):
    from core.train.finetune import FinetuneConfig

    calls = _fake_submit(monkeypatch, "submit_finetune")
    base = ["finetune", spec_file, "--model", "tiny-random", "--no-progress", "--runs", tmp_path / "runs", "--json",
            "--batch-size", "2"]  # the default 10 is more than the spec's 4 sentences
    assert run(capsys, *base)[0] == 0
    assert run(capsys, *base, "--lr", "0.005", "--no-restore-best", "--gradient-checkpointing",
               "--pad-to-length", "16")[0] == 0
    assert run(capsys, *base, "--learning-rate", "0.005", "--keep-last", "--strategy", "pca")[0] == 0
    (args0, _), (args1, kw1), (args2, _) = calls
    spec, _base_model, init0, config0, *rest = args0
    assert spec.new_token == tiny_spec_dict()["new_token"]
    assert init0.strategy == "average" and init0.seed == 0
    assert config0 == FinetuneConfig(batch_size=2)  # nothing else given: the research's configuration
    config1, config2 = args1[3], args2[3]
    assert config1.learning_rate == config2.learning_rate == 0.005
    assert config1.restore_best is False and config2.restore_best is False
    assert config1.gradient_checkpointing is True and config1.pad_to_length == 16
    assert args2[2].strategy == "pca"
    max_new = rest[0] if rest else kw1.get("max_new_tokens")
    assert max_new == 24  # the default generation length


def test_compare_flags_reach_the_comparison_config(capsys, spec_file, tmp_path, monkeypatch):
    calls = _fake_submit(monkeypatch, "submit_comparison")
    code, out, err = run(capsys, "compare", spec_file, "--model", "tiny-random", "--no-progress", "--json",
                         "--runs", tmp_path / "runs", "--strategies", "average, last_token", "--seeds", "2",
                         "--seed", "5", "--max-new-tokens", "3", "--lora-r", "2", "--epochs", "4", "--lr", "0.001",
                         "--batch-size", "3", "--precision", "bfloat16", "--negative-logit", "-8", "--opt-epochs", "7")
    assert code == 0, err
    data = one_json(out)
    assert data["status"] == "done" and data["rows"] == []  # the fake job had no result
    ((_, _, config, where), _), = calls
    assert config.strategies == ["average", "last_token"] and config.seeds == 2 and config.max_new_tokens == 3
    assert (where.backend, where.workers) == ("local", 0)
    assert config.init.seed == 5
    # The initialization settings reach every member (the strategy is set per member).
    assert (config.init.precision, config.init.negative_logit, config.init.opt_epochs) == ("bfloat16", -8.0, 7)
    assert (config.finetune.lora_r, config.finetune.epochs, config.finetune.learning_rate,
            config.finetune.batch_size) == (2, 4, 0.001, 3)
    calls.clear()
    # Every strategy: the description strategy needs the spec's description, and says so before any work.
    code, _, err = run(capsys, "compare", spec_file, "--model", "tiny-random", "--no-progress", "--runs",
                       tmp_path / "runs", "--strategies", "all", "--batch-size", "2")
    assert code == 2 and "description: is empty" in err and not calls
    described = tmp_path / "described.json"
    described.write_text(json.dumps(json.loads(Path(spec_file).read_text(encoding="utf-8"))
                                    | {"description": "a shop that sells wool"}), encoding="utf-8")
    assert run(capsys, "compare", described, "--model", "tiny-random", "--no-progress", "--runs", tmp_path / "runs",
               "--strategies", "all", "--batch-size", "2")[0] == 0
    from core.embedding.strategies import STRATEGIES

    assert calls[0][0][2].strategies == list(STRATEGIES)
    calls.clear()
    assert run(capsys, "compare", described, "--model", "tiny-random", "--no-progress", "--runs", tmp_path / "runs",
               "--strategies", "field", "--batch-size", "2")[0] == 0
    assert calls[0][0][2].strategies[5:] == ["distill", "adaptivocab", "description", "interpolation"]


def _named(field: str, err: str) -> bool:
    return field in err or "--" + field.replace("_", "-") in err


BAD = [
    ("finetune", ["--grad-accum", "0"], "grad_accum"),
    ("finetune", ["--lora-r", "0"], "lora_r"),
    ("finetune", ["--lora-alpha", "5000"], "lora_alpha"),
    ("finetune", ["--eval-every", "0"], "eval_every"),
    ("finetune", ["--weight-decay", "2"], "weight_decay"),
    ("finetune", ["--max-grad-norm", "0"], "max_grad_norm"),
    ("finetune", ["--pad-to-length=-1"], "pad_to_length"),
    ("finetune", ["--eval-batch-size", "999"], "eval_batch_size"),
    ("finetune", ["--max-new-tokens", "0"], "max_new_tokens"),
    ("finetune", ["--lr-scheduler", "zigzag"], "lr_scheduler"),
    ("finetune", ["--compute-dtype", "float8"], "compute_dtype"),
    ("finetune", ["--lora-targets", "everything"], "lora_targets"),
    ("finetune", ["--epochs", "ten"], "epochs"),
    ("finetune", ["--batch-size", "2.5"], "batch_size"),
    ("finetune", ["--strategy", "telepathy"], "strategy"),
    ("finetune", ["--precision", "float8"], "precision"),
    ("compare", ["--negative-logit", "500"], "negative_logit"),
    ("compare", ["--seeds", "11"], "seeds"),
    ("compare", ["--max-new-tokens", "500"], "max_new_tokens"),
    ("compare", ["--strategies", "average,average"], "strategies"),
    ("compare", ["--lora-dropout", "0.95"], "lora_dropout"),
    ("compare", ["--batch-size", "5"], "batch_size"),  # more than the 4 sentences
    ("compare", ["--workers", "17"], "workers"),
    ("compare", ["--leak-rank", "0"], "leak_rank"),
]


@pytest.mark.parametrize("command, extra, field", BAD, ids=[f"{c} {' '.join(e)}" for c, e, _ in BAD])
def test_bad_values_exit_2_naming_the_setting_before_the_model_loads(capsys, spec_file, tmp_path, monkeypatch,
                                                                     command, extra, field):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the settings were checked")

    monkeypatch.setattr(cli_train, "load_base", no_model)
    runs = tmp_path / "runs"
    code, out, err = run(capsys, command, spec_file, "--model", "tiny-random", "--runs", runs, "--no-progress",
                         "--json", "--batch-size", "2", *extra)  # the last value given counts
    assert code == 2, err
    assert _named(field, err), err
    assert "Traceback" not in err and " — " in err
    if out:  # a checked value (not an argparse error): the problems as one JSON object
        problems = one_json(out)["problems"]
        assert any(p["field"] == field for p in problems)
    assert not runs.exists() or not any(runs.iterdir())  # nothing was started


def test_ctrl_c_stops_the_job_and_exits_130(capsys, spec_file, tmp_path, monkeypatch):
    import threading

    from core.runs.jobs import JobRunner

    started = threading.Event()

    def job(ctx):
        started.set()
        while not ctx.stop_requested:
            ctx.emit(type="step", step=1)
            started.wait(0.01)
        return None

    calls = _fake_submit(monkeypatch, "submit_finetune", job)
    real_wait = JobRunner.wait
    interrupted = []

    def wait(self, job_id, timeout=None):
        if not interrupted:
            started.wait(30)
            interrupted.append(job_id)
            raise KeyboardInterrupt
        return real_wait(self, job_id, timeout)

    monkeypatch.setattr(JobRunner, "wait", wait)
    code, out, err = run(capsys, "finetune", spec_file, *QUICK, "--runs", tmp_path / "runs", "--json")
    assert calls and interrupted
    assert code == 130
    data = one_json(out)
    assert data["status"] == "stopped" and data["run_id"] == interrupted[0] and data["rows"] == []
    assert "Stopping after the current optimizer step" in err
    status = json.loads((tmp_path / "runs" / data["run_id"] / "status.json").read_text())
    assert status["status"] == "stopped"


def test_a_failed_job_exits_1_with_the_error(capsys, spec_file, tmp_path, monkeypatch):
    def job(ctx):
        raise RuntimeError("out of memory in the test")

    _fake_submit(monkeypatch, "submit_comparison", job)
    code, out, err = run(capsys, "compare", spec_file, *QUICK, "--runs", tmp_path / "runs", "--json",
                         "--strategies", "average")
    assert code == 1
    data = one_json(out)
    assert data["status"] == "failed" and data["rows"] == [] and "out of memory in the test" in data["error"]
    assert "the run failed" in err


def test_readable_finetune_report(capsys, spec_file, tmp_path):
    code, out, err = run(capsys, "finetune", spec_file, *QUICK, "--runs", tmp_path / "runs", "--max-new-tokens", "2",
                         "--strategy", "random_both")
    assert code == 0, err
    assert not out.lstrip().startswith("{")
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) >= 3 and any("random_both" in line or "Random" in line for line in table[2:])
    (run_dir,) = list((tmp_path / "runs").iterdir())
    assert f"run: {run_dir.name} (done)" in out
    assert f"adapter: {run_dir / 'adapter'}" in out


def test_compare_takes_several_specs_or_builtin(capsys, spec_file, tmp_path, monkeypatch):
    calls = _fake_submit(monkeypatch, "submit_comparison")
    other = tmp_path / "other.json"
    other.write_text(spec_file.read_text().replace("[BLISS_29111]", "[BLISS_4]"), encoding="utf-8")
    code, out, err = run(capsys, "compare", spec_file, other, "--model", "tiny-random", "--no-progress", "--json",
                         "--runs", tmp_path / "runs", "--batch-size", "2", "--workers", "2")
    assert code == 0, err
    ((specs, _, config, where), _), = calls
    assert [s.new_token for s in specs] == ["[BLISS_29111]", "[BLISS_4]"] and where.workers == 2
    calls.clear()
    from core.spec.gloss import builtin_examples

    code, out, err = run(capsys, "compare", "builtin", "--model", "tiny-random", "--no-progress", "--json",
                         "--runs", tmp_path / "runs")
    assert code == 0, err
    assert len(calls[0][0][0]) == len(builtin_examples()) >= 3


def test_several_specs_with_problems_name_each_file(capsys, spec_file, tmp_path, monkeypatch):
    _fake_submit(monkeypatch, "submit_comparison")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**tiny_spec_dict(), "glosses": []}), encoding="utf-8")
    code, out, err = run(capsys, "compare", spec_file, bad, spec_file, "--model", "tiny-random", "--no-progress",
                         "--json", "--runs", tmp_path / "runs", "--batch-size", "2")
    assert code == 2 and "Traceback" not in err
    fields = [p["field"] for p in one_json(out)["problems"]]
    assert "bad.json glosses" in fields and "specs" in fields  # spec.json twice shares its token


def test_compare_over_two_symbols_end_to_end(capsys, spec_file, tmp_path):
    other = tmp_path / "other.json"
    other.write_text(spec_file.read_text().replace("[BLISS_29111]", "[BLISS_4]"), encoding="utf-8")
    code, out, err = run(capsys, "compare", spec_file, other, *QUICK, "--strategies", "average,random",
                         "--seeds", "2", "--runs", tmp_path / "runs", "--out", tmp_path / "out")
    assert code == 0, err
    assert out.startswith("**Verdict.** Across 2 symbols")
    assert "| Strategy | Wins | Ties | Losses | Fit: mean rank | Fit: wins / ties / losses | Meaning: mean rank |" in out
    saved = json.loads((tmp_path / "out" / "comparison.json").read_text())
    assert len(saved["symbols"]) == 2 and len(saved["members"]) == 8
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Across 2 symbols" in html and html.count("<section>") >= 2
    adapters = sorted(p.name for p in (tmp_path / "runs").glob("*/adapters/*"))
    assert len(adapters) == 8 and adapters[0].startswith("BLISS_29111-average-s0")
