"""The Gloss tab's "Bliss symbol" box in Chromium: an ID fills the symbol fields, words list matches.

Reuses the browser tests' app (``app.py --tiny``), browser and page fixtures; the expected targets
are computed here from the tiny tokenizer, not read from the page.
"""

from __future__ import annotations

import os

import pytest

from core.authoring.lexicon import load_lexicon, proposed_targets
from glossui import strings as S
from core.model.tiny import tiny_model
from tests.glossui.test_browser import CHROMIUM, app, browser, field, page, shot  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's Chromium at /usr/bin/chromium"),
]


def bliss_status(pg) -> str:
    return pg.locator("#bliss-status").inner_text()


def look_up(pg, text: str, expect: str) -> None:
    box = pg.locator("#bliss-query textarea, #bliss-query input").first
    box.fill(text)
    pg.locator("#bliss-lookup").click()
    pg.wait_for_function("(t) => (document.querySelector('#bliss-status')?.innerText || '').includes(t)", arg=expect)


def test_an_id_fills_the_symbol_fields(page, tmp_path):  # noqa: F811 - the fixture
    pg = page
    tokenizer = tiny_model()[1]
    symbol = load_lexicon().symbol(16228)
    targets, _ = proposed_targets(symbol, tokenizer)
    before = field(pg, "positive_contexts").input_value()
    look_up(pg, "16228", "Bliss symbol 16228")
    assert field(pg, "symbol_id").input_value() == "16228"
    assert field(pg, "glosses").input_value() == "post office"
    assert field(pg, "new_token").input_value() == "[BLISS_16228]"
    assert field(pg, "target_tokens").input_value().splitlines() == targets and targets
    notes = field(pg, "notes").input_value()
    assert "building where mail is processed" in notes and "noun" in notes
    assert f"Proposed target tokens for tiny-random: {', '.join(targets)}" in bliss_status(pg)
    # The page held the wool shop's lists (symbol 29111): by default the look-up starts a blank spec
    # for 16228, and both the box and the spec's status say so.
    assert before and field(pg, "positive_contexts").input_value() == ""
    assert field(pg, "fine_tuning_sentences").input_value() == ""
    assert "{placeholder}" in field(pg, "generation_prompts").input_value()
    assert "blank spec for this symbol" in bliss_status(pg) and "symbol 29111" in bliss_status(pg)
    assert "A blank spec for Bliss symbol 16228" in pg.locator("#spec-status").inner_text()
    shot(pg, tmp_path, "bliss-16228")


def test_keeping_the_lists_says_so_and_the_check_names_the_other_token(page, tmp_path):  # noqa: F811
    pg = page
    before = field(pg, "fine_tuning_sentences").input_value()
    assert "[BLISS_29111]" in before
    pg.locator("#bliss-lists").get_by_text(S.BLISS_LISTS_KEEP).click()
    look_up(pg, "16228", "Bliss symbol 16228")
    assert field(pg, "new_token").input_value() == "[BLISS_16228]"
    assert field(pg, "fine_tuning_sentences").input_value() == before          # kept, as asked
    assert "Kept the lists of symbol 29111" in bliss_status(pg)
    assert "with the lists kept from symbol 29111" in pg.locator("#spec-status").inner_text()
    pg.locator("#check-spec").click()
    pg.wait_for_function("() => document.querySelector('#spec-status').innerText.includes('not the new token')")
    assert "use [BLISS_29111], not the new token [BLISS_16228]" in pg.locator("#spec-status").inner_text()
    shot(pg, tmp_path, "bliss-16228-kept-lists-checked")


def test_words_list_ranked_matches_to_pick_from(page, tmp_path):  # noqa: F811 - the fixture
    pg = page
    look_up(pg, "brush teeth", "best first")
    pg.locator("#bliss-matches input").click()
    options = pg.get_by_role("option")
    assert options.first.inner_text().startswith("12914 · to brush teeth")
    options.first.click()
    pg.wait_for_function("() => (document.querySelector('#bliss-status')?.innerText || '').includes('12914')")
    assert field(pg, "symbol_id").input_value() == "12914"
    assert field(pg, "glosses").input_value() == "to brush teeth"
    assert field(pg, "target_tokens").input_value() == "brush"
    shot(pg, tmp_path, "bliss-brush-teeth")


def test_an_unknown_id_is_reported_next_to_the_box(page):  # noqa: F811 - the fixture
    pg = page
    look_up(pg, "99999", "no symbol of the lexicon has the BCI-AV ID 99999")
    assert "lexicon search" in bliss_status(pg) and "Traceback" not in bliss_status(pg)
    assert field(pg, "symbol_id").input_value() != "99999"
