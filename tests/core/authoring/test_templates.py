"""Prompts chosen by part of speech."""

from __future__ import annotations

from core.authoring import templates
from core.spec.gloss import PLACEHOLDER


def test_kinds_from_lexicon_and_grammar_names():
    assert templates.kind_of("noun") == "noun" and templates.kind_of("Verb") == "action"
    assert templates.kind_of("action") == "action" and templates.kind_of("adjective") == "description"
    assert templates.kind_of(None) == "other" and templates.kind_of("expression") == "other"


def test_every_generation_prompt_has_its_placeholder_after_a_space():
    for kind, prompts in templates.GENERATION_PROMPTS.items():
        assert len(prompts) >= 3, kind
        for p in prompts:
            assert p.count(PLACEHOLDER) == 1 and (" " + PLACEHOLDER) in p, p
    assert templates.generation_prompts("noun") != templates.generation_prompts("action")


def test_requests_name_every_gloss_and_the_use():
    text = templates.sentence_request(["wool shop", "yarn shop"], "noun", 50, "a shop that sells wool")
    assert '"wool shop" or "yarn shop"' in text and "50" in text and "noun" in text and "sells wool" in text
    assert "do NOT use" in templates.negative_request(["post office"], "noun", 20)
    assert "verb" in templates.model_prompt(["brush teeth"], "action")


def test_sentence_templates_use_the_gloss_once_in_a_whole_sentence():
    for kind, sentences in templates.SENTENCE_TEMPLATES.items():
        assert len(sentences) >= 3, kind
        for s in sentences:
            assert s.count(PLACEHOLDER) == 1 and s.endswith((".", "?")), s
    assert templates.template_sentences(" post office ", "noun")[0] == "Yesterday I walked past the post office on my way home."
    assert templates.template_sentences("brush teeth", "action")[0] == "Every morning I brush teeth before breakfast."


def test_definition_sentences_give_the_explanation_then_the_gloss():
    out = templates.definition_sentences("post office", "building + letter: building where mail is processed",
                                         ("building", "letter"))
    assert out == ["Building where mail is processed: post office.",
                   "The word for building where mail is processed is post office.",
                   "In Blissymbolics, building and letter together mean post office."]
    # only a composition: the parts; a note is not a meaning; the first sentence of a long meaning
    assert templates.definition_sentences("kazoo", "musical instrument + sound + mouth",
                                          ("musical instrument", "sound", "mouth")) == [
        "In Blissymbolics, musical instrument, sound and mouth together mean kazoo."]
    assert templates.definition_sentences("police officer", "person + protection: Note: (The similarity…)",
                                          ("person",)) == []
    assert templates.definition_sentences("x", "a + b: first part. Second part.")[0] == "First part: x."
