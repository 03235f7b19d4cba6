"""The Vocabulary tab in a real browser (the app on the tiny model, as in ``test_browser``): tick two
built-in symbols, run Initialize only, see every symbol's row and the confusion heatmap; fine-tune
them and generate from one's own prompt with the symbol chosen on the Generate tab."""

from __future__ import annotations

import pytest

from tests.core.experiment.vocab_fixtures import THREE
from tests.glossui.test_browser import (app, browser, choose, choose_containing, open_tab, page, shot,  # noqa: F401
                                       table_rows)

TWO = [THREE[0], THREE[2]]  # lowness_shortness, wool_shop: both work with the tiny tokenizer
pytestmark = pytest.mark.browser


def tick_two(pg) -> None:
    for name in TWO:
        pg.locator("#vocab-builtins").get_by_label(name, exact=True).check()
    pg.wait_for_function("() => document.querySelector('#vocab-checked').innerText.includes('Vocabulary of 2')")


def run_init_only(pg) -> None:
    """On the Vocabulary tab: tick ``TWO``, wait for the check, run Initialize only until it finishes."""
    tick_two(pg)
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


def test_a_fine_tuned_vocabulary_generates_for_the_symbol_chosen(page, tmp_path):
    pg = page
    open_tab(pg, "4. Train")
    pg.locator("#ft-epochs input").fill("2")
    open_tab(pg, "6. Vocabulary")
    tick_two(pg)
    pg.locator("#vocab-finetune").click()
    pg.locator("#vocab-heat-before .js-plotly-plot").wait_for(state="visible", timeout=300_000)
    open_tab(pg, "7. Generate")
    pg.locator("#generate-refresh").click()
    pg.wait_for_timeout(500)
    choose_containing(pg, "generate-pick", "vocab")
    pg.locator("#generate-table").wait_for(state="visible")
    assert pg.locator("#generate-symbol").is_visible()
    choose(pg, "generate-symbol", "[BLISS_29111] (wool shop)")
    pg.locator("#generate-prompt textarea, #generate-prompt input").first.fill("I went to the {placeholder} and")
    pg.locator("#generate-run").click()
    pg.locator("#generate-custom").wait_for(state="visible", timeout=120_000)
    row = table_rows(pg, "generate-custom")[0]
    shot(pg, tmp_path, "vocabulary-generate")
    assert row[1].startswith("I went to the wool shop and") and row[2].startswith("I went to the [BLISS_29111] and")
    assert "for [BLISS_29111]" in pg.locator("#generate-custom-message").inner_text()
