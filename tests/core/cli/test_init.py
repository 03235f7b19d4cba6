"""``python -m core init``: the readable report, --json, --out, bad options, and ``python -m core``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.spec.gloss import DATA_DIR
from tests.core.cli.conftest import run
from tests.conftest import TOKEN, tiny_spec_dict

ROOT = Path(__file__).resolve().parents[3]


def check_json_fields(data: dict) -> None:
    for key in ("strategy", "token", "token_id", "output_fit_residual", "testing", "generations"):
        assert key in data, key
    assert isinstance(data["token_id"], int) and isinstance(data["output_fit_residual"], float)
    assert data["testing"] and data["generations"]
    for row in data["testing"]:
        assert set(row) >= {"context", "kind", "rank_new_token", "rank_targets", "top5"}
        assert row["kind"] in ("positive", "negative")
        assert isinstance(row["rank_new_token"], int) and row["rank_new_token"] >= 1
        assert row["rank_targets"] and all(isinstance(r, int) for r in row["rank_targets"].values())
        assert len(row["top5"]) == 5 and all(set(t) == {"token", "logit"} for t in row["top5"])
    for gen in data["generations"]:
        assert set(gen) >= {"prompt", "with_gloss", "with_token"}


def test_json_is_one_object_on_stdout(capsys, spec_file):
    code, out, err = run(capsys, "init", spec_file, "--model", "tiny-random", "--json", "--max-new-tokens", "4")
    assert code == 0, err
    data = json.loads(out)  # the whole of stdout is one JSON object
    check_json_fields(data)
    assert data["strategy"] == "average" and data["token"] == TOKEN
    assert [r["context"] for r in data["testing"]][:2] == tiny_spec_dict()["testing_positive_contexts"]
    assert "Checking the spec" in err


def test_readable_report(capsys, spec_file):
    code, out, err = run(capsys, "init", spec_file, "--model", "tiny-random", "--strategy", "last_token",
                         "--max-new-tokens", "4")
    assert code == 0, err
    assert "Strategy: last_token" in out and f"New token: {TOKEN}" in out
    assert "fit residual" in out and "Ranks on the testing contexts" in out
    for context in tiny_spec_dict()["testing_negative_contexts"]:
        assert context in out
    assert "Nearest vocabulary tokens" in out and "Cosine similarity" in out
    assert out.count("    gloss: ") == 2 and out.count("    token: ") == 2
    assert not out.lstrip().startswith("{")


def test_progress_bar_while_optimizing(capsys, spec_file):
    code, _, err = run(capsys, "init", spec_file, "--model", "tiny-random", "--strategy", "optimized",
                       "--opt-epochs", "3", "--opt-lr", "0.02", "--max-new-tokens", "2")
    assert code == 0, err
    assert "3/3" in err and "val_loss" in err


def test_out_saves_a_folder_that_reloads_with_the_same_ranks(capsys, spec_file, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir = tmp_path / "model"
    code, out, err = run(capsys, "init", spec_file, "--model", "tiny-random", "--json", "--out", out_dir,
                         "--max-new-tokens", "2")
    assert code == 0, err
    data = json.loads(out)
    assert data["saved_to"] == str(out_dir.resolve())
    model = AutoModelForCausalLM.from_pretrained(out_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    assert tokenizer.convert_tokens_to_ids(TOKEN) == data["token_id"]
    for row in data["testing"]:
        ids = tokenizer.encode(row["context"], add_special_tokens=False)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
        assert int((logits > logits[data["token_id"]]).sum()) + 1 == row["rank_new_token"]


@pytest.mark.parametrize("extra, field", [
    (["--strategy", "best"], "--strategy"),
    (["--opt-lr", "fast"], "--opt-lr"),
    (["--opt-lr", "-1"], "opt_lr"),
    (["--opt-lr", "nan"], "opt_lr"),
    (["--opt-epochs", "0"], "opt_epochs"),
    (["--seed", "-3"], "seed"),
    (["--max-new-tokens", "0"], "max_new_tokens"),
    (["--model", "/no/such/folder"], "model"),
])
def test_bad_options_exit_2_naming_the_field(capsys, spec_file, extra, field):
    args = ["init", spec_file] + (["--model", "tiny-random"] if "--model" not in extra else []) + extra
    code, out, err = run(capsys, *args)
    assert code == 2
    assert field in err and "Traceback" not in err


def test_bad_spec_exits_2_with_every_problem(capsys, tmp_path):
    data = tiny_spec_dict()
    data["positive_contexts"] = data["positive_contexts"][:2]
    data["generation_prompts"] = ["no placeholder here"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = run(capsys, "init", path, "--model", "tiny-random", "--json")
    assert code == 2 and "Traceback" not in err
    assert "positive_contexts" in err and "generation_prompts (item 1)" in err
    problems = json.loads(out)["problems"]  # --json: the problems as one JSON object
    assert {p["field"] for p in problems} == {"positive_contexts", "generation_prompts (item 1)"}


def test_spec_invalid_for_the_tokenizer_and_missing_file(capsys, tmp_path):
    data = tiny_spec_dict()
    data["target_tokens"] = ["wool", "knitwearzz"]
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    code, _, err = run(capsys, "init", path, "--model", "tiny-random")
    assert code == 2 and "target_tokens (item 2)" in err
    code, _, err = run(capsys, "init", tmp_path / "missing.json")
    assert code == 2 and "spec file" in err


def test_out_that_is_a_busy_folder_is_refused_before_any_work(capsys, spec_file, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "init", spec_file, "--model", "tiny-random", "--out", busy)
    assert code == 2 and "out:" in err and "Copying" not in err


def _module_run(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "core", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_python_dash_m_core(spec_file, tmp_path):
    done = _module_run("init", str(spec_file), "--model", "tiny-random", "--json", "--max-new-tokens", "3")
    assert done.returncode == 0, done.stderr
    check_json_fields(json.loads(done.stdout))
    bad = tmp_path / "bad.json"
    bad.write_text('{"symbol_id": "29111", "glosses": []', encoding="utf-8")
    failed = _module_run("init", str(bad), "--model", "tiny-random", "--json")
    assert failed.returncode == 2
    assert "Traceback" not in failed.stderr and "spec file" in failed.stderr


@pytest.mark.slow
def test_default_model_average_on_the_wool_shop(capsys):
    """Issue 2's acceptance test: ranks of the calculated output row on held-out contexts, and --json."""
    # Eight new tokens per prompt are enough to check the generations' fields and keep this short.
    code, out, err = run(capsys, "init", DATA_DIR / "wool_shop.json", "--strategy", "average", "--json",
                         "--max-new-tokens", "8")
    assert code == 0, err
    data = json.loads(out)
    check_json_fields(data)
    positive = sorted(r["rank_new_token"] for r in data["testing"] if r["kind"] == "positive")
    negative = [r["rank_new_token"] for r in data["testing"] if r["kind"] == "negative"]
    assert positive and negative
    assert data["quality"]["median_rank_positive"] <= 5, positive
    assert min(negative) >= 100, negative


def test_a_placeholder_glued_to_a_letter_is_warned_about_and_the_run_goes_on(capsys, tmp_path):
    spec = tmp_path / "glued.json"
    spec.write_text(json.dumps(tiny_spec_dict() | {"generation_prompts": ["A{placeholder} is"]}), encoding="utf-8")
    code, stdout, stderr = run(capsys, "init", spec, "--model", "tiny-random", "--json", "--max-new-tokens", "2")
    assert code == 0 and json.loads(stdout)["generations"]
    assert "warning: generation_prompts (item 1): {placeholder} is glued to the letter before it" in stderr
    assert "put a space before {placeholder}" in stderr
