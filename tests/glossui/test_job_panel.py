"""After a reload: each job tab shows its job with that job's own settings, the shared settings come
from the running or latest job (and each tab says whose), the open tab and the last initialization
come back; and the status line says what a running job is doing. On the tiny model, without a browser."""

from __future__ import annotations

import gradio as gr
import pytest

from core.service import Service
from glossui import render
from glossui import strings as S
from glossui.layout import build_page
from tests.glossui.test_handlers import Progress, init_values, settings_in, spec_in


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.models.load(wait=True)["state"] == "ready"
    return build_page(svc)


def ft(page, **changes) -> dict:
    return settings_in(page, "train", "finetune", {"epochs": 1, "batch_size": 2, "grad_accum": 1}, changes)


@pytest.fixture(scope="module")
def jobs(page):
    """A training (2 epochs, learning rate 1e-3, strategy random) and, after it, a comparison (1 epoch)."""
    train = page.fn("start_training")(init_values(page, strategy="random", seed=4) | ft(page, epochs=2, learning_rate=1e-3)
                                      | spec_in(page))[page["train"]["job"]]["id"]
    assert page.service.jobs.runner.wait(train, timeout=600)["status"] == "done"
    c = page["compare"]
    compare = page.fn("start_comparison")({c["strategies"]: ["average"], c["also"]: []}
                                          | settings_in(page, "compare", "compare", {}, {"seeds": 1, "leak_rank": 7})
                                          | init_values(page) | ft(page) | spec_in(page))[c["job"]]["id"]
    assert page.service.jobs.runner.wait(compare, timeout=600)["status"] == "done"
    return {"train": train, "compare": compare}


def values_of(page, out: dict, tab: str) -> dict:
    """The values a load sets on a tab's settings widgets, by field name."""
    return {name: out[w] for name, w in page[tab]["settings"].items() if w in out}


def test_a_reload_shows_the_latest_jobs_settings_and_each_tab_says_whose(page, jobs):
    mine = {"train": jobs["train"]}
    # Only the training is remembered and there is no comparison in this browser: its settings come back.
    out = page.fn("restore_settings")({page.remembered: mine})
    train_note = out[page["train"]["restored"]]
    # The comparison (the latest job of the page) is shown on its own tab, so the shared settings are its own.
    assert values_of(page, out, "train")["epochs"] == 1 and values_of(page, out, "initialize")["strategy"] == "average"
    assert render.md(jobs["compare"]) in train_note["value"] and "not those of job" in train_note["value"]
    compare_note = out[page["compare"]["restored"]]["value"]
    assert compare_note == render.md(S.RESTORED_SAME.format(id=jobs["compare"]))
    # The Train tab still shows its own job and its curve.
    view = page.fn("train_load")({page.remembered: mine})
    assert view[page["train"]["job"]]["id"] == jobs["train"]


def test_the_running_job_gives_the_shared_settings_and_its_tab_its_own(page, jobs):
    long = page.fn("start_training")(init_values(page, strategy="random", seed=9) | ft(page, epochs=30, learning_rate=2e-3)
                                     | spec_in(page))[page["train"]["job"]]["id"]
    try:
        out = page.fn("restore_settings")({page.remembered: {"train": long, "compare": jobs["compare"]}})
        assert values_of(page, out, "train")["epochs"] == 30 and values_of(page, out, "train")["learning_rate"] == 2e-3
        assert values_of(page, out, "initialize")["strategy"] == "random" and values_of(page, out, "initialize")["seed"] == 9
        assert out[page["train"]["restored"]]["value"] == render.md(S.RESTORED_SAME.format(id=long))
        assert "this tab's own settings" in out[page["compare"]["restored"]]["value"]
        # The comparison's own settings come from its own job, on its own load.
        c = page["compare"]
        own = page.fn("compare_load")({page.remembered: {"compare": jobs["compare"]}})
        assert own[c["strategies"]] == ["average"] and own[c["settings"]["seeds"]] == 1
        assert own[c["settings"]["leak_rank"]] == 7 and own[c["also"]] == []
    finally:
        page.service.jobs.stop(long)
        page.service.jobs.runner.wait(long, timeout=600)


def test_a_fresh_browser_gets_no_note_when_there_is_no_job(tmp_path):
    svc = Service(tiny=True, runs_dir=tmp_path / "runs")
    page = build_page(svc)
    out = page.fn("restore_settings")({page.remembered: {}})
    assert all(out[p.restored] == gr.update(visible=False) for p in page.job_panels)


def test_the_open_tab_is_remembered_and_opened_again(page):
    assert page.fn("open_compare")() == {page.open_tab: "compare"}
    out = page.fn("reopen_tab")({page.open_tab: "compare"})
    strip = next(iter(out))
    assert isinstance(strip, gr.Tabs) and out[strip].selected == "compare"
    assert page.fn("reopen_tab")({page.open_tab: "no-such-tab"})[strip] == gr.skip()


def test_the_last_initialization_is_shown_again_after_a_reload(page):
    c = page["initialize"]
    out = page.fn("initialize")(init_values(page) | spec_in(page), Progress())
    kept = out[page.last_init]
    assert kept["token"] == "[BLISS_29111]" and kept["testing"]
    again = page.fn("initialize_on_start")({page.last_init: kept})
    assert again[c["message"]].startswith(S.INIT_AGAIN) and "Initialized" in again[c["message"]]
    assert again[c["ranks"]]["value"] == out[c["ranks"]]["value"] and again[c["fit"]]["visible"]
    assert page.fn("initialize_on_start")({page.last_init: None}) == {c["message"]: gr.skip()}


def _job(status="running", **progress) -> dict:
    return {"id": "J1", "status": status, "position": 0, "progress": progress}


def test_the_status_line_says_what_the_job_is_doing():
    assert "is starting" in render.job_message(_job())
    copying = render.job_message(_job(phase="init", label="Copying the base model"))
    assert copying == render.md("Job J1 is running: Copying the base model.")
    first = render.job_message(_job(phase="train", step=0, steps=10))
    assert "before the first step" in first and "starting" not in first
    training = render.job_message(_job(phase="train", step=3, steps=10, epoch=0.6, epochs=2, eta=42))
    assert "epoch 0.6 of 2, step 3 of 10, about 42 s of training left" in training
    after = render.job_message(_job(phase="evaluate_after", step=10, steps=10, eta=0,
                                    label="Evaluating after fine-tuning: generating text, step 4 of 30"))
    assert "left" not in after and "step 4 of 30" in after
    members = render.job_message(_job(members_done=1, members_total=4, eta=600, label="average (seed 1)"))
    assert render.md("1 of 4 members done, about 10 min 00 s left. Now: average (seed 1).") in members


def test_the_bar_shows_a_phase_without_a_share_as_in_progress():
    html = render.progress_html(None, "Job progress", "Quantizing", indeterminate=True)
    assert "<progress " in html and "value=" not in html and "Quantizing" in html
    assert render.progress_html(None, "Job progress") == ""
    assert 'value="37"' in render.progress_html(0.37, "Job progress", "Evaluating")
