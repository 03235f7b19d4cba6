"""The Vocabulary tab in a real browser (the app on the tiny model, as in ``test_browser``): tick two
built-in symbols, run Initialize only, see every symbol's row and the confusion heatmap."""

from __future__ import annotations

import pytest

from tests.core.experiment.vocab_fixtures import THREE
from tests.glossui.test_browser import app, browser, open_tab, page, shot, table_rows  # noqa: F401

TWO = [THREE[0], THREE[2]]  # lowness_shortness, wool_shop: both work with the tiny tokenizer
pytestmark = pytest.mark.browser


def run_init_only(pg) -> None:
    """On the Vocabulary tab: tick ``TWO``, wait for the check, run Initialize only until it finishes."""
    for name in TWO:
        pg.locator("#vocab-builtins").get_by_label(name, exact=True).check()
    pg.wait_for_function("() => document.querySelector('#vocab-checked').innerText.includes('Vocabulary of 2')")
    pg.locator("#vocab-init-only").click()
    pg.wait_for_function("() => document.querySelector('#vocab-status').innerText.includes('finished')",
                         timeout=180_000)
    pg.locator("#vocab-table").wait_for(state="visible")
    pg.locator("#vocab-heat .js-plotly-plot").wait_for(state="visible")


def test_two_built_ins_initialized_together_show_their_table_and_heatmap(page, tmp_path):
    pg = page
    open_tab(pg, "6. Vocabulary")
    run_init_only(pg)
    shot(pg, tmp_path, "vocabulary-init-only")
    assert "no fine-tuning" in pg.locator("#vocab-status").inner_text()
    rows = table_rows(pg, "vocab-table")
    assert [r[:2] for r in rows] == [["[BLISS_24918]", "lowness"], ["[BLISS_29111]", "wool shop"]]
    heat = pg.evaluate("""() => { const el = document.querySelector('#vocab-heat .js-plotly-plot');
                                  return el.data.map(t => [t.type, t.z.length, t.y]); }""")
    assert heat[0][0] == "heatmap" and heat[0][1] == 2 and heat[0][2] == [r[0] for r in rows]
    assert not pg.locator("#vocab-heat-before").is_visible()   # before and after once fine-tuned
