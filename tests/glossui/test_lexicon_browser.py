"""The lexicon report and Resume in a real browser (the app on the tiny model, as in ``test_browser``):
two built-in symbols initialized together show the lexicon report (the shares, the worst with their
reasons, the histogram of the tokens' own ranks, its three files); a comparison left interrupted on disk
is resumed from the Runs tab, followed on the Compare tab and listed as done."""

from __future__ import annotations

import pytest

from core.runs.store import RunStore
from tests.core.service.test_jobs import interrupted_comparison
from tests.glossui.test_browser import app, browser, choose_containing, open_tab, page, shot, table_rows  # noqa: F401
from tests.glossui.test_vocab_browser import run_init_only

pytestmark = pytest.mark.browser


def test_a_vocabulary_s_lexicon_report_shows_its_shares_worst_histogram_and_files(page, tmp_path):
    pg = page
    open_tab(pg, "6. Vocabulary")
    run_init_only(pg)
    pg.locator("#vocab-histogram .js-plotly-plot").wait_for(state="visible")
    shot(pg, tmp_path, "lexicon-report")
    text = pg.locator("#vocab-lexicon").inner_text()
    assert text.startswith("Lexicon report: 2 symbols") and "Before fine-tuning:" in text and "of 2 symbols" in text
    assert "After fine-tuning" not in text                     # initialized only
    worst = table_rows(pg, "vocab-worst")
    assert sorted(r[0] for r in worst) == ["[BLISS_24918]", "[BLISS_29111]"]
    assert all("median rank on its own contexts" in r[3] for r in worst)
    bars = pg.evaluate("""() => document.querySelector('#vocab-histogram .js-plotly-plot').data.map(
                              t => [t.type, t.name, t.y.reduce((a, b) => a + b, 0)])""")
    assert bars == [["bar", "before fine-tuning", 2]]           # every symbol in one band
    files = pg.locator("#vocab-lexicon-files").inner_text()
    assert all(name in files for name in ("lexicon.md", "lexicon.html", "symbols.csv"))


def test_an_interrupted_comparison_is_resumed_from_the_runs_tab(page, app, tmp_path):
    pg = page
    run_id = interrupted_comparison(RunStore(app[1]))
    open_tab(pg, "8. Runs")
    pg.locator("#runs-refresh").click()
    pg.wait_for_timeout(500)
    assert not pg.locator("#runs-resume").is_visible()
    choose_containing(pg, "runs-pick", run_id)
    pg.locator("#runs-resume").wait_for(state="visible")
    assert "0 of 1 members finished" in pg.locator("#runs-resume-note").inner_text()
    pg.locator("#runs-resume").click()
    pg.wait_for_function("id => document.querySelector('#runs-summary').innerText.includes('Resumed run ' + id)",
                         arg=run_id)
    status = {r[0]: r[3] for r in table_rows(pg, "runs-table")}[run_id]
    assert status in ("queued", "running")
    assert not pg.locator("#runs-resume").is_visible()
    open_tab(pg, "5. Compare")
    pg.wait_for_function("id => document.querySelector('#compare-status').innerText.includes(id)", arg=run_id)
    pg.wait_for_function("() => document.querySelector('#compare-status').innerText.includes('finished')",
                         timeout=180_000)
    shot(pg, tmp_path, "resumed-comparison")
    assert len(table_rows(pg, "compare-table")) == 1
    open_tab(pg, "8. Runs")
    pg.wait_for_function("id => [...document.querySelectorAll('#runs-table [role=row][data-index]')].some("
                         "r => r.innerText.includes(id) && r.innerText.includes('done'))", arg=run_id)
