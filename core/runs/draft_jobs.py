"""Drafting a vocabulary from the Bliss lexicon as a job of a ``JobRunner`` (kind ``vocab_draft``):
what ``python -m core vocab draft`` does (``core.authoring.many``), its files kept in the run.

Everything is checked before the job is queued: the selection against the loaded model's
tokenizer (unknown IDs are named in the run's config and left out; the rest go on). Besides its
spec, config, status and events, the run's folder holds the files ``core.authoring.many_store``
grows: ``vocab.jsonl`` (one drafted spec a line, what ``vocab init`` loads),
``vocab.jsonl.report.jsonl`` (every symbol handled, drafted or not, with its reason) and
``vocab.jsonl.meta.json`` (what a resumed run must match). The loaded model writes the sentences.

As each batch is written the job emits a ``phase`` event (``draft``): the symbols done and drafted,
the share done and the time left at this run's pace. A stop is taken between batches: the job
ends ``stopped`` with the summary of what it wrote. ``resume_draft`` (called by ``core.runs.resume``)
continues a stopped or interrupted run in its own folder with the store's resume: what was written
stays, an unfinished batch is drafted again exactly as before, the rest follows.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from core import atomic
from core.authoring import many
from core.authoring.draft import DraftConfig
from core.authoring.lexicon import load_lexicon
from core.authoring.many import ManyConfig, Selection
from core.authoring.many_store import Store, drive, header
from core.spec.errors import InputError, fail

KIND = "vocab_draft"
FILE = "vocab.jsonl"
WRITER = "the loaded model"


def check_drafted(path: str | Path, tokenizer) -> dict:
    """The file as ``vocab init`` will read it: every spec and the checks across symbols."""
    from core.experiment.vocabulary.load import load_vocabulary

    try:
        vocab = load_vocabulary(path, tokenizer)
    except InputError as exc:
        return {"passed": False, "problems": [str(p) for p in exc.problems[:20]]}
    return {"passed": True, "symbols": len(vocab)}


def vocab_file(store, run_id: str) -> Path:
    """Where a drafting run keeps its vocabulary (its report and header beside it)."""
    return store.existing(run_id) / FILE


def symbols_done(store, run_id: str) -> int:
    """How many symbols a drafting run has handled (its report's complete lines)."""
    report = Path(f"{vocab_file(store, run_id)}.report.jsonl")
    return len(atomic.complete_lines(report)) if report.is_file() else 0


def select(base, selection: dict) -> Selection:
    """The symbols of a stored selection (``ids``, ``lexicon``, ``pos``, ``limit``) for ``base``'s tokenizer."""
    return many.select(load_lexicon(), base.tokenizer, ids=selection.get("ids"), kind=selection.get("lexicon"),
                       pos=selection.get("pos"), limit=selection.get("limit"))


def _title(selection: dict, chosen: Selection) -> str:
    """What is drafted, in a few words: the IDs (those the lexicon has), or the part of the lexicon."""
    kind, pos, limit, n = selection.get("lexicon"), selection.get("pos"), selection.get("limit"), len(chosen.symbols)
    ids = [str(s.bci_av_id) for s in chosen.symbols]
    what = ("IDs " + ", ".join(ids[:5]) + (", …" if n > 5 else "")) if kind is None else f"{kind} symbols"
    what += f", {pos}" if pos else ""
    what += f", the first {limit}" if limit and kind is not None else ""
    return f"vocabulary draft: {what} ({n} symbol{'' if n == 1 else 's'})"


class _Pace:
    """The job's progress events: symbols done and drafted, and the time left at this run's pace
    (the symbols handled since it started, so a resumed run is timed by its own work)."""

    def __init__(self, ctx, store: Store) -> None:
        self.ctx, self.store = ctx, store
        self.start: tuple[float, int] | None = None

    def __call__(self, event: dict) -> None:
        done, total, now = event["symbol"], event["symbols"], time.monotonic()
        if self.start is None:
            self.start = (now, done)
        began, first = self.start
        eta = round((now - began) / (done - first) * (total - done), 1) if done > first else None
        drafted = sum(r["status"] == "drafted" for r in self.store.report.values())
        self.ctx.emit(type="phase", phase="draft", fraction=round(done / total, 4), done=done, total=total,
                      drafted=drafted, eta=eta, message=f"{done} of {total} symbols done, {drafted} drafted")


def draft_job(selection: Selection, head: dict, base, config: ManyConfig, screening: DraftConfig,
              resume: bool = False):
    """A job function: the selection drafted into the run's ``vocab.jsonl`` batch by batch (``resume``:
    continuing the file the run has), stopping between batches when asked; returns the summary
    (``many_store.summary``) with whether the file loads as a vocabulary (``check``)."""

    def fn(ctx) -> dict:
        if ctx.run_dir is None:
            raise ValueError("a vocabulary draft is written into its run: the runner needs a run store")
        store = Store(ctx.run_dir / FILE)
        before = store.start(head, resume)
        if resume:
            ctx.emit(type="phase", phase="draft", message=f"Resuming: {before} of {len(selection.symbols)} "
                                                          "symbols were done")
        one_batch = partial(many.draft_batch, glosses=selection.glosses, model=base.model, tokenizer=base.tokenizer,
                            draft_config=screening, config=config, seed=screening.seed, model_name=base.name)
        result = drive(selection, config, store, one_batch, on_event=_Pace(ctx, store),
                       should_stop=lambda: ctx.stop_requested)
        result["check"] = check_drafted(store.path, base.tokenizer) if result["drafted"] else None
        return result | {"kind": KIND, "model": base.name, "stopped": result["handled"] < result["symbols"]}

    return fn


def submit_vocab_draft(runner, base, selection: dict, config: ManyConfig, screening: DraftConfig):
    """Choose the symbols (``selection``: ``ids`` or a part of the ``lexicon``, ``pos``, ``limit``;
    an ``InputError`` naming the field when nothing is left), then queue the drafting job; returns
    the runner's ``Ticket``. The run's config keeps the header a resumed run must match, the IDs
    left out as unknown and the number of symbols."""
    chosen = select(base, selection)
    head = header(base.name, WRITER, screening.seed, config, screening, selection)
    settings = {"kind": KIND, "model": base.name, "header": head, "unknown_ids": list(chosen.unknown),
                "symbols": len(chosen.symbols), "file": FILE}
    spec = {"title": _title(selection, chosen),
            "symbol_ids": [str(s.bci_av_id) for s in chosen.symbols]}
    return runner.submit(draft_job(chosen, head, base, config, screening), kind=KIND, title=spec["title"],
                         spec=spec, config=settings)


def resume_draft(runner, run_id: str, title: str, config: dict, base):
    """Queue a stopped or interrupted drafting run again in its own folder, with the selection and
    settings its header holds (``core.runs.resume`` checks the run and the model first)."""
    head = config.get("header") or {}
    if not head.get("selection") or not head.get("settings"):
        raise fail("run_id", f"run {run_id!r} has no drafting header in its config", "start a new draft")
    settings = ManyConfig.from_dict(head["settings"])
    screening = DraftConfig.from_dict({**head.get("screening", {}), "seed": head.get("seed", 0), "generate": 0})
    chosen = select(base, head["selection"])
    return runner.submit(draft_job(chosen, head, base, settings, screening, resume=True), kind=KIND, title=title,
                         into=run_id)
