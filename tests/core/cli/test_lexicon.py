"""``python -m core lexicon show|search|stats``: readable and --json output, exit 2 on bad input."""

from __future__ import annotations

import json

import pytest

from core.authoring.lexicon import load_lexicon, stats
from core.model.tiny import tiny_model
from tests.core.cli.conftest import run


def test_show_json_is_one_object(capsys):
    code, out, err = run(capsys, "lexicon", "show", "16228", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["bci_av_id"] == 16228 and data["glosses"] == ["post office"] and data["token_name"] == "[BLISS_16228]"
    assert data["pos"] == "noun" and "building where mail is processed" in data["notes"]
    assert [p["bci_av_id"] for p in data["parts"]] == [p.bci_av_id for p in load_lexicon().parts(load_lexicon().symbol(16228))]
    assert "targets" not in data  # no model asked for


def test_show_readable_with_targets_for_a_model(capsys):
    code, out, err = run(capsys, "lexicon", "show", "29111", "--model", "tiny-random")
    assert code == 0, err
    assert out.startswith("29111  yarn shop, yarn store, wool shop, wool store  [BLISS_29111]")
    assert "targets for tiny-random: yarn, wool" in out and "notes:" in out


def test_search_ranks_and_limits(capsys):
    code, out, err = run(capsys, "lexicon", "search", "post", "office", "--json", "--limit", "3")
    assert code == 0, err
    data = json.loads(out)
    assert data["words"] == "post office" and len(data["matches"]) <= 3
    assert data["matches"][0] == {"bci_av_id": 16228, "score": 1.0, "gloss": "post office", "pos": "noun",
                                  "token_name": "[BLISS_16228]"}
    code, out, _ = run(capsys, "lexicon", "search", "wool")
    assert code == 0 and out.splitlines()[0].split()[:2] == ["18271", "1.000"]
    code, out, err = run(capsys, "lexicon", "search", "zzqx")
    assert code == 0 and out == "" and "no symbol" in err


def test_stats_json_matches_the_library(capsys):
    code, out, err = run(capsys, "lexicon", "stats", "--model", "tiny-random", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data == {"model": "tiny-random", **stats(load_lexicon(), tiny_model()[1])}
    code, out, _ = run(capsys, "lexicon", "stats", "--model", "tiny-random")
    assert code == 0 and f"with a single-token gloss:        {data['single_token_gloss']:,}" in out


@pytest.mark.parametrize("argv, field", [
    (["show", "abc"], "bliss_id"), (["show", "99999"], "bliss_id"), (["show", ""], "bliss_id"),
    (["search", ""], "words"), (["search", "shop", "--limit", "0"], "limit"),
    (["stats", "--model", "/no/such/folder"], "model"),
])
def test_bad_input_exits_2_naming_the_field(capsys, argv, field):
    code, out, err = run(capsys, "lexicon", *argv, "--json")
    assert code == 2
    data = json.loads(out)
    assert [p["field"] for p in data["problems"]] == [field] and all(p["fix"] for p in data["problems"])
    assert f"{field}:" in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    for argv in (["lexicon"], ["lexicon", "search"], ["lexicon", "search", "x", "--limit", "many"]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "error" in err
