"""The page tells the truth while it works, in a real browser (the app on the tiny model, as in
``test_browser``): Compare's estimated time before Start (measured, then from the stored run) and
its time left while it runs; a reload during training that finds the job with its own epochs, the
tab that was open and the last initialization; Generate taking every press, also during a job.

Screenshots go to ``.reports/browser/`` (kept out of git) as well as the test's temporary folder.
"""

from __future__ import annotations

import re
import shutil

import pytest

from tests.glossui.test_browser import (ROOT, app, browser, choose_containing, fill_number, load_spec,  # noqa: F401
                                       open_tab, page, shot, status_text, table_rows, wait_ready)

pytestmark = pytest.mark.browser
REPORTS = ROOT / ".reports" / "browser"


def keep(pg, tmp_path, name: str) -> None:
    """A full-page screenshot in the test's folder and in ``.reports/browser/``."""
    shot(pg, tmp_path, name)
    REPORTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / f"{name}.png", REPORTS / f"{name}.png")


def text_of(pg, elem_id: str) -> str:
    """What a Markdown component says (without Gradio's progress tracker inside it)."""
    return pg.evaluate("""id => { const el = document.querySelector('#' + id);
                                  const md = el.querySelector('[data-testid=markdown]');
                                  return (md || el).innerText.trim(); }""", elem_id)


def wait_text(pg, elem_id: str, needle: str, timeout: int = 120_000) -> None:
    pg.wait_for_function("([id, n]) => { const el = document.querySelector('#' + id);"
                         " return el && el.innerText.includes(n); }", arg=[elem_id, needle], timeout=timeout)


def record_texts(pg, elem_id: str) -> None:
    """Record every text ``elem_id`` shows from now on (``window.__seen[elem_id]``): its Markdown, after
    what Gradio's progress tracker shows over it when that is visible (a queue position, a timer)."""
    pg.evaluate("""id => {
        window.__seen = window.__seen || {}; const seen = window.__seen[id] = [];
        const el = document.querySelector('#' + id);
        const note = () => {
            const md = el.querySelector('[data-testid=markdown]');
            let t = (md ? md.innerText : el.innerText).trim();
            const tracker = el.querySelector('[data-testid=status-tracker]');
            if (tracker) { const cs = getComputedStyle(tracker);
                           if (cs.display !== 'none' && cs.visibility !== 'hidden' && parseFloat(cs.opacity) > 0
                               && tracker.innerText.trim()) t = tracker.innerText.trim() + ' | ' + t; }
            if (seen[seen.length - 1] !== t) seen.push(t);
        };
        note(); new MutationObserver(note).observe(el, {subtree: true, childList: true, characterData: true,
                                                        attributes: true}); }""", elem_id)


def seen_texts(pg, elem_id: str) -> list[str]:
    return pg.evaluate("id => window.__seen[id]", elem_id)


def test_compare_estimates_its_time_before_start_and_follows_its_members(page, tmp_path):
    pg = page
    load_spec(pg, tmp_path)
    open_tab(pg, "4. Train")
    for elem_id, value in (("ft-epochs", 1), ("ft-batch_size", 4), ("ft-grad_accum", 1)):
        fill_number(pg, elem_id, value)
    open_tab(pg, "5. Compare")
    wait_text(pg, "compare-estimate", "No run of this model")
    # The Gloss tab's own symbol (wool_shop) is not offered again; where to run is folded away.
    also = pg.locator("#compare-also").inner_text()
    assert "wool_shop" not in also and "ice_cream" in also
    assert not pg.locator("#compare-ray-address").is_visible()
    pg.locator("#compare-measure").click()
    wait_text(pg, "compare-estimate", "Estimated time: about")
    estimate = text_of(pg, "compare-estimate")
    assert "short measurement on this machine" in estimate and "15 members" in estimate
    keep(pg, tmp_path, "20-compare-estimate-probe")
    pg.locator("#compare-where").get_by_text("Where to run").click()
    pg.locator("#compare-ray-address").wait_for(state="visible")
    assert "Running on Ray" in text_of(pg, "compare-where") and "ray start --head" in text_of(pg, "compare-where")
    keep(pg, tmp_path, "21-compare-where-to-run")

    # Two strategies, two seeds: the estimate follows the settings, then the run says its time left.
    boxes = pg.locator("#compare-strategies input[type=checkbox]")
    for i in range(boxes.count()):
        boxes.nth(i).set_checked(i in (1, 4))   # average and random_both, in the registry's order
        pg.wait_for_timeout(150)
    fill_number(pg, "compare-seeds", 2)
    wait_text(pg, "compare-estimate", "for 4 members")
    record_texts(pg, "compare-status")
    pg.locator("#compare-start").click()
    wait_text(pg, "compare-status", "members done", timeout=180_000)
    wait_text(pg, "compare-status", "finished", timeout=600_000)
    statuses = seen_texts(pg, "compare-status")
    assert any("0 of 4 members done, about" in s for s in statuses), statuses
    # Once a member has finished, the time left comes from the members so far.
    assert any(re.search(r"[123] of 4 members done, about", s) for s in statuses), statuses
    keep(pg, tmp_path, "22-compare-finished")
    # The stored run now gives the estimate.
    pg.locator("#compare-seeds input").fill("3")
    pg.locator("#compare-seeds input").press("Tab")
    wait_text(pg, "compare-estimate", "from 1 stored run of this model")
    assert "for 6 members" in text_of(pg, "compare-estimate")
    keep(pg, tmp_path, "23-compare-estimate-from-runs")


