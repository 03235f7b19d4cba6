"""The files a vocabulary drafting run grows, and what lets a killed run continue where it stopped.

For ``--out VOCAB.jsonl``:

* ``VOCAB.jsonl``: one drafted spec a line, exactly what ``load_vocabulary`` reads;
* ``VOCAB.jsonl.report.jsonl``: one line per symbol handled, drafted or not, with its reason and
  counts (so nothing is silently dropped, and a resumed run skips what was decided);
* ``VOCAB.jsonl.meta.json``: what decides the result (model, writer, seed, settings, selection),
  written once when the run starts. ``--resume`` refuses a file whose header differs, naming the
  field; without ``--resume`` an existing file is never touched.

Lines are appended one symbol at a time (``core.atomic.append_line``: a spec line, then its report
line); a line cut short by a kill is removed when the run resumes. Batches are fixed by the
selection (``many.batches``), so a resumed run recomputes an unfinished batch exactly as the first
run would have and writes only the symbols still missing: the result equals an uninterrupted run.
The batches may be drafted elsewhere, several at once (``drive``'s ``draft_batches``, e.g. Ray
tasks: ``many_members``); their records are still written here, in the selection's order, a batch
as soon as every batch before it is, so the files are those of a run in this process.

``Ledger`` keeps the vocabulary loadable as a whole: a new symbol's fine-tuning sentence that
begins with an earlier symbol's testing context, or its testing context that begins an earlier
symbol's fine-tuning sentence, is left out (``load_vocabulary`` refuses both); a symbol left below
a set's minimum is reported as not drafted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from core import atomic
from core.authoring.many import NOT_SCREENING, ManyConfig, Selection, batches
from core.spec import limits
from core.spec.errors import InputError, fail
from core.spec.gloss import GlossSpec

FORMAT = 1


def word_prefixes(sentence: str) -> list[str]:
    """The sentence cut at every word end (and whole), as the vocabulary's prefix check cuts it."""
    ends = [i for i, ch in enumerate(sentence) if ch == " "] + [len(sentence)]
    return [sentence[:end].rstrip() for end in ends]


class Ledger:
    """Testing contexts and fine-tuning sentence prefixes of the symbols written so far."""

    def __init__(self) -> None:
        self.testing: set[str] = set()
        self.prefixes: set[str] = set()

    def add(self, spec: dict) -> None:
        self.testing |= {c.rstrip() for c in spec["testing_positive_contexts"] + spec["testing_negative_contexts"]}
        self.prefixes |= {p for s in spec["fine_tuning_sentences"] for p in word_prefixes(s)}

    def fit(self, spec: dict) -> tuple[dict | None, str]:
        """(the spec without what clashes with earlier symbols, '') or (None, why it cannot stay)."""
        out = dict(spec)
        out["fine_tuning_sentences"] = [s for s in spec["fine_tuning_sentences"]
                                        if not any(p in self.testing for p in word_prefixes(s))]
        for name in ("testing_positive_contexts", "testing_negative_contexts"):
            out[name] = [c for c in spec[name] if c.rstrip() not in self.prefixes]
        short = [name for name in ("fine_tuning_sentences", "testing_positive_contexts", "testing_negative_contexts")
                 if len(out[name]) < limits.COUNTS[name][0]]
        if short:
            return None, ("what is left after removing what clashes with earlier symbols (a sentence that begins "
                          f"with another symbol's testing context, or the reverse) is too little: {', '.join(short)}")
        return GlossSpec.from_dict(out).to_dict(), ""


