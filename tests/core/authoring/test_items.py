"""The rows of a draft: sentences usable whatever their context, short contexts lengthened with the
sentence before, every drop with its reason and code."""

from __future__ import annotations

from core.authoring import items
from core.authoring.draft import DraftConfig
from core.authoring.items import Line, lines_in_order
from core.authoring.sentences import GlossFinder

F = GlossFinder(["bakery"])
T = "[BLISS_1]"
LINES = ["The bakery opens at six every morning.",           # short context, nothing before it
         "The bakery sells rye bread.",                       # short: lengthened with the line before
         "Bakery bread is the best in town.",                 # the gloss starts it: no context
         "My aunt runs a small bakery near the station, she says it is the best in the county.",
         "No gloss in this one.",
         "x" * 401 + " bakery."]


def test_short_contexts_are_lengthened_with_the_line_before_and_every_sentence_with_the_gloss_is_usable():
    rows = items.positive_items(lines_in_order("sentences", LINES), F, T, DraftConfig(min_context_chars=20), set())
    first, second, gloss_first, long_one, no_gloss, too_long = rows
    assert first["why"] == "short" and "no sentence before it" in first["reason"]
    assert first["sentence"] == f"The {T} opens at six every morning."      # still usable as a sentence
    assert second["context"] == "The bakery opens at six every morning. The" and not second["why"]
    assert second["lengthened_with"] == LINES[0] and second["sentence"] == f"The {T} sells rye bread."
    assert gloss_first["why"] == "gloss_first" and gloss_first["sentence"] == f"{T} bread is the best in town."
    assert long_one["context"] == "My aunt runs a small" and not long_one["lengthened_with"]  # 20 characters: enough
    assert (no_gloss["why"], no_gloss["sentence"]) == ("no_gloss", "")
    assert (too_long["why"], too_long["sentence"]) == ("too_long", "")


def test_without_lengthening_a_short_context_is_dropped_and_a_repeated_one_too():
    config = DraftConfig(min_context_chars=10, lengthen_contexts=False)
    lines = [Line("sentences", "The bakery opens."), Line("sentences", "I walked to the bakery.", "The bakery opens."),
             Line("corpus", "I walked to the bakery again.")]
    short, walked, again = items.positive_items(lines, F, T, config, set())
    assert short["why"] == "short" and short["context"] == "The" and "no sentence" not in short["reason"]
    assert walked["context"] == "I walked to the" and not walked["why"]
    assert again["why"] == "duplicate" and again["reason"] == "same context as item 2" and again["sentence"]
    # an item to keep is never dropped for its length
    kept = items.positive_items(lines[:1], F, T, config, {"The bakery opens."})
    assert not kept[0]["why"]


def test_negatives_are_cut_and_repeats_or_positive_contexts_dropped():
    rows = items.negative_items(["He went to the", "He went to the", "I walked to the", ""], 0, {"I walked to the"})
    assert [r["why"] for r in rows] == ["", "duplicate", "also_positive", "empty"]


def test_screening_keeps_passing_rows_and_rows_asked_for(tiny):
    _, tokenizer = tiny
    lines = lines_in_order("sentences", ["We went to the bakery.", "They queued at the bakery.", "A bakery."])
    rows = items.positive_items(lines, F, T, DraftConfig(min_context_chars=0), set())
    items.drop_over_token_limits(rows, tokenizer, T, "bakery")
    screened_rows = items.to_screen(rows)
    assert [r["context"] for r in screened_rows] == ["We went to the", "They queued at the", "A"]
    verdicts = [{"ranks": {"bakery": 3}, "best_rank": 3, "reason": ""},
                {"ranks": {"bakery": 900}, "best_rank": 900, "reason": "no target ranks within 100 (best 900)"},
                {"ranks": {"bakery": 950}, "best_rank": 950, "reason": "no target ranks within 100 (best 950)"}]
    items.apply_screening(screened_rows, verdicts, keep={"A"})
    assert [r["status"] for r in rows] == ["kept", "dropped", "kept"]
    assert rows[1]["why"] == "rank" and rows[2]["reason"].startswith("kept by request (no target ranks")


def test_items_over_the_token_limits_are_dropped(tiny):
    _, tokenizer = tiny
    wordy = " ".join(["qzxv"] * 60) + " bakery."   # 307 characters, about 300 tokens of the tiny tokenizer
    rows = items.positive_items(lines_in_order("sentences", [wordy]), F, T, DraftConfig(min_context_chars=0), set())
    items.drop_over_token_limits(rows, tokenizer, T, "bakery")
    assert rows[0]["why"] == "too_long" and "tokens, over the limit" in rows[0]["reason"]
