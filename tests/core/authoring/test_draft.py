"""Drafting end to end on the tiny model: contexts, token sentences, screening with keep, the split, the spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.authoring.draft import DraftConfig, Material, draft, propose_targets, symbol_id_of
from core.spec.errors import InputError
from core.spec.gloss import DATA_DIR, GlossSpec, validate_for_tokenizer

TOKEN = "[BLISS_29111]"


def wool_material(**changes) -> Material:
    spec = json.loads((DATA_DIR / "wool_shop.json").read_text(encoding="utf-8"))
    sentences = [s.replace(TOKEN, "wool shop") for s in spec["fine_tuning_sentences"] + spec["validation_sentences"]]
    negatives = spec["negative_contexts"] + ["He went to the bank and took out some money for the weekend."]
    return Material(glosses=["wool shop", "yarn shop"], token=TOKEN, sentences=sentences, negatives=negatives) \
        if not changes else Material(**({"glosses": ["wool shop", "yarn shop"], "token": TOKEN, "sentences": sentences,
                                         "negatives": negatives} | changes))


# The tiny model is random: wide thresholds let most contexts through, as a real model's N and M would.
LOOSE = dict(positive_rank=1500, negative_rank=300, min_context_chars=20, lengthen_contexts=False)


def test_a_draft_is_a_valid_spec_with_every_item_reported(tiny):
    model, tokenizer = tiny
    result = draft(wool_material(), DraftConfig(**LOOSE), model, tokenizer, "tiny")
    spec = result.spec
    assert isinstance(spec, GlossSpec) and validate_for_tokenizer(spec, tokenizer) == []
    assert spec.symbol_id == "29111" and spec.target_tokens == ["wool", "yarn"]
    assert all(TOKEN in s for s in spec.fine_tuning_sentences + spec.validation_sentences)
    data = result.to_dict()
    assert len(data["items"]) == 75 + len(wool_material().negatives)
    for item in data["items"]:
        assert item["status"] in ("kept", "dropped")
        if item["status"] == "kept":
            assert item["set"] and item["ranks"] and not item["reason"]
            assert min(item["ranks"].values()) <= 1500 if item["kind"] == "positive" else \
                min(item["ranks"].values()) > 300
        else:
            assert item["reason"]
    counts = result.counts()
    assert counts["positive"]["kept"] + counts["positive"]["dropped"] == 75
    # every kept context is in exactly one set; nothing held out is trained on
    held = set(spec.validation_contexts) | set(spec.testing_positive_contexts)
    assert not held & set(spec.positive_contexts)
    testing_sentences = [i["sentence"] for i in data["items"] if i["set"] == "testing_positive_contexts"]
    assert not set(testing_sentences) & set(spec.fine_tuning_sentences + spec.validation_sentences)
    # sentences whose context was dropped still teach the token (fine-tuning or validation, never testing)
    dropped_with_sentence = [i for i in data["items"] if i["status"] == "dropped" and i["sentence"]]
    assert dropped_with_sentence and all(i["sentence_set"] in ("fine_tuning_sentences", "validation_sentences")
                                         for i in dropped_with_sentence)
    assert len(spec.fine_tuning_sentences) + len(spec.validation_sentences) == \
        len(spec.positive_contexts) + len(spec.validation_contexts) + len(dropped_with_sentence)
    for item in data["items"]:
        if item["sentence_set"]:
            assert item["sentence"] in getattr(spec, item["sentence_set"])
    # seeded: the same draft twice
    again = draft(wool_material(), DraftConfig(**LOOSE), model, tokenizer, "tiny")
    assert again.spec.to_dict() == spec.to_dict()


def test_a_dropped_item_can_be_kept(tiny):
    model, tokenizer = tiny
    first = draft(wool_material(), DraftConfig(**LOOSE), model, tokenizer)
    dropped = next(i for i in first.items if i["kind"] == "negative" and i["status"] == "dropped")
    kept = draft(wool_material(), DraftConfig(**LOOSE, keep=[dropped["text"]]), model, tokenizer)
    item = next(i for i in kept.items if i["text"] == dropped["text"])
    assert item["status"] == "kept" and item["reason"].startswith("kept by request")
    assert dropped["context"] in kept.spec.negative_contexts + kept.spec.testing_negative_contexts


def test_bad_material_names_the_field_and_the_fix(tiny):
    model, tokenizer = tiny
    cases = [
        (wool_material(sentences=["No gloss in this one.", "Nor here."]), "sentences", "none of the 2 sentences"),
        (wool_material(glosses=[" "]), "glosses", "are empty"),
        (wool_material(sentences=[]), "sentences", "none were given"),
        (wool_material(negatives=[]), "negatives", "needs at least 2"),
        (wool_material(targets=None, glosses=["zzqqxx wool"]), "target_tokens", "one token"),
    ]
    for material, where, text in cases:
        if where == "target_tokens":
            material.sentences = ["She went to the zzqqxx wool today."]
        with pytest.raises(InputError) as err:
            draft(material, DraftConfig(**LOOSE), model, tokenizer)
        assert where in err.value.fields and text in str(err.value), (where, str(err.value))
        assert all(p.fix for p in err.value.problems)
    # Too little after screening: the drops counted by reason, the change that would help, and every item.
    with pytest.raises(InputError) as err:
        draft(wool_material(), DraftConfig(positive_rank=1, negative_rank=10_000), model, tokenizer)
    problems = {p.field: p for p in err.value.problems}
    assert "0 of 75 positive contexts kept" in problems["sentences"].problem
    assert "75 of 75 have no target within rank 1" in problems["sentences"].problem
    assert "raise positive_rank (N) to" in problems["sentences"].fix and "min_context_chars" not in problems["sentences"].fix
    assert "46 of 46 have a target within rank 10000" in problems["negatives"].problem
    assert "lower negative_rank (M) to" in problems["negatives"].fix
    items = err.value.details["items"]
    assert len(items) == 75 + 46 and all(i["status"] == "dropped" and i["why"] == "rank" for i in items)
    # the suggested N keeps enough: drafting with it succeeds
    n = int(problems["sentences"].fix.split("to ")[1].split(":")[0])
    m = int(problems["negatives"].fix.split("to ")[1].split(":")[0])
    assert draft(wool_material(), DraftConfig(positive_rank=n, negative_rank=m), model, tokenizer).spec


def test_config_and_helpers():
    with pytest.raises(InputError) as err:
        DraftConfig(positive_rank=0, seed=-1)
    assert set(err.value.fields) == {"positive_rank", "seed"}
    assert DraftConfig.from_dict({"keep": ["x"]}).keep == ["x"]
    assert symbol_id_of("[BLISS_29111]") == "29111" and symbol_id_of("<my token>") == "mytoken"


def test_proposed_targets_are_first_words_that_are_one_token(tiny):
    _, tokenizer = tiny
    assert propose_targets(["wool shop", "yarn shop", "zzqqxx shop"], tokenizer) == (["wool", "yarn"], ["zzqqxx shop"])


@pytest.mark.slow
def test_wool_shop_drafted_from_its_own_sentences_validates_and_initializes(default_model):
    """The research's thresholds on the default model: wool shop's fine-tuning and validation
    sentences (the token turned back into the gloss) and its negatives, drafted, then initialized
    with `average` through the pipeline."""
    from core.embedding.strategies import InitConfig
    from core.experiment.single.pipeline import initialize
    from core.spec.gloss import check_spec, load_example

    example = load_example("wool_shop")
    material = wool_material(negatives=example.negative_contexts + example.testing_negative_contexts)
    result = draft(material, DraftConfig(seed=0), default_model.model, default_model.tokenizer, default_model.name)
    spec = check_spec(result.spec.to_dict(), default_model.tokenizer)
    kept = [i for i in result.items if i["status"] == "kept"]
    assert all(min(i["ranks"].values()) <= 100 for i in kept if i["kind"] == "positive")
    assert all(min(i["ranks"].values()) > 1000 for i in kept if i["kind"] == "negative")
    assert len(spec.positive_contexts) >= 3 and len(spec.fine_tuning_sentences) >= 50
    assert len(spec.fine_tuning_sentences) + len(spec.validation_sentences) + len(spec.testing_positive_contexts) == 75
    init = initialize(spec, InitConfig(strategy="average"), default_model, max_new_tokens=4)
    assert init.token == TOKEN and init.evaluation["testing"]
    assert {r["context"] for r in init.evaluation["testing"]} == \
        set(spec.testing_positive_contexts + spec.testing_negative_contexts)


def test_model_samples_and_a_corpus_join_the_sentences(tiny, tmp_path):
    model, tokenizer = tiny
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Knitters from all over the county meet every week at the wool shop. It rained. "
                      "Knitters from all over the county meet every week at the wool shop.", encoding="utf-8")
    material = wool_material(corpus=str(corpus))
    result = draft(material, DraftConfig(**LOOSE, generate=3, seed=2), model, tokenizer)
    by_source = {}
    for item in result.items:
        by_source.setdefault(item["source"], []).append(item)
    assert len(by_source["corpus"]) == 1 and len(by_source["model"]) == 3
    # the tiny random model writes no sentence with the gloss: each sample is dropped with its reason
    assert all(i["status"] == "dropped" and i["reason"] for i in by_source["model"])
    again = draft(material, DraftConfig(**LOOSE, generate=3, seed=2), model, tokenizer)
    assert [i["text"] for i in again.items] == [i["text"] for i in result.items]


def test_a_lexicon_symbol_gives_the_material_and_one_without_a_usable_gloss_is_refused(tiny):
    from dataclasses import replace

    from core.authoring.draft import material_for_symbol
    from core.authoring.lexicon import load_lexicon

    _, tokenizer = tiny
    lexicon = load_lexicon()
    m = material_for_symbol(lexicon.symbol(16228), tokenizer)
    assert (m.glosses, m.token, m.symbol_id, m.pos, m.targets) == (["post office"], "[BLISS_16228]", "16228", "noun", ["post"])
    assert material_for_symbol(lexicon.symbol(12914)).glosses == ["brush teeth"]   # a verb without its "to"
    with pytest.raises(InputError) as err:
        material_for_symbol(replace(lexicon.symbol(16228), glosses=("0", "?")))
    assert err.value.fields == ["bliss_id"] and "no gloss usable" in str(err.value)


BAKERY = Path(__file__).resolve().parents[2] / "data"


def bakery_material() -> Material:
    """Fifty everyday sentences in which the gloss comes early ("The bakery opens at six.") and twenty negatives."""
    from core.authoring.sources import read_lines

    return Material(glosses=["bakery"], token="[BLISS_BAKERY]", symbol_id="bakery",
                    sentences=read_lines(BAKERY / "bakery_sentences.txt", "sentences"),
                    negatives=read_lines(BAKERY / "bakery_negatives.txt", "negatives"))


def test_new_bad_inputs_name_their_field(tiny):
    model, tokenizer = tiny
    longest = max(len(s) for s in bakery_material().sentences)
    with pytest.raises(InputError) as err:
        draft(bakery_material(), DraftConfig(min_context_chars=longest + 1), model, tokenizer)
    assert err.value.fields == ["min_context_chars"] and f"longest sentence with the gloss ({longest}" in str(err.value)
    with pytest.raises(InputError) as err:
        DraftConfig(min_context_chars=-1)
    assert err.value.fields == ["min_context_chars"]
    with pytest.raises(InputError) as err:
        draft(Material(glosses=["bakery"], token="[BLISS_B]", sentences=["No gloss.", "None here."],
                       negatives=["x", "y"]), DraftConfig(), model, tokenizer)
    assert err.value.fields == ["sentences"] and "none of the 2 sentences uses a gloss (bakery)" in str(err.value)


def test_everyday_sentences_with_the_gloss_early_are_lengthened_and_every_sentence_is_used(tiny):
    """On the tiny model (ranks are random, so N is wide): the lengthening and the sentences' use."""
    model, tokenizer = tiny
    loose = dict(positive_rank=50_000, negative_rank=1)
    result = draft(bakery_material(), DraftConfig(**loose), model, tokenizer)
    positives = [i for i in result.items if i["kind"] == "positive"]
    first, *rest = positives
    assert first["why"] == "short" and first["sentence_set"]             # dropped as a context, used as a sentence
    assert all(i["lengthened_with"] for i in rest if len(i["text"].split("bakery")[0]) < 40)
    assert result.counts()["positive"]["sentences_used"] == 50 - len(result.spec.testing_positive_contexts)
    # without lengthening nearly every context is too short; the message says so and what would help
    with pytest.raises(InputError) as err:
        draft(bakery_material(), DraftConfig(**loose, lengthen_contexts=False), model, tokenizer)
    problem = err.value.problems[0]
    assert problem.field == "sentences" and "of 50 contexts are shorter than 40 characters" in problem.problem
    assert "lower min_context_chars (shortest positive context) to" in problem.fix and "lengthen_contexts" in problem.fix
    assert len(err.value.details["items"]) == 70


@pytest.mark.slow
def test_fifty_everyday_sentences_draft_a_valid_spec_with_the_default_settings(default_model):
    from core.spec.gloss import check_spec

    result = draft(bakery_material(), DraftConfig(), default_model.model, default_model.tokenizer, default_model.name)
    spec = check_spec(result.spec.to_dict(), default_model.tokenizer)
    counts = result.counts()
    assert counts["positive"]["kept"] >= 40 and counts["positive"]["lengthened"] >= 40
    assert len(spec.fine_tuning_sentences) + len(spec.validation_sentences) + len(spec.testing_positive_contexts) == 50
    kept = [i for i in result.items if i["status"] == "kept" and i["kind"] == "positive"]
    assert all(min(i["ranks"].values()) <= 100 and len(i["context"]) >= 40 for i in kept)
