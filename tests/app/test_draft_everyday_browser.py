"""Drafting on the default model in a real browser (Chromium): fifty everyday sentences in which the
gloss comes early ("The bakery opens at six every morning."), pasted with twenty negatives, draft into a
valid spec with the default settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from glossui import strings as S
from tests.glossui.test_browser import (CHROMIUM, browser, field, open_tab, shot, start_app,  # noqa: F401
                                        status_text, stop_app, table_rows, wait_ready)

pytestmark = [pytest.mark.slow, pytest.mark.browser]
DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def default_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("default-app")
    proc, url = start_app(folder / "runs", folder / "app.log", tiny=False)
    yield url
    stop_app(proc)


def test_everyday_sentences_with_the_gloss_early_draft_with_the_defaults(browser, default_app, tmp_path):
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(240_000)
    pg.goto(default_app)
    wait_ready(pg)
    open_tab(pg, "2. Model")
    pg.wait_for_function("() => document.querySelector('#model-status').innerText.includes('Ready: SmolLM2')")
    open_tab(pg, S.TAB_GLOSS)
    for name, value in (("symbol_id", "bakery"), ("glosses", "bakery"), ("new_token", "[BLISS_BAKERY]"),
                        ("target_tokens", "bakery")):
        field(pg, name).fill(value)
    pg.get_by_text(S.DRAFT_TITLE).click()
    pg.locator("#draft-sentences textarea").fill((DATA / "bakery_sentences.txt").read_text(encoding="utf-8"))
    pg.locator("#draft-negatives textarea").fill((DATA / "bakery_negatives.txt").read_text(encoding="utf-8"))
    pg.locator("#draft-run").click()      # every drafting setting at its default
    pg.wait_for_function("() => document.querySelector('#draft-status').innerText.includes('Drafted')")
    text = status_text(pg, "draft-status")
    assert "of 50 contexts kept" in text and "lengthened with the sentence before" in text
    assert "The spec is valid" in text
    assert all("[BLISS_BAKERY]" in s for s in field(pg, "fine_tuning_sentences").input_value().splitlines())
    rows = table_rows(pg, "draft-table")
    assert any(S.DRAFT_LENGTHENED.strip() in r[2] for r in rows)
    shot(pg, tmp_path, "24-everyday-sentences-drafted")
    context.close()