class Store:
    """The output file, its report and its header (see the module docstring)."""

    def __init__(self, out: str | Path) -> None:
        self.path = Path(out)
        self.report_path = Path(f"{self.path}.report.jsonl")
        self.meta_path = Path(f"{self.path}.meta.json")
        self.ledger = Ledger()
        self.specs: dict[str, dict] = {}       # symbol ID → its spec line
        self.report: dict[str, dict] = {}      # symbol ID → its report line

    def check_out(self) -> None:
        """The output path itself: a file in an existing folder (checked before anything loads)."""
        if self.path.is_dir() or not self.path.parent.is_dir():
            raise fail("--out", f"{str(self.path)!r} is a folder or its folder does not exist",
                       "give a file path in an existing folder, e.g. --out vocab.jsonl")

    def _exists(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0 or self.report_path.exists()

    def check(self, meta: dict, resume: bool) -> None:
        """Whether a run with this header may start here (writes nothing): a new file, or
        ``resume`` on a file drafted with the same header."""
        self.check_out()
        if self._exists() and not resume:
            raise fail("--out", f"{self.path.name} already holds a drafted vocabulary",
                       "continue it with --resume, or give another --out file (nothing was changed)")
        if self._exists():
            self._check_header(meta)

    def start(self, meta: dict, resume: bool) -> int:
        """Begin a run (write the header) or resume one (read what is done); returns how many
        symbols were handled before."""
        self.check(meta, resume)
        if self._exists():
            self._read()
        else:
            atomic.write_text(self.meta_path, json.dumps(meta | {"format": FORMAT}, indent=2) + "\n")
        return len(self.report)

    def _check_header(self, meta: dict) -> None:
        if not self.meta_path.is_file():
            raise fail("--resume", f"{self.path.name} has no header ({self.meta_path.name}): it was not written by "
                       "`vocab draft`", "give another --out file")
        try:
            old = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except ValueError:
            raise fail("--resume", f"{self.meta_path.name} is not valid JSON", "give another --out file") from None
        for key, value in (meta | {"format": FORMAT}).items():
            if old.get(key) != value:
                raise fail("--resume", f"{self.path.name} was drafted with {key} {old.get(key)!r}, not {value!r}",
                           f"resume with the same {key} (see {self.meta_path.name}), or give another --out file")

    def _read(self) -> None:
        for line in atomic.complete_lines(self.path):
            spec = json.loads(line)
            self.specs[str(spec["symbol_id"])] = spec
            self.ledger.add(spec)
        for line in atomic.complete_lines(self.report_path):
            row = json.loads(line)
            self.report[row["symbol_id"]] = row

    def write(self, record: dict) -> dict:
        """Append one symbol's spec (when drafted and it fits beside the others) and its report line."""
        sid = record["symbol_id"]
        row = {k: v for k, v in record.items() if k != "spec"}
        if record["status"] == "drafted" and sid not in self.specs:
            spec, why = self.ledger.fit(record["spec"])
            if spec is None:
                row |= {"status": "failed", "reason": why}
            else:
                atomic.append_line(self.path, json.dumps(spec, ensure_ascii=False))
                self.specs[sid] = spec
                self.ledger.add(spec)
                if row.get("counts"):
                    row["counts"] = row["counts"] | {"sets": {n: len(spec[n]) for n in limits.COUNTS}}
        if sid not in self.report:
            atomic.append_line(self.report_path, json.dumps(row, ensure_ascii=False))
            self.report[sid] = row
        return self.report[sid]


def header(model: str, writer: str, seed: int, config: ManyConfig, screening, selection: dict) -> dict:
    """What decides a drafting run's result (``VOCAB.jsonl.meta.json``; a resumed run must match it):
    the model and the writer by name, the seed, the settings, the screening settings that apply per
    symbol (``screening``: a ``DraftConfig``) and the selection (``ids``, ``lexicon``, ``pos``, ``limit``)."""
    return {"model": model, "writer": writer, "seed": seed, "settings": config.to_dict(),
            "screening": {k: v for k, v in screening.to_dict().items() if k not in NOT_SCREENING},
            "selection": dict(selection)}


# ``draft_batches(jobs, deliver)``: draft every batch of ``jobs`` (lists of symbols) anywhere, calling
# ``deliver(i, records)`` as the ``i``-th is done, in any order.
DraftBatches = Callable[[list[list], Callable[[int, list[dict]], None]], None]


def one_by_one(draft_batch: Callable[[list], list[dict]],
               should_stop: Callable[[], bool] | None = None) -> DraftBatches:
    """Batches drafted here with ``draft_batch(symbols) -> records``, one after another; once
    ``should_stop()`` says yes (asked before each batch), no batch starts."""
    def draft_batches(jobs: list[list], deliver: Callable[[int, list[dict]], None]) -> None:
        for i, symbols in enumerate(jobs):
            if should_stop is not None and should_stop():
                return
            deliver(i, draft_batch(symbols))
    return draft_batches


class _InOrder:
    """Batches' records written in the selection's order, each as soon as every batch before it is."""

    def __init__(self, todo: list[tuple[list, list]], selection: Selection, store: Store, emit) -> None:
        self.todo, self.selection, self.store, self.emit = todo, selection, store, emit
        self.ready: dict[int, list[dict]] = {t: [] for t, (_, to_draft) in enumerate(todo) if not to_draft}
        self.slot = [t for t, (_, to_draft) in enumerate(todo) if to_draft]  # job → its place in ``todo``
        self.next = 0
        self.written = 0

    def deliver(self, job: int, records: list[dict]) -> None:
        self.ready[self.slot[job]] = records
        self.flush()

    def flush(self) -> None:
        while self.next in self.ready:
            batch = self.todo[self.next][0]
            records = {r["symbol_id"]: r for r in self.ready.pop(self.next)}
            failed = self.selection.failed
            for s in batch:
                sid = str(s.bci_av_id)
                if sid in self.store.report:
                    continue
                self.store.write(records.get(sid) or {
                    "symbol_id": sid, "token": s.token_name, "gloss": s.raw_gloss, "pos": s.pos, "status": "failed",
                    "reason": failed.get(s.bci_av_id, ""), "spec": None, "counts": None})
                self.written += 1
            self.next += 1
            self.emit({"stage": "drafting", "symbols": len(self.selection.symbols),
                       "symbol": sum(1 for x in self.selection.symbols if str(x.bci_av_id) in self.store.report)})


def drive(selection: Selection, config: ManyConfig, store: Store, draft_batch: Callable[[list], list[dict]] | None = None,
          on_event: Callable[[dict], None] | None = None, should_stop: Callable[[], bool] | None = None, *,
          draft_batches: DraftBatches | None = None) -> dict:
    """Draft every batch of ``selection`` not yet in ``store`` and write the records in the
    selection's order; the run's summary. The batches are drafted by ``draft_batches`` (several at
    once elsewhere, e.g. as Ray tasks: a batch is written once every batch before it is, so a crash
    loses only the batches in flight) or here, one after another, by ``draft_batch(symbols) ->
    records``. A symbol known to fail before drafting (``selection.failed``) is written with its
    reason without drafting. ``should_stop`` is asked before each batch drafted here: once it says
    yes, no batch starts, and the summary says how far the run got (a resumed run continues the file)."""
    emit = on_event or (lambda event: None)
    done_before = sum(1 for s in selection.symbols if str(s.bci_av_id) in store.report)
    started = time.monotonic()
    emit({"stage": "drafting", "symbol": done_before, "symbols": len(selection.symbols)})
    todo = [(batch, [s for s in batch if s.bci_av_id not in selection.failed])
            for batch in batches(selection, config.batch_symbols)
            if not all(str(s.bci_av_id) in store.report for s in batch)]
    writer = _InOrder(todo, selection, store, emit)
    writer.flush()  # batches with nothing to draft, at the head
    (draft_batches or one_by_one(draft_batch, should_stop))([to_draft for _, to_draft in todo if to_draft], writer.deliver)
    writer.flush()
    return summary(selection, store, writer.written, time.monotonic() - started)


def summary(selection: Selection, store: Store, handled_now: int, seconds: float) -> dict:
    """What the run made: counts, every symbol not drafted with its reason, unknown IDs, time per symbol."""
    rows = [store.report[str(s.bci_av_id)] for s in selection.symbols if str(s.bci_av_id) in store.report]
    return {"out": str(store.path), "report": str(store.report_path), "meta": str(store.meta_path),
            "symbols": len(selection.symbols), "handled": len(rows),
            "drafted": sum(r["status"] == "drafted" for r in rows),
            "not_drafted": [{"symbol_id": r["symbol_id"], "gloss": r["gloss"], "reason": r["reason"]}
                            for r in rows if r["status"] != "drafted"],
            "unknown_ids": list(selection.unknown), "handled_now": handled_now, "seconds": round(seconds, 2),
            "seconds_per_symbol": round(seconds / handled_now, 3) if handled_now else None}


__all__ = ["DraftBatches", "Ledger", "Store", "drive", "header", "one_by_one", "summary", "word_prefixes",
           "InputError"]
