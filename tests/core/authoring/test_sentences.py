"""Finding a gloss, cutting before its last occurrence, putting the token in, cutting negatives, reading pasted lines."""

from __future__ import annotations

import random

import pytest

from core.authoring.sentences import (GlossFinder, clean_line, cut_at_word, gloss_pattern, is_full_sentence,
                                      negative_context, split_lines)

TOKEN = "[BLISS_29111]"
F = GlossFinder(["wool shop", "yarn shop"])


@pytest.mark.parametrize("sentence, context, with_token", [
    # the gloss first: nothing before it to cut
    ("Wool shop owners love knitting.", "", f"{TOKEN} owners love knitting."),
    # twice: cut before the last one, both replaced
    ("The wool shop next to the old wool shop closed.", "The wool shop next to the old",
     f"The {TOKEN} next to the old {TOKEN} closed."),
    # right before punctuation
    ("She went to the wool shop.", "She went to the", f"She went to the {TOKEN}."),
    ("Is that the wool shop, or the bakery?", "Is that the", f"Is that the {TOKEN}, or the bakery?"),
    # capitalized, and more than one space between the words
    ("They met at the Wool  Shop on Monday.", "They met at the", f"They met at the {TOKEN} on Monday."),
    # a synonym
    ("I buy my needles at the yarn shop downtown.", "I buy my needles at the", f"I buy my needles at the {TOKEN} downtown."),
])
def test_cut_before_the_last_occurrence_and_replace_every_one(sentence, context, with_token):
    assert F.uses(sentence)
    assert F.context(sentence) == context
    assert F.with_token(sentence, TOKEN) == with_token
    assert F.with_gloss(with_token, TOKEN).lower().count("wool shop") == with_token.count(TOKEN)


@pytest.mark.parametrize("sentence", [
    "The wool shops in town are closed.",        # inside a longer word: no match
    "The woolshop is closed.",
    "She likes steel wool shopping bags.",
    "The yarn-shopkeeper smiled.",
    "The shop sells wool.",
])
def test_a_gloss_inside_a_longer_word_does_not_match(sentence):
    assert not F.uses(sentence)
    assert F.context(sentence) == ""
    assert F.with_token(sentence, TOKEN) == sentence


def test_the_longer_synonym_wins_and_the_matched_gloss_is_named():
    f = GlossFinder(["shop", "wool shop"])
    assert f.with_token("The wool shop and the shop.", "T") == "The T and the T."
    assert [m.gloss for m in f.matches("The Wool Shop and the SHOP.")] == ["wool shop", "shop"]
    with pytest.raises(ValueError):
        gloss_pattern(["  "])


def test_negatives_keep_contexts_and_cut_full_sentences_at_a_word_seeded():
    assert not is_full_sentence("He went to the local") and is_full_sentence("He went home.")
    assert is_full_sentence('She said "stop!"')
    assert negative_context("He needed a charger, so he went to the", random.Random(0)) == \
        "He needed a charger, so he went to the"
    sentence = "The band played loud music until midnight at the local pub."
    cuts = {negative_context(sentence, random.Random(s)) for s in range(20)}
    assert len(cuts) > 1
    for cut in cuts:
        assert sentence.startswith(cut) and cut != sentence.rstrip(".") and len(cut.split()) >= 3
        assert not cut.endswith((".", ","))
    assert negative_context(sentence, random.Random(5)) == negative_context(sentence, random.Random(5))
    assert cut_at_word("Hello.", random.Random(0)) == "Hello"


def test_pasted_lines_lose_numbering_bullets_quotes_and_headings():
    text = ("Here are the sentences:\n1. She went to the wool shop.\n2) He likes yarn.\n\n- \"A quoted one.\"\n"
            "* Starred\n• bullet\n10. Tenth line\n2) He likes yarn.\n   \n")
    assert split_lines(text) == ["She went to the wool shop.", "He likes yarn.", "A quoted one.", "Starred",
                                 "bullet", "Tenth line"]
    assert clean_line("  I bought it.  ") == "I bought it."
    assert clean_line("3: In 10:30 minutes") == "In 10:30 minutes"
