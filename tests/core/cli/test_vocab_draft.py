"""``python -m core vocab draft`` on the tiny model: a vocabulary that loads, every symbol accounted
for, bad input named (exit 2, no file changed), and a run killed with SIGKILL that resumes into the
same file as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core import atomic
from tests.core.cli.conftest import run

ROOT = Path(__file__).resolve().parents[3]
IDS = "16228,29111,12914,24918,22369,23705,29642,8505"
# The tiny model is random: thresholds that let its ranks through, as N and M would for a real model.
TINY = ["--model", "tiny-random", "--generate", "2", "--positive-rank", "50000", "--negative-rank", "1",
        "--no-progress"]


def test_a_vocabulary_is_drafted_loads_and_lists_every_symbol_not_drafted(capsys, tmp_path):
    from core.experiment.vocabulary.load import load_vocabulary

    out = tmp_path / "v.jsonl"
    code, stdout, stderr = run(capsys, "vocab", "draft", "--ids", IDS + ",99999999", *TINY, "--out", out, "--json")
    assert code == 0, stderr
    data = json.loads(stdout)
    assert data["symbols"] == 8 and data["unknown_ids"] == ["99999999"] and "99999999" in stderr
    assert data["check"]["passed"] and data["check"]["symbols"] == data["drafted"] >= 5
    vocab = load_vocabulary(out)
    report = [json.loads(line) for line in atomic.complete_lines(f"{out}.report.jsonl")]
    # every symbol is accounted for: drafted (a line of the vocabulary) or not, with its reason
    assert [r["symbol_id"] for r in report] == IDS.split(",")
    assert {r["symbol_id"] for r in report if r["status"] == "drafted"} == {s.symbol_id for s in vocab.specs}
    assert all(r["reason"] for r in report if r["status"] != "drafted")
    assert {r["symbol_id"] for r in data["not_drafted"]} == {r["symbol_id"] for r in report if r["status"] != "drafted"}
    code, stdout, _ = run(capsys, "vocab", "draft", "--ids", IDS, *TINY, "--out", tmp_path / "w.jsonl")
    assert code == 0 and f"Drafted {data['drafted']} of 8 symbols" in stdout and "s per symbol" in stdout


def test_bad_input_exits_2_names_the_field_and_changes_no_file(capsys, tmp_path):
    done = tmp_path / "done.jsonl"
    assert run(capsys, "vocab", "draft", "--ids", "16228,29111", *TINY, "--out", done)[0] == 0
    kept = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    empty = tmp_path / "ids.txt"
    empty.write_text("\n", encoding="utf-8")
    new = tmp_path / "new.jsonl"
    cases = [
        (["--ids", "99999999,x1"], new, "ids"),
        (["--ids", ","], new, "ids"),
        (["--ids-file", empty], new, "--ids-file"),
        (["--lexicon", "all", "--pos", "verb"], new, "pos"),
        (["--lexicon", "all", "--limit", "0"], new, "limit"),
        (["--ids", "16228", "--writer", tmp_path / "no-such-model"], new, "--writer"),
        (["--ids", "16228,29111"], done, "--out"),
        (["--ids", "16228,29111", "--resume", "--seed", "1"], done, "--resume"),
        (["--ids", "16228,29111", "--resume", "--generate", "3"], done, "--resume"),
        (["--ids", "16228"], tmp_path / "missing" / "v.jsonl", "--out"),
    ]
    for argv, out, field in cases:
        code, stdout, stderr = run(capsys, "vocab", "draft", *TINY, *argv, "--out", out, "--json")
        assert code == 2, (argv, stderr)
        problems = json.loads(stdout)["problems"]
        assert field in [p["field"] for p in problems] and all(p["fix"] for p in problems), (field, problems)
        assert "Traceback" not in stderr
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "ids.txt"} == kept
    code, _, stderr = run(capsys, "vocab", "draft", "--lexicon", "multi-token", "--ids", "1", "--out", new)
    assert code == 2 and "not allowed with argument" in stderr


def _command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "core", "vocab", "draft", "--ids", IDS, "--batch-symbols", "2", *TINY,
            "--out", str(out), *extra]


def _report_lines(out: Path) -> int:
    path = Path(f"{out}.report.jsonl")
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_a_killed_run_resumes_into_the_same_vocabulary(tmp_path):
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    killed = tmp_path / "killed.jsonl"
    proc = subprocess.Popen(_command(killed), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while _report_lines(killed) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    written = _report_lines(killed)
    assert 3 <= written < 8                                        # stopped part way
    resumed = subprocess.run(_command(killed, "--resume", "--json"), cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["handled_now"] == 8 - written
    whole = tmp_path / "whole.jsonl"
    straight = subprocess.run(_command(whole), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert straight.returncode == 0, straight.stderr
    assert killed.read_bytes() == whole.read_bytes() and killed.read_bytes().count(b"\n") >= 5
    assert Path(f"{killed}.report.jsonl").read_bytes() == Path(f"{whole}.report.jsonl").read_bytes()
