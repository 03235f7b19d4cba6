"""Drafting end to end on the tiny model: contexts, token sentences, screening with keep, the split, the spec."""

from __future__ import annotations

import json

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
LOOSE = dict(positive_rank=1500, negative_rank=300, min_context_chars=20)


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
    # sentences whose context was dropped still teach the token (training only)
    assert len(spec.fine_tuning_sentences) > len(spec.positive_contexts)
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
    with pytest.raises(InputError) as err:
        draft(wool_material(), DraftConfig(positive_rank=1, negative_rank=10_000), model, tokenizer)
    assert "widen N and M" in str(err.value)


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
    assert len(spec.positive_contexts) >= 3 and len(spec.fine_tuning_sentences) >= 60
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
