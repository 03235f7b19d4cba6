"""Token names inside text: another symbol's token is found, plain bracketed words are not."""

from __future__ import annotations

from core.spec.token_names import another_token, other_tokens, token_names


def test_token_names_are_bracketed_names_with_an_underscore():
    text = "The [BLISS_29111] sells wool [sic], and the <bliss_1> and [BLISS_29111] again; [x] is not one."
    assert token_names(text) == ["[BLISS_29111]", "<bliss_1>"]
    assert other_tokens(text, "[BLISS_29111]") == ["<bliss_1>"]
    assert other_tokens("Only [BLISS_16228] here.", "[BLISS_16228]") == []


def test_the_phrase_counts_items_and_names_at_most_three_tokens():
    items = ["a [T_1]", "b [T_2] [T_3]", "c [T_4]"]
    assert another_token(items, 10, "[T_0]") == "3 of 10 use [T_1], [T_2], [T_3] …, not the new token [T_0]"
    assert another_token(items[:1], 1, "[T_0]") == "1 of 1 use [T_1], not the new token [T_0]"
