"""The Vocabulary tab's *Draft from the lexicon* panel without a browser, on the tiny model: bad input
named inline by the panel's own labels (nothing starts), a draft followed to its end (the IDs left out,
the symbols not drafted, the files, the tab's vocabulary), the status line while it runs, the draft
again after a reload with its own settings, and a stopped draft resumed from the panel and offered on
the Runs tab."""

from __future__ import annotations

import gradio as gr
import pytest

from core.service import Service
from glossui import lexicon_draft_panel, render
from glossui import strings as S
from glossui.layout import build_page

LOOSE = {"generate": 2, "batch_symbols": 1, "positive_rank": 50_000, "negative_rank": 1}  # the tiny model's ranks


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.models.load(wait=True)["state"] == "ready"
    yield build_page(svc)
    svc.shutdown()


def draft_in(page, which: str = "ids", ids: str = "", pos: str = "", limit=20, **settings) -> dict:
    """The panel's widgets: the selection, the engine's defaults and ``settings`` by name."""
    d = page["vocab_draft"]
    cfg = {f["name"]: f["default"] for f in page.service.settings.describe("vocab_draft")} | settings
    return {d["which"]: which, d["ids"]: ids, d["pos"]: pos, d["limit"]: limit} | \
        {w: cfg[name] for name, w in d["settings"].items()}


def view(page, job_id: str) -> dict:
    d = page["vocab_draft"]
    return page.fn("vocab_draft_view")({d["job"]: {"id": job_id}, d["log_scale"]: False})


def test_bad_input_is_named_inline_as_the_panel_names_it_and_nothing_starts(page):
    d, start = page["vocab_draft"], page.fn("start_vocab_draft")
    before = len(page.service.jobs.store.list())
    cases = [(draft_in(page, ids=" ", limit=0), ["**BCI-AV IDs (ids)**: is empty", "e.g. 16228,29111",
                                                 "**How many symbols (limit)**: 0 is not a whole number from 1"]),
             (draft_in(page, "all", pos="verb", generate=-1), ["**Part of speech (pos)**: 'verb' is not a part of",
                                                               "choose one of action",
                                                               "**Sentences the writer writes per symbol (generate)**"]),
             (draft_in(page, ids="99999999"), ["**BCI-AV IDs (ids)**: the selection is empty"])]
    for values, words in cases:
        out = start(values)
        assert set(out) == {d["status"]}
        text = out[d["status"]]
        assert all(w.replace("_", "\\_") in text or w in text for w in words), text
        assert "Traceback" not in text
    assert len(page.service.jobs.store.list()) == before


def test_the_status_line_says_how_many_symbols_are_done_and_the_time_left():
    job = {"id": "j1", "kind": "vocab_draft", "status": "running",
           "progress": {"phase": "draft", "label": "12 of 40 symbols done, 9 drafted", "eta": 65.0}}
    assert render.job_message(job) == render.md("Job j1 is running: 12 of 40 symbols done, 9 drafted, "
                                                "about 1 min 05 s left.")
    stopped = {"id": "j1", "kind": "vocab_draft", "status": "stopped",
               "result": {"symbols": 40, "handled": 12, "drafted": 9}}
    assert render.job_message(stopped) == render.md(S.LEXDRAFT_STOPPED.format(id="j1", handled=12, symbols=40,
                                                                              drafted=9))


@pytest.fixture(scope="module")
def drafted(page):
    """A draft of two lexicon symbols and an ID the lexicon does not have, followed to its end."""
    d = page["vocab_draft"]
    out = page.fn("start_vocab_draft")(draft_in(page, ids="16228, 99999999 29111", **LOOSE))
    job_id = out[d["job"]]["id"]
    assert out[d["timer"]].active is True and out[d["restored"]] == gr.update(value="", visible=False)
    assert "99999999" in out[d["note"]]["value"] and out[d["table"]] == gr.update(visible=False)
    assert page.service.jobs.runner.wait(job_id, timeout=300)["status"] == "done"
    return job_id


