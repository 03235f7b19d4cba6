"""End to end on the real default model (SmolLM2-135M-Instruct, embedded) through the page:
upload a short part of the wool shop example, initialize with ``average``, fine-tune one epoch,
see the results."""

from __future__ import annotations

import json

import pytest

from tests.conftest import short
from tests.glossui.test_browser import (CHROMIUM, browser, example_spec, fill_number, open_tab, shot,  # noqa: F401
                                       start_app, status_text, stop_app, table_rows, upload, wait_ready)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def default_app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("default-app")
    proc, url = start_app(folder / "runs", folder / "app.log", tiny=False)
    yield url
    stop_app(proc)


def test_average_then_one_epoch_on_the_default_model(browser, default_app, tmp_path):
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(120_000)
    pg.goto(default_app)
    wait_ready(pg)
    open_tab(pg, "2. Model")
    pg.wait_for_function("() => document.querySelector('#model-status').innerText.includes('Ready: SmolLM2')")
    spec = short(example_spec())   # every field, fewer items: one epoch is two steps
    path = tmp_path / "wool_shop_short.json"
    path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    upload(pg, path)
    pg.wait_for_function("() => document.querySelector('#spec-status').innerText.includes('uploaded')")

    open_tab(pg, "3. Initialize")   # `average` is the default strategy
    pg.locator("#init-run").click()
    pg.locator("#init-ranks").wait_for(state="visible")
    assert "Average" in status_text(pg, "init-message")
    ranks = table_rows(pg, "init-ranks")   # the rows drawn so far (a long table draws more as it scrolls)
    expected = spec["testing_positive_contexts"] + spec["testing_negative_contexts"]
    assert len(ranks) >= min(len(expected), 10) and [r[0] for r in ranks] == expected[:len(ranks)]
    shot(pg, tmp_path, "e2e-initialize")

    open_tab(pg, "4. Train")
    fill_number(pg, "ft-epochs", 1)
    # The research's batch of 10 sentences, or all of them when the spec has fewer.
    fill_number(pg, "ft-batch_size", min(10, len(spec["fine_tuning_sentences"])))
    pg.locator("#train-start").click()
    pg.wait_for_function("() => { const t = document.querySelector('#train-status').innerText;"
                         " return t.includes('finished') || t.includes('failed') || t.includes('Please fix'); }",
                         timeout=600_000)
    assert "finished" in status_text(pg, "train-status"), status_text(pg, "train-status")
    pg.locator("#train-result").wait_for(state="visible")
    result = dict((r[0], r[1]) for r in table_rows(pg, "train-result"))
    assert result["Initialization"] == "Averaged input; calculated output"
    # the results schema names the best step's validation loss "Validation loss"
    assert float(result["Validation loss"]) <= float(result["Validation loss before fine-tuning"])
    shot(pg, tmp_path, "e2e-trained")

    open_tab(pg, "7. Generate")
    pg.locator("#generate-refresh").click()
    pg.locator("#generate-pick input").click()
    pg.get_by_role("option").first.click()
    pg.locator("#generate-table").wait_for(state="visible")
    rows = table_rows(pg, "generate-table")
    prompts = spec["generation_prompts"]
    assert len(rows) >= min(len(prompts), 3) and [r[0] for r in rows] == prompts[:len(rows)]
    assert all(spec["new_token"] in r[2] and spec["new_token"] in r[4] for r in rows)
    shot(pg, tmp_path, "e2e-generate")
    context.close()
