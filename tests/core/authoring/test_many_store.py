"""The files a vocabulary drafting run grows: appended symbol by symbol, a header that a resumed run
must match, symbols that clash with earlier ones left out, and a resumed run equal to an uninterrupted one."""

from __future__ import annotations

import json

import pytest

from core import atomic
from core.authoring import many
from core.authoring.lexicon import load_lexicon
from core.authoring.many_store import Ledger, Store, drive, header, word_prefixes
from core.spec.errors import InputError
from tests.conftest import tiny_spec_dict

HEADER = {"model": "tiny-random", "writer": "the loaded model", "seed": 0, "settings": {"generate": 2}}


def _spec(sid: str, **changes) -> dict:
    """A valid spec for symbol ``sid`` (the tiny spec with its own token)."""
    token = f"[BLISS_{sid}]"
    base = json.loads(json.dumps(tiny_spec_dict()).replace("[BLISS_29111]", token))
    return base | {"symbol_id": sid, "new_token": token, "glosses": [f"gloss {sid}"]} | changes


def _record(sid: str, status: str = "drafted", **changes) -> dict:
    spec = _spec(sid, **changes) if status == "drafted" else None
    return {"symbol_id": sid, "token": f"[BLISS_{sid}]", "gloss": f"gloss {sid}", "pos": "noun", "status": status,
            "reason": "" if spec else "too little", "spec": spec, "counts": None}


def test_word_prefixes_cut_at_every_word_end():
    assert word_prefixes("I went to the [T].") == ["I", "I went", "I went to", "I went to the", "I went to the [T]."]


def test_the_ledger_leaves_out_what_clashes_with_earlier_symbols():
    ledger = Ledger()
    first = _spec("1", testing_positive_contexts=["I bought three skeins at the"])
    ledger.add(first)
    # a later fine-tuning sentence that begins with the earlier testing context is left out
    clash = _spec("2", fine_tuning_sentences=_spec("2")["fine_tuning_sentences"] + ["I bought three skeins at the [BLISS_2]."])
    fitted, why = ledger.fit(clash)
    assert why == "" and "I bought three skeins at the [BLISS_2]." not in fitted["fine_tuning_sentences"]
    # a later testing context that begins an earlier fine-tuning sentence is left out
    fitted, _ = ledger.fit(_spec("3", testing_negative_contexts=["She bought yarn at the", "We walked to the park after"]))
    assert fitted["testing_negative_contexts"] == ["We walked to the park after"]
    # left below a set's minimum: not written, with the reason
    fitted, why = ledger.fit(_spec("4", testing_negative_contexts=["She bought yarn at the"]))
    assert fitted is None and "testing_negative_contexts" in why


def test_a_new_run_writes_a_header_and_an_existing_file_is_never_overwritten(tmp_path):
    out = tmp_path / "v.jsonl"
    store = Store(out)
    assert store.start(HEADER, resume=False) == 0
    assert json.loads(store.meta_path.read_text())["seed"] == 0
    store.write(_record("1"))
    store.write(_record("2", "failed"))
    before = out.read_bytes()
    with pytest.raises(InputError) as err:
        Store(out).start(HEADER, resume=False)
    assert err.value.fields == ["--out"] and "--resume" in err.value.problems[0].fix
    for key, value in (("seed", 1), ("model", "SmolLM2"), ("settings", {"generate": 3})):
        with pytest.raises(InputError) as err:
            Store(out).start(HEADER | {key: value}, resume=True)
        assert err.value.fields == ["--resume"] and f"drafted with {key}" in str(err.value)
    assert out.read_bytes() == before
    resumed = Store(out)
    assert resumed.start(HEADER, resume=True) == 2 and set(resumed.specs) == {"1"}
    with pytest.raises(InputError) as err:
        Store(tmp_path / "no" / "v.jsonl").check(HEADER, False)
    assert err.value.fields == ["--out"]
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text(json.dumps(_spec("9")) + "\n")
    with pytest.raises(InputError) as err:
        Store(foreign).start(HEADER, resume=True)
    assert err.value.fields == ["--resume"] and "no header" in str(err.value)


def _selection(n: int):
    ids = ["16228", "29111", "12914", "24918", "22369", "23705", "29642"][:n]
    return many.select(load_lexicon(), ids=ids)