def test_a_reload_during_training_finds_the_job_with_its_own_epochs(page, tmp_path):
    pg = page
    load_spec(pg, tmp_path)
    open_tab(pg, "3. Initialize")
    pg.locator("#init-run").click()
    pg.locator("#init-ranks").wait_for(state="visible", timeout=180_000)
    open_tab(pg, "4. Train")
    for elem_id, value in (("ft-epochs", 37), ("ft-batch_size", 1), ("ft-grad_accum", 1), ("ft-learning_rate", 0.002)):
        fill_number(pg, elem_id, value)
    record_texts(pg, "train-status")
    pg.locator("#train-start").click()
    wait_text(pg, "train-status", "is running: epoch", timeout=180_000)
    pg.wait_for_timeout(4000)   # several ticks of the status line
    statuses = seen_texts(pg, "train-status")
    # Every text the line showed is a sentence about the job: never a queue timer in its place.
    assert statuses[0] == "No job yet. Start one above." and len(statuses) > 2, statuses
    assert all(s.startswith("Job ") for s in statuses[1:]), statuses
    assert not any(re.search(r"queue:|processing|\d\.\ds", s) for s in statuses), statuses
    assert not any("starting" in s for s in statuses[statuses.index(next(s for s in statuses if "running" in s)):])
    job_id = re.search(r"\d{8}-\d{6}-finetune-[0-9a-f]+", text_of(pg, "train-status")).group(0)
    keep(pg, tmp_path, "30-training-before-reload")

    pg.reload()
    wait_ready(pg)
    # The Train tab is open again, with the job's own epochs and learning rate, and says so.
    assert pg.get_by_role("tab", name="4. Train").get_attribute("aria-selected") == "true"
    wait_text(pg, "train-status", job_id)
    wait_text(pg, "train-restored", job_id)
    pg.wait_for_function("() => document.querySelector('#ft-epochs input').value === '37'")
    assert pg.locator("#ft-learning_rate input").input_value() == "0.002"
    wait_text(pg, "train-status", "of 37")
    keep(pg, tmp_path, "31-training-after-reload")
    open_tab(pg, "3. Initialize")
    wait_text(pg, "init-message", "Shown again after the reload")
    assert pg.locator("#init-ranks").is_visible()
    keep(pg, tmp_path, "32-initialize-after-reload")
    open_tab(pg, "4. Train")
    pg.locator("#train-stop").click()
    wait_text(pg, "train-status", "was stopped", timeout=180_000)


def pick_a_trained_model(pg) -> None:
    """On the Generate tab, pick a trained model: one of the runs above, else a short training's."""
    open_tab(pg, "7. Generate")
    pg.locator("#generate-refresh").click()
    pg.wait_for_timeout(1000)
    pg.locator("#generate-pick input").click()
    if not pg.get_by_role("option").count():
        pg.keyboard.press("Escape")
        open_tab(pg, "4. Train")
        for elem_id, value in (("ft-epochs", 1), ("ft-batch_size", 4), ("ft-grad_accum", 1)):
            fill_number(pg, elem_id, value)
        pg.locator("#train-start").click()
        wait_text(pg, "train-status", "finished", timeout=300_000)
        open_tab(pg, "7. Generate")
        pg.locator("#generate-refresh").click()
        pg.wait_for_timeout(1000)
        pg.locator("#generate-pick input").click()
    pg.get_by_role("option").first.click()
    pg.locator("#generate-table").wait_for(state="visible")


def test_generate_takes_every_press_also_during_a_job(page, tmp_path):
    pg = page
    load_spec(pg, tmp_path)
    pick_a_trained_model(pg)
    prompt = pg.locator("#generate-prompt textarea, #generate-prompt input").first
    record_texts(pg, "generate-custom-message")
    # Two presses in quick succession, with another prompt for the second: both run, the second last.
    prompt.fill("First {placeholder} try")
    pg.locator("#generate-run").click()
    prompt.fill("Second {placeholder} try")
    pg.locator("#generate-run").click()
    wait_text(pg, "generate-custom-message", "Generated “Second {placeholder} try”")
    seen = seen_texts(pg, "generate-custom-message")
    for said in ("Generating “First", "Generated “First", "Generating “Second"):
        assert any(s.startswith(said) for s in seen), seen
    assert table_rows(pg, "generate-custom")[0][0] == "Second {placeholder} try"
    keep(pg, tmp_path, "40-generate-two-presses")

    # A press while a training job runs.
    open_tab(pg, "4. Train")
    for elem_id, value in (("ft-epochs", 40), ("ft-batch_size", 1), ("ft-grad_accum", 1)):
        fill_number(pg, elem_id, value)
    pg.locator("#train-start").click()
    wait_text(pg, "train-status", "is running", timeout=180_000)
    open_tab(pg, "7. Generate")
    prompt.fill("During {placeholder} training")
    pg.locator("#generate-run").click()
    wait_text(pg, "generate-custom-message", "Generated “During {placeholder} training”", timeout=180_000)
    assert table_rows(pg, "generate-custom")[0][0] == "During {placeholder} training"
    keep(pg, tmp_path, "41-generate-during-a-job")
    open_tab(pg, "4. Train")
    assert "is running" in status_text(pg, "train-status") or "stopping" in status_text(pg, "train-status")
    pg.locator("#train-stop").click()
    # Stopped, or finished when the press came during the last evaluation (a stop waits for a step).
    pg.wait_for_function("() => { const t = document.querySelector('#train-status').innerText;"
                         " return t.includes('was stopped') || t.includes('finished'); }", timeout=180_000)
