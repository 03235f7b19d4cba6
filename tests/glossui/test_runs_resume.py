"""The Runs tab's Resume without a browser, on the tiny model: offered only for an interrupted run that
can be resumed (saying what it will do), a comparison resumed as a job followed on the Compare tab's
panel and listed as running, and what cannot be resumed named inline, never as a stack trace."""

from __future__ import annotations

import pytest

from core.service import Service
from glossui import render
from glossui import strings as S
from glossui.layout import build_page
from tests.core.service.test_jobs import interrupted, interrupted_comparison, interrupted_vocab_finetune


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.models.load(wait=True)["state"] == "ready"
    yield build_page(svc)
    svc.shutdown()


def offer(page, run_id) -> dict:
    r = page["runs"]
    out = page.fn("resume_offer")({r["pick"]: run_id})
    return {"visible": out[r["resume"]]["visible"], "note": out[r["resume_note"]].get("value")}


def test_resume_is_offered_only_for_a_run_that_can_be_resumed(page):
    store = page.service.jobs.store
    comparison = interrupted_comparison(store)
    finetune, _ = interrupted_vocab_finetune(store)
    init_only = interrupted(store, "vocab", {"source": "list", "specs": []},
                            {"kind": "vocab", "action": "init", "model": "tiny-random"})
    assert offer(page, comparison) == {"visible": True, "note": S.RUN_RESUME_COMPARE.format(
        id=render.md(comparison), done=0, total=1)}
    found = offer(page, finetune)
    assert found["visible"] is True and "from the checkpoint of step 4" in found["note"]
    for run_id in (init_only, None, "no-such-run"):
        assert offer(page, run_id) == {"visible": False, "note": ""}
    r = page["runs"]
    assert r["resume"].visible is False and r["resume_note"].visible is False   # nothing chosen yet


def test_a_resumed_comparison_is_followed_on_the_compare_tab_and_listed_running(page):
    r, cmp, voc = page["runs"], page["compare"], page["vocab"]
    run_id = interrupted_comparison(page.service.jobs.store)
    out = page.fn("resume_run")({r["pick"]: run_id})
    assert out[r["summary"]] == S.RUN_RESUMED.format(id=render.md(run_id), tab=render.md(S.TAB_COMPARE))
    assert out[r["resume"]]["visible"] is False
    assert out[cmp["job"]]["id"] == run_id and out[cmp["timer"]].active is True   # the panel polls it
    assert voc["job"] not in out                                                 # the other panels stay
    rows = {row[0]: row for row in out[r["table"]]["value"]["data"]}
    assert rows[run_id][3] in ("queued", "running") and out[r["pick"]]["value"] == run_id
    assert page.service.jobs.runner.wait(run_id, timeout=300)["status"] == "done"
    tick = page.fn("compare_tick")({cmp["job"]: out[cmp["job"]], cmp["log_scale"]: False})
    assert "finished" in tick[cmp["status"]] and tick[cmp["timer"]].active is False
    data = tick[cmp["table"]]["value"]["data"]
    assert len(data) == 1 and data[0][0].lower().startswith("average")   # its one member's row
    refreshed = page.fn("refresh_on_compare_finish")({cmp["job"]: tick[cmp["job"]], r["pick"]: run_id})
    assert {row[0]: row[3] for row in refreshed[r["table"]]["value"]["data"]}[run_id] == "done"
    assert offer(page, run_id)["visible"] is False


def test_what_cannot_be_resumed_is_named_inline_and_nothing_starts(page):
    r = page["runs"]
    store = page.service.jobs.store
    cases = {interrupted_comparison(store, model="someone/else"): "load 'someone/else' to resume it",
             interrupted(store, "vocab", {"source": "list", "specs": []},
                         {"kind": "vocab", "action": "init", "model": "tiny-random"}): "without training",
             None: "no run was chosen"}
    jobs = len(page.service.jobs.runner.list())
    for run_id, words in cases.items():
        out = page.fn("resume_run")({r["pick"]: run_id})
        assert set(out) == {r["summary"]}, out
        text = out[r["summary"]].replace("\\", "")
        assert text.startswith(S.SPEC_PROBLEMS.format(n=1, s="")) and "- **Run**: " in text, text
        assert words in text and "Traceback" not in text
    assert len(page.service.jobs.runner.list()) == jobs
