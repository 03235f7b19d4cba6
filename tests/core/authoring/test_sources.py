"""Material sources: files, a corpus (text file or datasets dataset), the model's samples, a chat assistant's answer."""

from __future__ import annotations

import pytest

from core.authoring import sources
from core.authoring.sentences import GlossFinder
from core.spec.errors import InputError

F = GlossFinder(["wool shop", "yarn shop"])
CORPUS = ("She went to the wool shop. It was closed! The wool shops were all closed.\n"
          "Then she found a yarn shop nearby. She went to the wool shop.\n\n"
          "Nothing here mentions it. \"Is this the Yarn Shop?\" she asked.")


def test_a_chat_answer_is_read_one_sentence_a_line():
    answer = "Sure! Here are the sentences:\n\n1. She went to the wool shop.\n2. He likes the yarn shop.\n- Third."
    assert sources.parse_answer(answer) == ["She went to the wool shop.",
                                            "He likes the yarn shop.", "Third."]
    prompts = sources.chat_prompt(["wool shop"], "noun", 80, 30)
    assert "80" in prompts["positive"] and "30" in prompts["negative"] and "wool shop" in prompts["positive"]


def test_read_lines_names_the_field_when_the_file_is_missing_or_not_text(tmp_path):
    good = tmp_path / "s.txt"
    good.write_text("1. One.\n2. Two.\n", encoding="utf-8")
    assert sources.read_lines(good, "--sentences") == ["One.", "Two."]
    with pytest.raises(InputError) as err:
        sources.read_lines(tmp_path / "nope.txt", "--sentences")
    assert err.value.fields == ["--sentences"] and "does not exist" in str(err.value)
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(InputError) as err:
        sources.read_lines(binary, "--negatives")
    assert err.value.fields == ["--negatives"] and "UTF-8" in str(err.value)


def test_a_text_corpus_is_mined_for_sentences_with_a_gloss_once_each(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS, encoding="utf-8")
    assert sources.mine_corpus(str(path), F) == ["She went to the wool shop.", "Then she found a yarn shop nearby.",
                                                 "\"Is this the Yarn Shop?\" she asked."]
    assert sources.mine_corpus(str(path), F, limit=1) == ["She went to the wool shop."]


def test_a_datasets_corpus_with_a_text_column(tmp_path):
    import datasets

    folder = tmp_path / "ds"
    datasets.Dataset.from_dict({"body": CORPUS.split("\n"), "n": [1, 2, 3, 4]}).save_to_disk(str(folder))
    assert sources.mine_corpus(str(folder), F, column="body")[0] == "She went to the wool shop."
    with pytest.raises(InputError) as err:
        sources.mine_corpus(str(folder), F, column="text")
    assert err.value.fields == ["corpus"] and "body" in str(err.value)
    csv = tmp_path / "c.csv"
    csv.write_text("text\nShe went to the wool shop.\nNo gloss here.\n", encoding="utf-8")
    assert sources.mine_corpus(str(csv), F) == ["She went to the wool shop."]


def test_a_missing_or_binary_corpus_is_refused(tmp_path):
    for bad in (str(tmp_path / "missing.txt"), str(tmp_path / "no" / "such" / "folder")):
        with pytest.raises(InputError) as err:
            sources.mine_corpus(bad, F)
        assert err.value.fields == ["corpus"] and "does not exist" in str(err.value)
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(InputError) as err:
        sources.mine_corpus(str(binary), F)
    assert err.value.fields == ["corpus"] and "not text" in str(err.value)


def test_model_samples_are_seeded(tiny):
    model, tokenizer = tiny
    a = sources.sample_sentences(model, tokenizer, ["wool shop"], "noun", 3, seed=4, max_new_tokens=8)
    b = sources.sample_sentences(model, tokenizer, ["wool shop"], "noun", 3, seed=4, max_new_tokens=8)
    c = sources.sample_sentences(model, tokenizer, ["wool shop"], "noun", 3, seed=5, max_new_tokens=8)
    assert a == b and a != c and len(a) == 3
    assert sources.sample_sentences(model, tokenizer, ["wool shop"], "noun", 0, seed=4) == []


def test_corpus_sentences_come_with_the_sentence_before_them(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS, encoding="utf-8")
    assert sources.mine_corpus_pairs(str(path), F) == [
        ("", "She went to the wool shop."),
        ("", "Then she found a yarn shop nearby."),              # a new line starts a new block
        ("Nothing here mentions it.", "\"Is this the Yarn Shop?\" she asked.")]


def test_an_empty_file_is_refused_by_name_unless_allowed(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n   \nHeading:\n", encoding="utf-8")   # blank lines and a heading only
    with pytest.raises(InputError) as err:
        sources.read_lines(empty, "--sentences")
    assert err.value.fields == ["--sentences"] and "is empty" in str(err.value)
    assert sources.read_lines(empty, "--keep", allow_empty=True) == []


def test_many_symbols_are_sampled_in_one_seeded_batch(tiny):
    model, tokenizer = tiny
    requests = [(["wool shop"], "noun", ""), (["brush teeth"], "action", "cleaning the teeth")]
    side = tokenizer.padding_side
    a = sources.sample_many(model, tokenizer, requests, 3, seed=4, max_new_tokens=8)
    assert [len(x) for x in a] == [3, 3] and all(isinstance(s, str) and "\n" not in s for x in a for s in x)
    assert sources.sample_many(model, tokenizer, requests, 3, seed=4, max_new_tokens=8) == a
    assert sources.sample_many(model, tokenizer, requests, 3, seed=5, max_new_tokens=8) != a
    assert tokenizer.padding_side == side   # padded on the left for the batch only
    assert sources.sample_many(model, tokenizer, requests, 0, seed=4) == [[], []]
