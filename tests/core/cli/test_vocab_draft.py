"""``python -m core vocab draft`` on the tiny model: a vocabulary that loads, every symbol accounted
for, bad input named (exit 2, no file changed), a run killed with SIGKILL that resumes into the
same file as an uninterrupted run, and with ``--backend ray`` (a local Ray instance with 2 CPUs that
each Ray test starts and ends) the same files as in this process, a run begun here resumed there,
and bad Ray settings named."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


SIX = ["--ids", ",".join(IDS.split(",")[:6]), "--batch-symbols", "2", *TINY]


def _files(out: Path) -> list[bytes]:
    return [Path(f"{out}{suffix}").read_bytes() for suffix in ("", ".report.jsonl", ".meta.json")]


def test_on_ray_the_same_files_as_here_and_a_run_begun_here_resumes_there(capsys, tmp_path, ray2):
    here, there, cut = tmp_path / "here.jsonl", tmp_path / "there.jsonl", tmp_path / "cut.jsonl"
    code, stdout, stderr = run(capsys, "vocab", "draft", *SIX, "--out", here, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["where"] == "this process"
    code, stdout, stderr = run(capsys, "vocab", "draft", *SIX, "--backend", "ray", "--out", there, "--json")
    assert code == 0, stderr
    data = json.loads(stdout)
    assert data["where"].startswith("ray: a local Ray instance (1 node, 2 CPUs") and data["handled_now"] == 6
    assert _files(there) == _files(here) and data["drafted"] >= 4
    # stopped here after the first batch (two symbols), continued on Ray: the same files again
    report = atomic.complete_lines(f"{here}.report.jsonl")[:2]
    first = {json.loads(line)["symbol_id"] for line in report}
    specs = [line for line in atomic.complete_lines(here) if json.loads(line)["symbol_id"] in first]
    cut.write_text("".join(line + "\n" for line in specs), encoding="utf-8")
    Path(f"{cut}.report.jsonl").write_text("".join(line + "\n" for line in report), encoding="utf-8")
    Path(f"{cut}.meta.json").write_bytes(Path(f"{here}.meta.json").read_bytes())
    code, stdout, stderr = run(capsys, "vocab", "draft", *SIX, "--backend", "ray", "--resume", "--out", cut, "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["handled_now"] == 4 and _files(cut) == _files(here)


def test_bad_ray_settings_exit_2_name_the_setting_and_write_nothing(capsys, tmp_path, ray2):
    import socket

    new = tmp_path / "new.jsonl"
    cases = [(["--backend", "ray", "--ray-cpus", "4"], "ray_cpus"),      # the test's instance has 2 CPUs
             (["--backend", "ray", "--ray-gpus", "1"], "ray_gpus"),      # and no GPU
             (["--backend", "slurm"], "invalid choice")]                # not a choice: argparse says so
    for argv, field in cases:
        code, stdout, stderr = run(capsys, "vocab", "draft", *SIX, *argv, "--out", new, "--json")
        assert code == 2, (argv, stderr)
        if field == "invalid choice":
            assert field in stderr and stdout == ""
            continue
        # the message the command's error handler writes (stderr also holds Ray's own log lines)
        problems = json.loads(stdout)["problems"]
        assert [p["field"] for p in problems] == [field] and problems[0]["fix"], problems
    ray2.shutdown()   # nothing running: the address below is joined, not the test's instance
    with socket.socket() as s:   # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, stdout, stderr = run(capsys, "vocab", "draft", *SIX, "--ray-address", f"127.0.0.1:{port}", "--out", new)
    assert code == 2 and "ray_address" in stderr and "ray start --head" in stderr, stderr
    assert list(tmp_path.iterdir()) == []
