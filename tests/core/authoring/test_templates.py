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
