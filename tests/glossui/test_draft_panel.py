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
    items[2]["sentence_set"] = "fine_tuning_sentences"
    assert rows({"items": items}) == [
        ["positive", "yes", "positive_contexts", "3", "wool 3, yarn 9", "She went to the", "She went to the [T].",
         "fine_tuning_sentences"],
        ["positive", "no", "does not use a gloss", "", "", "No gloss.", "", ""],
        ["negative", "no", "'wool' ranks 12, within 1000", "12", "wool 12", "He went to the", "", ""],
    ]


def test_a_dropped_context_with_a_used_sentence_and_a_lengthened_one_say_so():
    from glossui import strings as S
    from glossui.draft_panel import done_message, table

    short = {"kind": "positive", "status": "dropped", "set": None, "reason": "context shorter than 40 characters",
             "ranks": {"bakery": 4}, "best_rank": 4, "context": "The", "text": "The bakery opens.",
             "sentence": "The [T] opens.", "sentence_set": "validation_sentences", "lengthened_with": ""}
    longer = short | {"status": "kept", "set": "positive_contexts", "reason": "", "context": "The bakery opens. The",
                      "text": "The bakery sells bread.", "sentence": "The [T] sells bread.",
                      "sentence_set": "fine_tuning_sentences", "lengthened_with": "The bakery opens."}
    value = table([short, longer])
    assert value["headers"] == S.DRAFT_TABLE_HEADERS and len(value["headers"]) == 8
    assert value["data"][0][2] == "positive_contexts" + S.DRAFT_LENGTHENED
    assert value["data"][1][1:3] == ["no", "context shorter than 40 characters"] and value["data"][1][7] == "validation_sentences"
    counts = {"positive": {"given": 50, "kept": 48, "lengthened": 47, "sentences_used": 43}, "negative": {"given": 20, "kept": 14}}
    text = done_message({"model": "m", "counts": counts})
    assert "48 of 50 contexts kept (47 lengthened" in text and "43 of 50 sentences" in text and "14 of 20 negatives" in text


def test_a_failed_draft_shows_the_problems_and_the_table_so_items_can_be_kept(tmp_path):
    """The handler as wired on the page (tiny model): a draft whose N keeps nothing says why and what
    would help, fills the table, and leaves the spec's fields alone; keeping items from it then drafts."""
    from core.service import Service
    from glossui import strings as S
    from glossui.layout import build_page
    from tests.app.post_office import NEGATIVES, SENTENCES

    svc = Service(tiny=True, runs_dir=tmp_path / "runs")
    assert svc.models.load(wait=True)["state"] == "ready"
    page = build_page(svc)
    c, fields = page["draft"], page.spec_fields
    values = {w: "" for w in fields.values()} | {fields["symbol_id"]: "16228", fields["glosses"]: "post office",
                                                 fields["new_token"]: "[BLISS_16228]", fields["target_tokens"]: "post"}
    settings = {f["name"]: f["default"] for f in svc.settings.describe("draft") if f["name"] != "keep"}
    values |= {c["settings"][name]: v for name, v in (settings | {"positive_rank": 1, "negative_rank": 1}).items()}
    values |= {c["sentences"]: "\n".join(SENTENCES), c["negatives"]: "\n".join(NEGATIVES), c["keep"]: "",
               c["corpus"]: None}
    out = page.fn("draft_spec")(values)
    message = out[c["status"]]
    assert "positive contexts kept" in message and "positive\\_rank" in message and S.DRAFT_FAILED_TABLE[:20] in message
    table = out[c["table"]]["value"]
    assert len(table["data"]) == 55 and all(row[1] == "no" for row in table["data"] if row[0] == "positive")
    assert [row[0] for row in table["data"]][:40] == ["positive"] * 40          # what was too few comes first
    assert not set(fields.values()) & set(out)            # the spec's fields are left as they were
    # Keep anyway: the first five dropped contexts, copied from the table, are kept.
    contexts = [row[5] for row in table["data"] if row[0] == "positive" and row[3]][:5]
    out = page.fn("draft_spec")(values | {c["keep"]: "\n".join(contexts)})
    assert "contexts kept" in out[c["status"]] and set(contexts) <= set(out[fields["positive_contexts"]]["value"].splitlines()
                                                                       + out[fields["validation_contexts"]]["value"].splitlines()
                                                                       + out[fields["testing_positive_contexts"]]["value"].splitlines())
