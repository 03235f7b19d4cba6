"""A vocabulary drafted from the lexicon as a job (kind ``vocab_draft``) on the tiny model: its files in
the run, progress events with the time left, unknown IDs named while the rest go on, a stop between
batches that keeps what was written, and a resume (of a stopped or a killed run) that ends with the
file an uninterrupted run writes."""

from __future__ import annotations

import json

import pytest

from core import atomic
from core.authoring.draft import DraftConfig
from core.authoring.many import ManyConfig
from core.runs.draft_jobs import FILE, KIND, check_drafted, submit_vocab_draft, symbols_done, vocab_file
from core.runs.resume import check_resume, resume_run
from core.spec.errors import InputError
from tests.conftest import tiny_spec_dict
from tests.core.service.test_jobs import interrupted

# The tiny model is random: thresholds that let its ranks through, as N and M would for a real model.
LOOSE = DraftConfig(positive_rank=50_000, negative_rank=1, generate=0)
ONE_BY_ONE = ManyConfig(generate=2, batch_symbols=1)


def _ids(*ids: str) -> dict:
    return {"ids": list(ids), "lexicon": None, "pos": None, "limit": None}


def _report(store, run_id: str) -> list[dict]:
    return [json.loads(line) for line in atomic.complete_lines(f"{vocab_file(store, run_id)}.report.jsonl")]


def test_a_draft_job_writes_its_vocabulary_into_the_run_and_says_how_far_it_is(base, runner):
    ticket = submit_vocab_draft(runner, base, _ids("16228", "99999999", "29111", "24918"), ONE_BY_ONE, LOOSE)
    assert runner.wait(ticket.job_id, timeout=300)["status"] == "done"
    store = runner.store
    config, result = store.config(ticket.job_id), store.result(ticket.job_id)
    assert store.status(ticket.job_id)["kind"] == KIND and config["unknown_ids"] == ["99999999"]
    assert config["symbols"] == 3 and config["header"]["selection"]["ids"] == ["16228", "99999999", "29111", "24918"]
    assert store.spec(ticket.job_id)["symbol_ids"] == ["16228", "29111", "24918"]
    assert "IDs 16228, 99999999" not in store.status(ticket.job_id)["title"]   # the title names what is drafted
    assert result["kind"] == KIND and result["symbols"] == result["handled"] == 3 and not result["stopped"]
    assert result["unknown_ids"] == ["99999999"] and result["out"] == str(vocab_file(store, ticket.job_id))
    report = _report(store, ticket.job_id)
    assert [r["symbol_id"] for r in report] == ["16228", "29111", "24918"]
    assert result["drafted"] == sum(r["status"] == "drafted" for r in report) >= 2
    assert result["check"] == {"passed": True, "symbols": result["drafted"]}
    phases = [e for e in store.events(ticket.job_id) if e.get("phase") == "draft"]
    assert [(e["done"], e["total"]) for e in phases] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert [e["fraction"] for e in phases] == [0.0, 0.3333, 0.6667, 1.0]
    assert phases[0]["eta"] is None and all(e["eta"] >= 0 for e in phases[1:]) and phases[-1]["eta"] == 0
    assert phases[-1]["message"] == f"3 of 3 symbols done, {result['drafted']} drafted"


def test_bad_selections_queue_nothing(base, runner):
    cases = [({"ids": ["99999999"]}, "ids", "selection is empty"), ({"lexicon": "all", "pos": "verb"}, "pos", "verb"),
             ({"lexicon": "all", "limit": 0}, "limit", "from 1"), ({"ids": []}, "ids", "is empty")]
    for selection, field, words in cases:
        with pytest.raises(InputError) as err:
            submit_vocab_draft(runner, base, {"ids": None, "lexicon": None, "pos": None, "limit": None} | selection,
                               ONE_BY_ONE, LOOSE)
        assert err.value.fields == [field] and words in str(err.value) and err.value.problems[0].fix
    assert runner.store.list() == [] and runner.list() == []


def _stop_after_first_symbol(runner, job_id: str) -> None:
    """Ask the job to stop as soon as one symbol is written (in the job's thread, before the next batch)."""
    runner.subscribe(job_id, lambda e: runner.stop(job_id) if e.get("phase") == "draft" and e.get("done") == 1
                     else None)


