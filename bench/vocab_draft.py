"""Benchmark: drafting many lexicon symbols with their sentences sampled in one batch vs one by one.

Drafts the same symbols twice on the same model, one run after the other in this process
(``core.authoring.many.draft_batch``): once in batches of ``--batch`` symbols (what ``vocab draft``
does, default 8) and once one symbol at a time (``--batch 1``). The material differs a little
between the two (a batch's seed comes from its IDs), so the runs are compared by time and by how
many symbols each drafted. Printed: the machine's load, each run's wall and CPU seconds per symbol
and its drafted count, and last ``speedup: <ratio>`` (wall clock per symbol, one by one over batched).

    python bench/vocab_draft.py [--lexicon multi-token] [--limit 8] [--batch 8] [--generate 8] [--model NAME]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.authoring import many  # noqa: E402
from core.authoring.draft import DraftConfig  # noqa: E402
from core.authoring.lexicon import load_lexicon  # noqa: E402
from core.model.loading import load_model  # noqa: E402


def run(selection, base, batch: int, generate: int) -> dict:
    config = many.ManyConfig(generate=generate, batch_symbols=batch)
    wall, cpu = time.perf_counter(), time.process_time()
    records = []
    for symbols in many.batches(selection, batch):
        todo = [s for s in symbols if s.bci_av_id not in selection.failed]
        records += many.draft_batch(todo, selection.glosses, base.model, base.tokenizer, DraftConfig(), config,
                                    seed=0, model_name=base.name)
    n = len(selection.symbols)
    return {"wall": (time.perf_counter() - wall) / n, "cpu": (time.process_time() - cpu) / n,
            "drafted": sum(r["status"] == "drafted" for r in records)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lexicon", default="multi-token")
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--generate", type=int, default=8)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    base = load_model(args.model)
    selection = many.select(load_lexicon(), base.tokenizer, kind=args.lexicon, limit=args.limit)
    print(f"model {base.name}; {len(selection.symbols)} {args.lexicon} symbols; generate {args.generate}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    batched = run(selection, base, args.batch, args.generate)
    print(f"batches of {args.batch}: {batched['wall']:.1f} s per symbol (CPU {batched['cpu']:.1f} s), "
          f"{batched['drafted']} drafted")
    single = run(selection, base, 1, args.generate)
    print(f"one by one:   {single['wall']:.1f} s per symbol (CPU {single['cpu']:.1f} s), {single['drafted']} drafted")
    print(f"load average now {os.getloadavg()[0]:.1f}")
    print(f"speedup: {single['wall'] / batched['wall']:.2f}")


if __name__ == "__main__":
    main()
