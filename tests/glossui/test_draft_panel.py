"""The drafting panel's table: kept items first (with their set), dropped ones with their reason and ranks."""

from __future__ import annotations

from glossui.draft_panel import rows


def test_rows_put_kept_items_first_and_say_where_or_why():
    items = [
        {"kind": "negative", "status": "dropped", "set": None, "reason": "'wool' ranks 12, within 1000",
         "ranks": {"wool": 12}, "best_rank": 12, "context": "He went to the", "text": "He went to the", "sentence": ""},
        {"kind": "positive", "status": "dropped", "set": None, "reason": "does not use a gloss", "ranks": {},
         "best_rank": None, "context": "", "text": "No gloss.", "sentence": ""},
        {"kind": "positive", "status": "kept", "set": "positive_contexts", "reason": "", "ranks": {"wool": 3, "yarn": 9},
         "best_rank": 3, "context": "She went to the", "text": "She went to the wool shop.",
         "sentence": "She went to the [T]."},
    ]
    assert rows({"items": items}) == [
        ["positive", "yes", "positive_contexts", "3", "wool 3, yarn 9", "She went to the", "She went to the [T]."],
        ["positive", "no", "does not use a gloss", "", "", "No gloss.", ""],
        ["negative", "no", "'wool' ranks 12, within 1000", "12", "wool 12", "He went to the", ""],
    ]