def _fake_drafter(calls: list):
    """Records for a batch, deterministic in the batch's IDs (as draft_batch is), the last one failing."""
    def drafter(symbols):
        calls.append([s.bci_av_id for s in symbols])
        seed = many.batch_seed(0, [s.bci_av_id for s in symbols])
        return [_record(str(s.bci_av_id), notes=f"batch seed {seed}") if s.bci_av_id != 29642 else
                _record(str(s.bci_av_id), "failed") for s in symbols]
    return drafter


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    sel, config = _selection(7), many.ManyConfig(batch_symbols=3)
    whole = Store(tmp_path / "whole.jsonl")
    whole.start(HEADER, False)
    calls: list = []
    summary = drive(sel, config, whole, _fake_drafter(calls))
    assert calls == [[16228, 29111, 12914], [24918, 22369, 23705], [29642]]
    assert summary["drafted"] == 6 and summary["not_drafted"][0]["symbol_id"] == "29642"
    # a run stopped after four symbols (the second batch half written, its last line cut short)
    part = Store(tmp_path / "part.jsonl")
    part.start(HEADER, False)
    records = _fake_drafter([])(sel.symbols[:3]) + _fake_drafter([])(sel.symbols[3:6])
    for r in records[:4]:
        part.write(r)
    with open(part.path, "ab") as f:
        f.write(b'{"symbol_id": "2236')
    resumed = Store(part.path)
    assert resumed.start(HEADER, True) == 4
    calls = []
    drive(sel, config, resumed, _fake_drafter(calls))
    assert calls == [[24918, 22369, 23705], [29642]]           # the unfinished batch again, whole
    assert part.path.read_bytes() == whole.path.read_bytes()
    assert atomic.complete_lines(part.report_path) == atomic.complete_lines(whole.report_path)
    # nothing left to do: nothing drafted again
    calls = []
    again = Store(part.path)
    again.start(HEADER, True)
    assert drive(sel, config, again, _fake_drafter(calls))["handled_now"] == 0 and calls == []


def test_batches_drafted_elsewhere_are_written_in_order_and_a_crash_keeps_those_before_it(tmp_path):
    sel, config = _selection(7), many.ManyConfig(batch_symbols=3)
    whole = Store(tmp_path / "whole.jsonl")
    whole.start(HEADER, False)
    drive(sel, config, whole, _fake_drafter([]))
    drafter = _fake_drafter([])

    def last_first(jobs, deliver):   # the batches finish in reverse order
        for i in reversed(range(len(jobs))):
            deliver(i, drafter(jobs[i]))

    out_of_order = Store(tmp_path / "reversed.jsonl")
    out_of_order.start(HEADER, False)
    summary = drive(sel, config, out_of_order, draft_batches=last_first)
    assert summary["handled_now"] == 7 and out_of_order.path.read_bytes() == whole.path.read_bytes()
    assert atomic.complete_lines(out_of_order.report_path) == atomic.complete_lines(whole.report_path)

    def crash(jobs, deliver):   # the first and the last batch finish, then the run dies
        deliver(2, drafter(jobs[2]))
        deliver(0, drafter(jobs[0]))
        raise RuntimeError("a worker died")

    crashed = Store(tmp_path / "crashed.jsonl")
    crashed.start(HEADER, False)
    with pytest.raises(RuntimeError):
        drive(sel, config, crashed, draft_batches=crash)
    assert list(crashed.report) == ["16228", "29111", "12914"]   # the third batch waited for the second
    resumed = Store(crashed.path)
    assert resumed.start(HEADER, True) == 3
    assert drive(sel, config, resumed, draft_batches=last_first)["handled_now"] == 4
    assert crashed.path.read_bytes() == whole.path.read_bytes()


def test_a_stop_is_taken_between_batches_and_the_summary_says_how_far_the_run_got(tmp_path):
    sel, config = _selection(5), many.ManyConfig(batch_symbols=2)
    store = Store(tmp_path / "v.jsonl")
    store.start(HEADER, False)
    calls: list = []
    summary = drive(sel, config, store, _fake_drafter(calls), should_stop=lambda: len(calls) == 2)
    assert calls == [[16228, 29111], [12914, 24918]]            # the batch under way is finished and written
    assert (summary["handled"], summary["symbols"], summary["handled_now"]) == (4, 5, 4)
    assert len(atomic.complete_lines(store.report_path)) == 4


def test_the_header_holds_what_decides_the_result_and_only_the_screening_that_applies():
    from core.authoring.draft import DraftConfig

    head = header("m", "the loaded model", 3, many.ManyConfig(generate=2), DraftConfig(seed=3, keep=["x"]),
                  {"ids": ["1"], "lexicon": None, "pos": None, "limit": 2})
    assert head["settings"] == many.ManyConfig(generate=2).to_dict() and head["seed"] == 3
    assert set(head["screening"]) == set(DraftConfig().to_dict()) - set(many.NOT_SCREENING)
    assert head["selection"] == {"ids": ["1"], "lexicon": None, "pos": None, "limit": 2}
