"""Loading a vocabulary (built-ins, a folder, JSONL, a datasets dataset) and validating it as a whole."""

from __future__ import annotations

import json

import pytest

from core.experiment.vocabulary.load import check_vocabulary, load_vocabulary
from core.spec import limits
from core.spec.errors import InputError
from core.spec.gloss import builtin_examples
from tests.conftest import tiny_spec_dict
from tests.core.experiment.vocab_fixtures import three_dicts


def _all_builtin_dicts() -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in builtin_examples().values()]


def _builtin_dicts() -> list[dict]:
    return three_dicts()


def _write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_builtin_folder_jsonl_and_dataset_give_the_same_vocabulary(tmp_path, tiny):
    import datasets

    builtin = load_vocabulary("builtin")  # every built-in; the tiny tokenizer knows only some of their words
    assert len(builtin) == len(builtin_examples()) >= 3 and len(set(builtin.tokens)) == len(builtin)
    folder = tmp_path / "specs"
    folder.mkdir()
    for i, d in enumerate(_all_builtin_dicts()):
        (folder / f"{i:02d}.json").write_text(json.dumps(d), encoding="utf-8")
    _write_jsonl(tmp_path / "v.jsonl", _all_builtin_dicts())
    dataset = datasets.Dataset.from_list(_all_builtin_dicts())
    dataset.save_to_disk(str(tmp_path / "saved"))
    for source in (folder, tmp_path / "v.jsonl", str(tmp_path / "v.jsonl"), dataset, tmp_path / "saved"):
        vocab = load_vocabulary(source)
        assert [s.to_dict() for s in vocab.specs] == [s.to_dict() for s in builtin.specs], source
    again = type(builtin).from_dict(builtin.to_dict())
    assert again.tokens == builtin.tokens and f"{len(builtin_examples())} symbols" in builtin.title


def test_one_bad_spec_among_many_is_named_by_symbol_and_field(tmp_path):
    rows = _builtin_dicts()
    rows[1]["positive_contexts"] = rows[1]["positive_contexts"][:1]  # too few
    rows[1]["fine_tuning_sentences"][0] = "no token in this sentence"
    rows.append({"symbol_id": "777", "glosses": ["x"]})  # missing almost everything
    rows.append({"glosses": 3})  # no token, no ID: named by its line
    path = tmp_path / "v.jsonl"
    _write_jsonl(path, rows)
    with path.open("a", encoding="utf-8") as f:
        f.write("{not json\n")
    with pytest.raises(InputError) as err:
        load_vocabulary(path)
    fields = err.value.fields
    token = rows[1]["new_token"] or f"[BLISS_{rows[1]['symbol_id']}]"
    assert f"{token} positive_contexts" in fields
    assert f"{token} fine_tuning_sentences (item 1)" in fields
    assert "[BLISS_777] positive_contexts" in fields
    assert any(f.startswith("line 5 ") for f in fields) and any(f.startswith("line 6 ") for f in fields)
    assert not any(f.startswith(rows[0]["new_token"]) for f in fields)  # the good specs have no problem


def _retoken(spec: dict, token: str) -> None:
    old = spec["new_token"]
    spec["new_token"] = token
    for name in ("fine_tuning_sentences", "validation_sentences"):
        spec[name] = [s.replace(old, token) for s in spec[name]]


def test_problems_across_symbols(tmp_path):
    rows = _builtin_dicts()
    a, b, c = rows[0], rows[1], rows[2]
    _retoken(b, a["new_token"])                            # the same token twice
    c["symbol_id"] = a["symbol_id"]                        # the same symbol ID twice
    _retoken(c, "[BLISS_OTHER]")
    c["glosses"] = c["glosses"] + [a["glosses"][0].upper()]  # a shared gloss (any case)
    c["fine_tuning_sentences"][2] = a["testing_positive_contexts"][0] + " [BLISS_OTHER] here."
    with pytest.raises(InputError) as err:
        load_vocabulary(rows)
    text = str(err.value)
    assert f"{a['new_token']} new_token: {a['new_token']} is the token of two symbols" in text
    assert f"[BLISS_OTHER] symbol_id: {a['symbol_id']} is also the ID of" in text
    assert f"[BLISS_OTHER] glosses (item {len(c['glosses'])})" in text
    assert "[BLISS_OTHER] fine_tuning_sentences (item 3): begins with" in text and "a testing context of" in text
    assert len(err.value.problems) == 4


