"""core/cli/common.py: the one JSON line on stdout, status lines on stderr, progress bars and lines."""

from __future__ import annotations

import argparse
import io
import json
import math
from pathlib import Path

import pytest
import torch

from core.cli.common import Progress, add_common_arguments, emit_json, load_base, say
from core.spec.errors import InputError


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_emit_json_writes_one_strict_line_to_args_stdout(capsys):
    out = io.StringIO()
    args = argparse.Namespace(stdout=out)
    emit_json(args, {"loss": math.nan, "eta": math.inf, "rank": torch.tensor(3), "row": torch.tensor([0.5, 1.5]),
                     "path": Path("/tmp/x"), "word": "Grüße", "nested": {"values": (1, -math.inf)}})
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    data = _strict(text)
    assert data == {"loss": None, "eta": None, "rank": 3, "row": [0.5, 1.5], "path": "/tmp/x", "word": "Grüße",
                    "nested": {"values": [1, None]}}
    assert "Grüße" in text  # not escaped
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # only args.stdout is written to
    emit_json(args, {"second": True})
    assert [_strict(line) for line in out.getvalue().splitlines()][1] == {"second": True}


def test_say_writes_a_line_to_stderr_only(capsys):
    say("Loading tiny-random…")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "Loading tiny-random…\n"


def test_common_arguments():
    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    args = parser.parse_args([])
    assert (args.model, args.json, args.seed, args.debug) == (None, False, 0, False)
    args = parser.parse_args(["--model", "tiny-random", "--json", "--seed", "7", "--debug"])
    assert (args.model, args.json, args.seed, args.debug) == ("tiny-random", True, 7, True)
    with pytest.raises(SystemExit):
        parser.parse_args(["--seed", "many"])


def test_progress_prints_one_line_per_stage(capsys):
    progress = Progress()
    progress({"stage": "check", "message": "Checking the spec"})
    progress({"stage": "check", "message": "Checking the spec again"})  # same stage: no new line
    progress({"stage": "load", "message": "Loading the model"})
    progress({"stage": "quiet"})  # no message: nothing printed
    progress({"stage": "load", "message": "Loading again after another stage"})
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == ["Checking the spec", "Loading the model", "Loading again after another stage"]


def test_progress_draws_a_bar_for_counted_stages(capsys):
    progress = Progress({"train": ("step", "max_steps")})
    for step in (1, 2, 3):
        progress({"stage": "train", "step": step, "max_steps": 3, "loss": 1.0 / step, "eval_loss": 2.0 / step,
                  "note": 0.123456})
    bar = progress._bar
    assert bar is not None and bar.n == 3 and bar.total == 3
    progress({"stage": "save", "message": "Saving the adapter"})  # a line closes the bar first
    assert progress._bar is None
    err = capsys.readouterr().err
    assert "3/3" in err and "train" in err
    assert "loss=0.3333" in err and "eval_loss=0.6667" in err and "note" not in err
    assert err.rstrip().endswith("Saving the adapter")


def test_progress_bar_follows_the_stage_and_never_goes_back(capsys):
    progress = Progress({"optimize": ("epoch", "epochs"), "train": ("step", "max_steps")})
    progress({"stage": "optimize", "epoch": 2, "epochs": 4})
    first = progress._bar
    progress({"stage": "optimize", "epoch": 1, "epochs": 4})  # a late event does not move it back
    assert progress._bar is first and first.n == 2
    progress({"stage": "train", "step": 1, "max_steps": 10})  # another counted stage: a new bar
    assert progress._bar is not first and progress._bar.total == 10 and progress._bar.n == 1
    progress.close()
    progress.close()  # twice is fine
    assert progress._bar is None
    err = capsys.readouterr().err
    assert "2/4" in err and "1/10" in err


def test_disabled_progress_prints_nothing(capsys):
    progress = Progress(enabled=False)
    progress({"stage": "load", "message": "Loading"})
    progress({"stage": "optimize", "epoch": 1, "epochs": 3})
    progress.close()
    assert capsys.readouterr() == ("", "")


def test_load_base_reports_and_refuses(capsys):
    seen = []
    progress = Progress()
    progress_events = lambda event: (seen.append(event), progress(event))  # noqa: E731
    base = load_base("tiny-random", progress_events)
    assert base.name == "tiny-random" and base.tokenizer is not None
    with pytest.raises(InputError) as err:
        load_base("/no/such/model/folder", progress_events)
    assert err.value.fields == ["model"]
    assert all(e["stage"] == "load" for e in seen)