def test_a_finished_draft_lists_what_it_left_out_offers_its_files_and_becomes_the_vocabulary(page, drafted):
    d, v = page["vocab_draft"], page["vocab"]
    out = view(page, drafted)
    result = page.service.jobs.get(drafted)["result"]
    assert out[d["status"]] == render.md(S.LEXDRAFT_DONE.format(id=drafted, drafted=result["drafted"], symbols=2,
                                                                s="s"))
    assert out[d["timer"]].active is False and out[d["progress"]] == ""
    note = out[d["note"]]["value"]
    assert render.md(S.LEXDRAFT_UNKNOWN.format(ids="99999999")) in note and S.LEXDRAFT_LOADS in note
    assert f"Drafted {result['drafted']} of 2 symbols" in note and out[d["resume"]] == gr.update(visible=False)
    files = out[d["download"]]["value"]
    assert [f.rsplit("/", 1)[1] for f in files] == [f"{drafted}.jsonl", f"{drafted}.report.jsonl"]
    assert out[v["files"]] == [files[0]]
    checked = page.fn("check_vocabulary")({v["builtins"]: [], v["files"]: out[v["files"]]})[v["checked"]]
    assert checked.startswith(f"Vocabulary of {result['drafted']} symbol")
    rows = [[r["symbol_id"], r["gloss"], r["reason"]] for r in result["not_drafted"]]
    assert out[d["table"]] == (gr.update(visible=False) if not rows else
                               gr.update(value=render.table(S.LEXDRAFT_TABLE_HEAD, rows), visible=True))


def test_after_a_reload_the_draft_comes_back_with_its_own_settings(page, drafted):
    d = page["vocab_draft"]
    mine = {"vocab_draft": drafted}
    out = page.fn("vocab_draft_load")({page.remembered: mine})
    assert out[d["job"]]["id"] == drafted and out[d["which"]] == "ids" and out[d["limit"]] == 20
    assert out[d["ids"]] == "16228, 99999999, 29111" and out[d["pos"]] == ""
    assert out[d["settings"]["generate"]] == 2 and out[d["settings"]["positive_rank"]] == 50_000
    assert out[d["accordion"]] == gr.update(open=True)
    notes = page.fn("restore_settings")({page.remembered: mine})
    assert notes[d["restored"]]["value"] == render.md(S.RESTORED_ALONE.format(id=drafted))
    assert not any(w in notes for w in page["initialize"]["settings"].values())   # the draft shares no settings


def test_a_stopped_draft_is_resumed_from_the_panel_and_offered_on_the_runs_tab(page, drafted):
    d, r, runner = page["vocab_draft"], page["runs"], page.service.jobs.runner
    job_id = page.fn("start_vocab_draft")(draft_in(page, ids="24918 22369", **LOOSE))[d["job"]]["id"]
    stop = page.fn("stop_vocab_draft_job")
    runner.subscribe(job_id, lambda e: stop({d["job"]: {"id": job_id}}) if e.get("done") == 1 else None)
    assert runner.wait(job_id, timeout=300)["status"] == "stopped"
    out = view(page, job_id)
    assert S.LEXDRAFT_RESUMABLE in out[d["note"]]["value"] and out[d["resume"]] == gr.update(visible=True)
    assert "was stopped after 1 of 2 symbols" in out[d["status"]]
    offer = page.fn("resume_offer")({r["pick"]: job_id})
    assert offer[r["resume_note"]]["value"] == S.RUN_RESUME_DRAFT.format(id=render.md(job_id), done=1, total=2)
    opened = page.fn("open_run")({r["pick"]: job_id})
    assert opened[r["plot"]] == gr.update(visible=False) and "Drafted" in opened[r["summary"]]
    assert opened[r["result"]]["value"]["headers"] == S.LEXDRAFT_TABLE_HEAD
    again = page.fn("resume_vocab_draft")({d["job"]: out[d["job"]]})
    assert again[d["job"]]["id"] == job_id and again[d["timer"]].active is True
    assert runner.wait(job_id, timeout=300)["status"] == "done"
    done = view(page, job_id)
    assert done[d["resume"]] == gr.update(visible=False) and "finished" in done[d["status"]]
    refused = page.fn("resume_vocab_draft")({d["job"]: {"id": drafted}})   # a finished draft does not resume
    assert set(refused) == {d["status"]} and "is done, not interrupted or stopped" in refused[d["status"]]


def test_the_parts_of_speech_come_from_the_lexicon_when_the_panel_opens(page):
    d = page["vocab_draft"]
    choices = page.fn("vocab_draft_parts_of_speech")()[d["pos"]]["choices"]
    assert choices[0] == (S.LEXDRAFT_POS_ANY, "") and ("noun", "noun") in choices
    assert lexicon_draft_panel.KIND == "vocab_draft" and d["status"].elem_id == "vocab_draft-status"