def test_the_limits_of_a_vocabulary(monkeypatch, tmp_path):
    monkeypatch.setattr(limits, "VOCAB_SYMBOLS", (1, 2))
    with pytest.raises(InputError) as err:
        load_vocabulary(_builtin_dicts())
    assert err.value.fields == ["vocabulary"] and "over the limit of 2" in str(err.value)
    _write_jsonl(tmp_path / "v.jsonl", _builtin_dicts())
    with pytest.raises(InputError, match="over the limit of 2"):
        load_vocabulary(tmp_path / "v.jsonl")
    monkeypatch.setattr(limits, "VOCAB_SYMBOLS", (1, 500))
    monkeypatch.setattr(limits, "VOCAB_FINE_TUNING_SENTENCES", 10)
    with pytest.raises(InputError, match="fine-tuning sentences, over the limit of 10"):
        load_vocabulary(_builtin_dicts())
    monkeypatch.setattr(limits, "VOCAB_FILE_BYTES", 100)
    with pytest.raises(InputError, match="bytes, over the limit"):
        load_vocabulary(tmp_path / "v.jsonl")
    for bad in (tmp_path / "missing", tmp_path / "empty", 42):
        (tmp_path / "empty").mkdir(exist_ok=True)
        with pytest.raises(InputError) as err:
            load_vocabulary(bad)
        assert err.value.fields == ["vocabulary"]
    with pytest.raises(InputError):
        load_vocabulary([])


def test_tokenizer_problems_are_named_by_symbol(tiny):
    spec = tiny_spec_dict()
    spec["target_tokens"] = ["wool", "haberdashery"]  # not one token for the tiny tokenizer
    other = {**tiny_spec_dict(), "symbol_id": "5", "new_token": "[BLISS_5]", "glosses": ["sock"],
             "fine_tuning_sentences": [s.replace("[BLISS_29111]", "[BLISS_5]") for s in spec["fine_tuning_sentences"]],
             "validation_sentences": ["A [BLISS_5] is warm."]}
    vocab = load_vocabulary([spec, other])
    with pytest.raises(InputError) as err:
        check_vocabulary(vocab, tiny[1])
    assert err.value.fields == ["[BLISS_29111] target_tokens (item 2)"]


def test_built_ins_and_uploads_join_into_one_vocabulary(tmp_path):
    import zipfile

    from core.experiment.vocabulary.load import load_parts

    low, brush, wool = three_dicts()
    jsonl = tmp_path / "two.jsonl"
    _write_jsonl(jsonl, [low])
    with zipfile.ZipFile(tmp_path / "specs.zip", "w") as z:
        z.writestr("specs/brush.json", json.dumps(brush))
        z.writestr("__MACOSX/._brush.json", "junk")
    vocab = load_parts(["wool_shop"], [jsonl, tmp_path / "specs.zip"])
    assert vocab.tokens == [wool["new_token"], low["new_token"], brush["new_token"]]
    assert vocab.places == ["wool_shop.json", "two.jsonl line 1", "specs.zip: specs/brush.json"]
    assert vocab.source == "built-in: wool_shop, two.jsonl, specs.zip"
    # the same symbol from a built-in and an upload is a problem across symbols
    (tmp_path / "wool.json").write_text(json.dumps(wool), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_parts(["wool_shop"], [tmp_path / "wool.json"])
    assert any(wool["new_token"] in p.problem or wool["new_token"] in p.field for p in exc.value.problems)


def test_uploads_that_cannot_be_read_are_named_with_the_fix(tmp_path):
    from core.experiment.vocabulary.load import load_parts

    def problems(*args) -> list[str]:
        with pytest.raises(InputError) as exc:
            load_parts(*args)
        return [f"{p.field}: {p.problem} ({p.fix})" for p in exc.value.problems]

    assert problems([], []) == ["vocabulary: has no symbols (tick built-in specs or upload a JSONL file, a zip or spec "
                                "files)"]
    assert problems(["no_such"], [])[0].startswith("built-in specs: 'no_such' is not a built-in spec")
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    assert "neither a JSONL file, a zip nor a spec file" in problems([], [tmp_path / "notes.txt"])[0]
    (tmp_path / "broken.zip").write_bytes(b"PK not really")
    assert "broken.zip is not a zip archive" in problems([], [tmp_path / "broken.zip"])[0]
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    assert problems(["wool_shop"], [tmp_path / "bad.json"])[0].startswith("bad.json spec file: is not valid JSON")