def test_a_stopped_draft_keeps_what_it_wrote_and_resumes_into_the_file_of_an_uninterrupted_run(base, runner):
    selection = _ids("16228", "29111")
    whole = submit_vocab_draft(runner, base, selection, ONE_BY_ONE, LOOSE).job_id
    assert runner.wait(whole, timeout=300)["status"] == "done"
    ticket = submit_vocab_draft(runner, base, selection, ONE_BY_ONE, LOOSE)
    _stop_after_first_symbol(runner, ticket.job_id)
    assert runner.wait(ticket.job_id, timeout=300)["status"] == "stopped"
    store = runner.store
    result = store.result(ticket.job_id)
    assert result["stopped"] and result["handled"] == 1 and result["symbols"] == 2
    assert [r["symbol_id"] for r in _report(store, ticket.job_id)] == ["16228"]
    plan = check_resume(store, ticket.job_id)
    assert (plan.kind, plan.symbols_done, plan.symbols_total) == (KIND, 1, 2)
    again = resume_run(store, runner, ticket.job_id, base)
    assert again.job_id == ticket.job_id and runner.wait(ticket.job_id, timeout=300)["status"] == "done"
    assert store.status(ticket.job_id)["resumed"] == 1
    assert vocab_file(store, ticket.job_id).read_bytes() == vocab_file(store, whole).read_bytes()
    assert _report(store, ticket.job_id) == _report(store, whole)
    assert store.result(ticket.job_id)["handled_now"] == 1 and not store.result(ticket.job_id)["stopped"]
    with pytest.raises(InputError) as err:   # everything handled: nothing to resume
        check_resume(store, ticket.job_id)
    assert err.value.fields == ["run_id"] and "is done, not interrupted or stopped" in str(err.value)


def test_a_killed_draft_resumes_and_other_runs_that_stopped_do_not(base, runner):
    store = runner.store
    ticket = submit_vocab_draft(runner, base, _ids("16228", "29111"), ONE_BY_ONE, LOOSE)
    assert runner.wait(ticket.job_id, timeout=300)["status"] == "done"
    config = store.config(ticket.job_id)
    killed = interrupted(store, KIND, store.spec(ticket.job_id), config, title="vocabulary draft: killed")
    folder = store.path(killed)
    lines = vocab_file(store, ticket.job_id).read_text().splitlines(keepends=True)
    (folder / FILE).write_text(lines[0] + lines[1][:40], encoding="utf-8")  # the second line cut by the kill
    report = atomic.complete_lines(f"{vocab_file(store, ticket.job_id)}.report.jsonl")
    (folder / f"{FILE}.report.jsonl").write_text(report[0] + "\n", encoding="utf-8")
    (folder / f"{FILE}.meta.json").write_bytes((store.path(ticket.job_id) / f"{FILE}.meta.json").read_bytes())
    assert symbols_done(store, killed) == 1 and check_resume(store, killed).symbols_total == 2
    resume_run(store, runner, killed, base)
    assert runner.wait(killed, timeout=300)["status"] == "done"
    assert (folder / FILE).read_bytes() == vocab_file(store, ticket.job_id).read_bytes()
    stopped = interrupted(store, "compare", tiny_spec_dict(), {"kind": "compare", "model": "tiny-random"})
    store.set_status(stopped, "stopped")
    with pytest.raises(InputError) as err:   # only a draft goes on after a stop
        check_resume(store, stopped)
    assert "is stopped, not interrupted" in str(err.value)


def test_a_file_that_does_not_load_says_why(tmp_path, base):
    spec = tiny_spec_dict()
    path = tmp_path / "v.jsonl"
    path.write_text(json.dumps(spec) + "\n" + json.dumps(spec) + "\n", encoding="utf-8")
    found = check_drafted(path, base.tokenizer)
    assert not found["passed"] and any("[BLISS_29111]" in p for p in found["problems"])
    path.write_text(json.dumps(spec) + "\n", encoding="utf-8")
    assert check_drafted(path, base.tokenizer) == {"passed": True, "symbols": 1}
