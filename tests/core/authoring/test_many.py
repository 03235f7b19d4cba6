"""Drafting many lexicon symbols: the selection, fixed batches, the material, and one batch on the tiny model."""

from __future__ import annotations

import pytest

from core.authoring import many
from core.authoring.draft import DraftConfig
from core.authoring.lexicon import load_lexicon
from core.spec.errors import InputError
from core.spec.gloss import GlossSpec, validate_for_tokenizer

LOOSE = DraftConfig(positive_rank=50_000, negative_rank=1)   # the tiny model's ranks are random


@pytest.fixture(scope="module")
def lexicon():
    return load_lexicon()


def test_ids_keep_their_order_and_unknown_ones_are_named(lexicon):
    sel = many.select(lexicon, ids=many.parse_ids("16228, 29111\n99999999 x1,16228"))
    assert [s.bci_av_id for s in sel.symbols] == [16228, 29111] and sel.unknown == ["99999999", "x1"]
    assert sel.glosses[16228] == ["post office"] and sel.failed == {}
    assert [s.bci_av_id for s in many.select(lexicon, ids=["16228", "29111"], limit=1).symbols] == [16228]


def test_a_part_of_the_lexicon_by_tokens_and_part_of_speech(lexicon, tiny):
    _, tokenizer = tiny
    multi = many.select(lexicon, tokenizer, kind="multi-token", pos="action", limit=5).symbols
    single = many.select(lexicon, tokenizer, kind="single-token", limit=50).symbols
    everything = many.select(lexicon, tokenizer, kind="all").symbols
    n_ids = sum(1 for s in lexicon if s.bci_av_id is not None)
    assert len(everything) == n_ids and [s.bci_av_id for s in everything] == sorted(s.bci_av_id for s in everything)
    for s in multi:   # every gloss several tokens, counted independently
        assert s.pos == "action" and all(len(tokenizer.encode(" " + g, add_special_tokens=False)) > 1 for g in s.glosses)
    for s in single:
        assert any(len(tokenizer.encode(" " + g, add_special_tokens=False)) == 1 for g in s.glosses)
    assert len(multi) == 5 and len(single) == 50


@pytest.mark.parametrize("kwargs, field, text", [
    (dict(ids=["16228"], kind="all"), "ids", "either IDs or a part"),
    (dict(kind="some"), "lexicon", "not one of multi-token"),
    (dict(kind="all", pos="verb"), "pos", "choose one of action, description"),
    (dict(kind="all", limit=0), "limit", "0 is not a whole number from 1"),
    (dict(ids=[]), "ids", "is empty"),
    (dict(ids=["99999999", "12"]), "ids", "the selection is empty"),
    (dict(ids=["16228"], pos="action"), "ids", "is a action"),
])
def test_bad_selections_name_the_field(lexicon, tiny, kwargs, field, text):
    with pytest.raises(InputError) as err:
        many.select(lexicon, tiny[1], **kwargs)
    assert err.value.fields == [field] and text in str(err.value) and err.value.problems[0].fix


def test_a_shared_gloss_stays_with_the_first_symbol(lexicon):
    from dataclasses import replace

    post = lexicon.symbol(16228)
    twin = replace(post, bci_av_id=1, glosses=("post office", "mail office"))
    clone = replace(post, bci_av_id=2, glosses=("Post  Office",))
    glosses, failed = many.assign_glosses([post, twin, clone, replace(post, bci_av_id=3, glosses=("9",))])
    assert glosses == {16228: ["post office"], 1: ["mail office"]}
    assert "also a gloss of symbol 16228" in failed[2] and "no gloss usable" in failed[3]


def test_batches_are_fixed_by_the_selection_and_seeded_by_their_ids(lexicon):
    sel = many.select(lexicon, ids=["16228", "29111", "12914", "24918", "22369"])
    assert [[s.bci_av_id for s in b] for b in many.batches(sel, 2)] == [[16228, 29111], [12914, 24918], [22369]]
    assert many.batch_seed(0, [1, 2]) == many.batch_seed(0, [1, 2]) != many.batch_seed(1, [1, 2])
    assert many.batch_seed(0, [1, 2]) != many.batch_seed(0, [2, 1])
    assert len(many.generic_sentences()) >= 30


def test_one_batch_drafts_valid_specs_and_says_why_a_symbol_was_not_drafted(lexicon, tiny):
    model, tokenizer = tiny
    sel = many.select(lexicon, ids=["16228", "29111", "12914", "8505"])
    config = many.ManyConfig(generate=2, negatives_from_others=6)
    records = many.draft_batch(sel.symbols, sel.glosses, model, tokenizer, LOOSE, config, seed=0)
    assert [r["symbol_id"] for r in records] == ["16228", "29111", "12914", "8505"]
    drafted = {r["symbol_id"]: r for r in records if r["status"] == "drafted"}
    assert set(drafted) == {"16228", "29111", "12914"}
    failed = next(r for r in records if r["status"] == "failed")
    assert failed["spec"] is None and "positive contexts kept" in failed["reason"]
    post = GlossSpec.from_dict(drafted["16228"]["spec"])
    assert validate_for_tokenizer(post, tokenizer) == [] and post.description.endswith("building where mail is processed")
    # material: a definition sentence and a template, with the token; negatives from the others, cut after their gloss
    sentences = post.fine_tuning_sentences + post.validation_sentences
    everything = sentences + post.testing_positive_contexts + post.positive_contexts + post.validation_contexts
    assert any("mail is processed" in s for s in everything)
    negatives = post.negative_contexts + post.testing_negative_contexts
    generic = set(many._generic_negatives(many.generic_sentences(), 0))
    from_others = [c for c in negatives if c not in generic]
    other_glosses = [g for sid in (29111, 12914, 8505) for g in sel.glosses[sid]]
    # every one holds the other symbol's whole gloss: it was cut after it, never where its token would stand
    assert from_others and all(any(g in c.lower() for g in other_glosses) for c in from_others)
    assert not any("post office" in c for c in negatives)
    # seeded: the same batch gives the same records; another seed other sentences
    again = many.draft_batch(sel.symbols, sel.glosses, model, tokenizer, LOOSE, config, seed=0)
    assert again == records
    other = many.draft_batch(sel.symbols, sel.glosses, model, tokenizer, LOOSE, config, seed=1)
    assert other != records
