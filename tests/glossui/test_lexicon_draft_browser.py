"""The Vocabulary tab's *Draft from the lexicon* in a real browser (the app on the tiny model, as in
``test_browser``): bad input named in the panel; three IDs drafted (one the lexicon does not have),
followed symbol by symbol with the time left, the result listed, the drafted JSONL offered and taken
as the tab's vocabulary (the open panel scanned by axe-core), Initialize only pressed on it; and the draft
found again after a reload."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from glossui import strings as S
from tests.glossui.test_a11y import serious
from tests.glossui.test_browser import (app, browser, fill_number, open_tab, page, shot, table_rows,  # noqa: F401
                                       wait_ready)
from tests.glossui.test_reload_browser import record_texts, seen_texts, text_of, wait_text

pytestmark = pytest.mark.browser
# The tiny model is random: thresholds that let its ranks through, and one symbol a batch (progress by symbol).
LOOSE = {"generate": 2, "batch-symbols": 1, "positive-rank": 50000, "negative-rank": 1}


def open_panel(pg) -> None:
    open_tab(pg, "6. Vocabulary")
    pg.locator("#vocab-draft").get_by_text(S.LEXDRAFT_TITLE, exact=True).first.click()
    pg.locator("#vocab-draft-ids textarea").wait_for(state="visible")


def test_a_draft_from_the_lexicon_becomes_the_vocabulary_and_initializes(page, tmp_path):
    pg = page
    open_panel(pg)
    pg.locator("#vocab-draft-ids textarea").fill("")
    fill_number(pg, "vocab-draft-limit", 0)
    pg.locator("#vocab-draft-run").click()
    wait_text(pg, "vocab_draft-status", "How many symbols (limit)")
    problems = text_of(pg, "vocab_draft-status")
    shot(pg, tmp_path, "draft-bad-input")
    assert "BCI-AV IDs (ids): is empty" in problems and "e.g. 16228,29111" in problems
    assert "0 is not a whole number from 1" in problems and "Traceback" not in problems

    pg.locator("#vocab-draft-ids textarea").fill("16228, 29111 99999999")
    fill_number(pg, "vocab-draft-limit", 20)
    pg.locator("#vocab-draft-more").get_by_text(S.LEXDRAFT_MORE, exact=True).click()
    for name, value in LOOSE.items():
        fill_number(pg, f"vocab-draft-{name}", value)
    record_texts(pg, "vocab_draft-status")
    pg.locator("#vocab-draft-run").click()
    wait_text(pg, "vocab-draft-note", "99999999")          # named at once; the other two go on
    wait_text(pg, "vocab_draft-status", "finished", timeout=180_000)
    seen = seen_texts(pg, "vocab_draft-status")
    # A draft of two symbols on the tiny model can finish between two polls of the page; every
    # progress line the page did show says how far it got and the time left (the time left itself
    # is computed and tested in tests/core/runs/test_progress.py).
    running = [s for s in seen if "is running" in s and "symbols done" in s]
    assert all(re.search(r"is running: [012] of 2 symbols done, \d drafted", s) for s in running), seen
    assert all(re.search(r"about \d+ s left", s) for s in running if not s.split("is running: ")[1].startswith("0")), seen
    job_id = re.search(r"\d{8}-\d{6}-vocabdraft-[0-9a-f]+", text_of(pg, "vocab_draft-status")).group(0)
    status = text_of(pg, "vocab_draft-status")
    drafted = int(re.search(r"(\d) of 2 symbols drafted", status).group(1))
    assert drafted >= 1
    note = text_of(pg, "vocab-draft-note")
    assert "Not in the lexicon, left out: 99999999." in note and f"Drafted {drafted} of 2 symbols" in note
    files = pg.locator("#vocab-draft-files").inner_text().replace("\n", "")
    assert f"{job_id}.jsonl" in files and f"{job_id}.report.jsonl" in files
    wait_text(pg, "vocab-checked", f"Vocabulary of {drafted} symbol")
    shot(pg, tmp_path, "draft-done")
    assert serious(Axe().run(pg, context="#vocab-draft").response) == []   # the open panel with its results

    pg.locator("#vocab-init-only").click()
    pg.wait_for_function("() => document.querySelector('#vocab-status').innerText.includes('finished')",
                         timeout=180_000)
    pg.locator("#vocab-table").wait_for(state="visible")
    tokens = [r[0] for r in table_rows(pg, "vocab-table")]
    assert len(tokens) == drafted and set(tokens) <= {"[BLISS_16228]", "[BLISS_29111]"}
    shot(pg, tmp_path, "draft-initialized")

    pg.reload()
    wait_ready(pg)
    open_tab(pg, "6. Vocabulary")
    wait_text(pg, "vocab_draft-status", job_id)
    wait_text(pg, "vocab_draft-restored", job_id)
    assert pg.locator("#vocab-draft-ids textarea").input_value() == "16228, 29111, 99999999"
    assert pg.locator("#vocab-draft-generate input").input_value() == "2"
