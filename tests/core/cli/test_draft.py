"""``python -m core draft`` on the tiny model: a spec written and a report of every item; bad input exits 2 and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.spec.gloss import DATA_DIR, GlossSpec
from tests.core.cli.conftest import run

TOKEN = "[BLISS_29111]"
LOOSE = ["--positive-rank", "1500", "--negative-rank", "300", "--min-context-chars", "20"]


@pytest.fixture
def material(tmp_path) -> tuple[Path, Path]:
    spec = json.loads((DATA_DIR / "wool_shop.json").read_text(encoding="utf-8"))
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("\n".join(f"{i}. " + s.replace(TOKEN, "wool shop") for i, s in
                                   enumerate(spec["fine_tuning_sentences"], 1)) + "\n", encoding="utf-8")
    negatives = tmp_path / "negatives.txt"
    negatives.write_text("\n".join(spec["negative_contexts"] + ["He took the bus to work in the rain today."]) + "\n",
                         encoding="utf-8")
    return sentences, negatives


def _draft(capsys, tmp_path, sentences, negatives, *extra):
    out = tmp_path / "drafted.json"
    code, stdout, stderr = run(capsys, "draft", "--gloss", "wool shop", "--gloss", "yarn shop", "--token", TOKEN,
                               "--sentences", sentences, "--negatives", negatives, "--model", "tiny-random",
                               "--out", out, *LOOSE, *extra)
    return code, stdout, stderr, out


def test_draft_writes_a_valid_spec_and_reports_every_item(capsys, tmp_path, material):
    code, stdout, stderr, out = _draft(capsys, tmp_path, *material, "--json", "--seed", "3")
    assert code == 0, stderr
    data = json.loads(stdout)
    spec = GlossSpec.load(out)
    assert data["spec"] == spec.to_dict() and data["saved_to"] == str(out)
    assert spec.target_tokens == ["wool", "yarn"] and spec.new_token == TOKEN
    counts = data["counts"]
    assert counts["positive"]["given"] == 60 and counts["negative"]["given"] == 46
    assert len(data["kept"]) + len(data["dropped"]) == len(data["items"]) == 106
    assert all(i["reason"] for i in data["dropped"])
    assert all(i["ranks"] and i["set"] for i in data["kept"])
    # the readable report says the same without --json
    code, stdout, _, _ = _draft(capsys, tmp_path, *material, "--seed", "3")
    assert code == 0 and f"{counts['positive']['kept']} kept" in stdout and "Dropped" in stdout


def test_the_chat_prompt_is_printed_without_a_model(capsys):
    code, stdout, _ = run(capsys, "draft", "--gloss", "wool shop", "--token", TOKEN, "--chat-prompt", "--json")
    assert code == 0
    prompts = json.loads(stdout)["chat_prompt"]
    assert '"wool shop"' in prompts["positive"] and "NOT" in prompts["negative"]


def test_bad_input_exits_2_names_the_field_and_writes_nothing(capsys, tmp_path, material):
    sentences, negatives = material
    no_gloss = tmp_path / "plain.txt"
    no_gloss.write_text("A sentence without it.\nAnother one.\n", encoding="utf-8")
    binary = tmp_path / "corpus.bin"
    binary.write_bytes(b"\x00\x01" * 50)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n", encoding="utf-8")
    out = tmp_path / "drafted.json"
    common = ["--model", "tiny-random", "--out", out, "--json"]
    cases = [
        (["--bliss", "99999999", "--sentences", sentences], "bliss_id"),
        (["--gloss", "wool shop", "--sentences", sentences], "--token"),
        (["--sentences", sentences], "--bliss"),
        (["--gloss", "wool shop", "--token", TOKEN, "--sentences", no_gloss], "sentences"),
        (["--gloss", "wool shop", "--token", TOKEN, "--sentences", tmp_path / "missing.txt"], "--sentences"),
        (["--gloss", "wool shop", "--token", TOKEN, "--corpus", tmp_path / "missing.txt"], "corpus"),
        (["--gloss", "wool shop", "--token", TOKEN, "--corpus", binary], "corpus"),
        (["--gloss", "wool shop", "--token", TOKEN, "--sentences", sentences, "--negatives", negatives,
          "--positive-rank", "1", "--negative-rank", "100000"], "sentences"),
        (["--gloss", "wool shop", "--token", TOKEN, "--sentences", sentences, "--positive-rank", "0"], "positive_rank"),
        (["--gloss", "wool shop", "--token", TOKEN, "--sentences", empty], "--sentences"),
        (["--gloss", "wool shop", "--token", TOKEN, "--sentences", sentences, "--min-context-chars", "-1"],
         "min_context_chars"),
        (["--gloss", "wool shop", "--token", TOKEN, "--sentences", sentences, "--negatives", negatives,
          "--min-context-chars", "399"], "min_context_chars"),
    ]
    for argv, field in cases:
        code, stdout, stderr = run(capsys, "draft", *argv, *common)
        assert code == 2, (argv, stderr)
        problems = json.loads(stdout)["problems"]
        assert field in [p["field"] for p in problems], (field, problems)
        assert all(p["fix"] for p in problems)
        assert "Traceback" not in stderr
        assert not out.exists()


def test_a_bad_corpus_is_named_before_the_model_loads(capsys, tmp_path, monkeypatch):
    import core.cli.draft as cli_draft

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the corpus was checked")

    monkeypatch.setattr(cli_draft, "load_base", no_model)
    table = tmp_path / "corpus.csv"
    table.write_text("sentence\nShe bought wool at the wool shop.\n", encoding="utf-8")
    out = tmp_path / "drafted.json"
    for corpus, column, needle in ((tmp_path / "missing.txt", "text", "does not exist"),
                                   (table, "text", "has no column 'text'"),
                                   (table, "sentence", None)):
        code, stdout, stderr = run(capsys, "draft", "--gloss", "wool shop", "--token", TOKEN, "--corpus", corpus,
                                   "--corpus-column", column, "--model", "tiny-random", "--out", out, "--json")
        if needle is None:  # a good corpus gets as far as loading the model
            assert code != 0 and "corpus" not in stdout and "the corpus was checked" in stderr + stdout
            continue
        assert code == 2, stderr
        problems = json.loads(stdout)["problems"]
        assert [p["field"] for p in problems] == ["corpus"] and needle in problems[0]["problem"]
        assert not out.exists()


def test_draft_from_a_bliss_id_takes_the_symbol_from_the_lexicon(capsys, tmp_path):
    from tests.app.post_office import NEGATIVES, SENTENCES

    sentences, negatives, out = tmp_path / "s.txt", tmp_path / "n.txt", tmp_path / "post_office.json"
    sentences.write_text("\n".join(SENTENCES), encoding="utf-8")
    negatives.write_text("\n".join(NEGATIVES), encoding="utf-8")
    code, stdout, stderr = run(capsys, "draft", "--bliss", "16228", "--sentences", sentences, "--negatives", negatives,
                               "--model", "tiny-random", "--out", out, "--json", "--positive-rank", "2000",
                               "--negative-rank", "1")
    assert code == 0, stderr
    spec = GlossSpec.load(out)
    assert spec.symbol_id == "16228" and spec.new_token == "[BLISS_16228]" and spec.glosses == ["post office"]
    assert spec.target_tokens == ["post"] and "Part of speech: noun" in spec.notes
    assert spec.description == "building + letter: building where mail is processed"   # the lexicon's explanation
    data = json.loads(stdout)
    assert data["counts"]["positive"]["given"] == 40 and data["counts"]["negative"]["given"] == 15
    assert all("[BLISS_16228]" in s for s in spec.fine_tuning_sentences)


def test_a_failed_draft_shows_every_dropped_item_and_what_would_help(capsys, tmp_path, material):
    sentences, negatives = material
    code, stdout, stderr, out = _draft(capsys, tmp_path, sentences, negatives, "--positive-rank", "1",
                                       "--negative-rank", "100000")
    assert code == 2 and not out.exists()
    assert "Dropped (ranks of the targets as the next token):" in stderr
    assert stderr.count("[positive] ") == 60 and "no target ranks within 1" in stderr
    assert "raise positive_rank (N) to" in stderr
    code, stdout, stderr, out = _draft(capsys, tmp_path, sentences, negatives, "--positive-rank", "1", "--json")
    details = json.loads(stdout)["details"]
    assert len(details["items"]) == 106 and details["model"] == "tiny-random"
