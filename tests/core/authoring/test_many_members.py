"""A drafting run's batches as a backend's members: run by a backend (here the in-process one; Ray in
tests/core/cli/test_vocab_draft.py) they give the records ``draft_batch`` gives, each delivered with its
index; a writer loaded from its folder once per worker writes what the same model writes in memory; a
batch that fails ends the run saying which symbols and how to continue."""

from __future__ import annotations

import pytest

from core.authoring import many
from core.authoring.draft import DraftConfig
from core.authoring.lexicon import load_lexicon
from core.authoring.many_members import BatchMembers, BatchTask, DraftWork, on_backend
from core.execution.in_process import InProcess
from core.execution.processes import base_folder
from core.spec.errors import InputError

LOOSE = DraftConfig(positive_rank=50_000, negative_rank=1)   # the tiny model's ranks are random
CONFIG = many.ManyConfig(generate=2, batch_symbols=1, negatives_from_others=4)


@pytest.fixture(scope="module")
def selection():
    return many.select(load_lexicon(), ids=["16228", "29111"])


def test_batches_on_a_backend_give_the_records_of_draft_batch_and_a_writer_from_a_folder_the_same(
        base, selection, tmp_path):
    jobs = many.batches(selection, CONFIG.batch_symbols)
    want = [many.draft_batch(b, selection.glosses, base.model, base.tokenizer, LOOSE, CONFIG, seed=0,
                             model_name=base.name) for b in jobs]
    assert [r["symbol_id"] for rs in want for r in rs] == ["16228", "29111"]
    assert any(r["status"] == "drafted" for rs in want for r in rs)
    got: list = []
    work = DraftWork(selection.glosses, LOOSE, CONFIG, 0, base.name)
    on_backend(InProcess(), base, work)(jobs, lambda i, records: got.append((i, records)))
    assert got == list(enumerate(want))
    # the same weights loaded as a separate writer from a folder (as a Ray worker loads it) write the same
    folder = base_folder(base, tmp_path)
    with_writer = DraftWork(selection.glosses, LOOSE, CONFIG, 0, base.name, writer_folder=folder)
    memo: dict = {}
    outcome = with_writer(BatchTask(0, tuple(jobs[0])), base, type("Site", (), {"memo": memo})())
    assert outcome.records == want[0] and not outcome.stopped
    writer = memo["writer"]
    assert writer.model is not base.model and with_writer.writer(memo) is writer   # loaded once per worker


def test_a_writer_folder_a_worker_cannot_read_is_named(selection, tmp_path):
    work = DraftWork(selection.glosses, LOOSE, CONFIG, 0, writer_folder=str(tmp_path / "gone"))
    with pytest.raises(InputError) as err:
        work.writer({})
    assert err.value.problems[0].field == "--writer" and "--backend local" in err.value.problems[0].fix


def test_a_failed_batch_ends_the_run_naming_its_symbols_and_resume(selection):
    class Dying:
        label = "ray: a test cluster"

        def run(self, members, base, *, on_outcome, on_failure):
            assert isinstance(members, BatchMembers) and members.start_message(members.tasks[0], 2) is None
            on_failure(members.tasks[1], "its Ray worker died 2 times (WorkerCrashedError)")

    jobs = many.batches(selection, 1)
    with pytest.raises(RuntimeError) as err:
        on_backend(Dying(), None, DraftWork(selection.glosses, LOOSE, CONFIG, 0))(jobs, lambda i, r: None)
    text = str(err.value)
    assert "symbols 29111" in text and "died 2 times" in text and "--resume" in text
