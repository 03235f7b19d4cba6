"""Drafting in a real browser (Chromium, the app on the tiny model): look up 16228, paste 40 sentences
and 15 negatives, Draft, and the spec validates and initializes."""

from __future__ import annotations

from glossui import strings as S
from tests.app.post_office import NEGATIVES, SENTENCES
from tests.glossui.test_browser import (app, browser, field, fill_number, open_tab, page, pytestmark,  # noqa: F401
                                        shot, status_text, table_rows)


def _symbol(pg) -> None:
    """16228 through the Bliss symbol box (or by hand where the page has no box)."""
    if pg.locator("#bliss-query").count():
        pg.locator("#bliss-query textarea, #bliss-query input").first.fill("16228")
        pg.locator("#bliss-lookup").click()
        pg.wait_for_function("() => document.querySelector('#spec-glosses textarea').value.includes('post office')")
    else:
        for name, value in (("symbol_id", "16228"), ("glosses", "post office"), ("new_token", "[BLISS_16228]"),
                            ("target_tokens", "post")):
            field(pg, name).fill(value)


def test_lookup_paste_draft_validate_initialize(page, tmp_path):
    pg = page
    open_tab(pg, S.TAB_GLOSS)
    _symbol(pg)
    assert field(pg, "new_token").input_value() == "[BLISS_16228]"
    pg.get_by_text(S.DRAFT_TITLE).click()
    pg.locator("#draft-sentences textarea").fill("\n".join(f"{i}. {s}" for i, s in enumerate(SENTENCES, 1)))
    pg.locator("#draft-negatives textarea").fill("\n".join(NEGATIVES))
    # The tiny model is random: thresholds that let its ranks through, as N and M would for a real model.
    fill_number(pg, "draft-positive_rank", 2000)
    fill_number(pg, "draft-negative_rank", 1)
    shot(pg, tmp_path, "20-draft-pasted")
    pg.locator("#draft-run").click()
    pg.wait_for_function("() => document.querySelector('#draft-status').innerText.includes('Drafted')")
    text = status_text(pg, "draft-status")
    assert "of 40 contexts kept" in text and "15 of 15 negatives kept" in text and "The spec is valid" in text
    positives = field(pg, "positive_contexts").input_value().splitlines()
    assert len(positives) >= 3 and all(p in " ".join(SENTENCES) for p in positives)
    assert all("[BLISS_16228]" in s for s in field(pg, "fine_tuning_sentences").input_value().splitlines())
    assert field(pg, "generation_prompts").input_value().count("{placeholder}") >= 3
    rows = table_rows(pg, "draft-table")
    assert rows and {r[1] for r in rows} <= {"yes", "no"} and all(r[3] for r in rows if r[1] == "yes")
    shot(pg, tmp_path, "21-drafted")
    # The opened panel with its table passes the same accessibility bar as every tab.
    from axe_playwright_python.sync_playwright import Axe

    from tests.glossui.test_a11y import serious

    assert serious(Axe().run(pg).response) == []

    pg.locator("#check-spec").click()
    pg.wait_for_function("() => document.querySelector('#spec-status').innerText.includes('valid')")
    assert "problem" not in status_text(pg, "spec-status")

    open_tab(pg, "3. Initialize")
    pg.locator("#init-run").click()
    pg.locator("#init-ranks").wait_for(state="visible")
    assert "Initialized" in status_text(pg, "init-message")
    ranks = table_rows(pg, "init-ranks")
    assert ranks and ranks[0][0] in " ".join(SENTENCES)
    shot(pg, tmp_path, "22-initialized")
    assert "Traceback" not in pg.locator("body").inner_text()


def test_a_failed_draft_shows_why_what_would_help_and_its_table(page, tmp_path):  # noqa: F811 - the fixture
    pg = page
    open_tab(pg, S.TAB_GLOSS)
    _symbol(pg)
    pg.get_by_text(S.DRAFT_TITLE).click()
    pg.locator("#draft-sentences textarea").fill("\n".join(SENTENCES))
    pg.locator("#draft-negatives textarea").fill("\n".join(NEGATIVES))
    fill_number(pg, "draft-positive_rank", 1)
    fill_number(pg, "draft-negative_rank", 1)
    pg.locator("#draft-run").click()
    pg.wait_for_function("() => document.querySelector('#draft-status').innerText.includes('contexts kept')")
    text = status_text(pg, "draft-status")
    assert "of 40 positive contexts kept, needs at least 5" in text and "Keep anyway" in text
    pg.locator("#draft-table").wait_for(state="visible")
    rows = table_rows(pg, "draft-table")
    assert rows and all(r[1] == "no" for r in rows if r[0] == "positive")
    assert field(pg, "positive_contexts").input_value() == ""     # the spec's fields are left as they were
    shot(pg, tmp_path, "23-draft-failed-with-its-table")
