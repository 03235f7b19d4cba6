"""Benchmark: the screening passes of drafting, texts in their own order vs shortest first.

Drafting many symbols spends most of its time reading the contexts it screens
(``core.embedding.contexts.last_hidden``: one pass per context, in batches). The contexts of a
drafted vocabulary differ a lot in length, and a batch is padded to its longest text, so the order
decides how much padding the model reads. This reads the same contexts twice in one process: in
batches of 32 in the vocabulary's own order (what the passes did before they sorted), and as
``last_hidden`` does now (shortest first, rows put back in order). Printed: the CPU line and the
matmul peak, each way's CPU seconds, the largest difference between the two results, and
``speedup: <ratio>``.

    python bench/screening.py VOCAB.jsonl [--contexts 320] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from peak import machine_line, matmul_peak  # noqa: E402  (bench/ is the script's folder)

from core.embedding.contexts import last_hidden  # noqa: E402
from core.model.loading import load_model  # noqa: E402

FIELDS = ("positive_contexts", "negative_contexts", "testing_positive_contexts", "testing_negative_contexts")


def contexts_of(path: Path, limit: int) -> list[str]:
    texts: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            spec = json.loads(line)
            texts += [t for field in FIELDS for t in spec.get(field, [])]
    return texts[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vocabulary", type=Path, help="a drafted vocabulary (JSONL), e.g. from vocab draft")
    parser.add_argument("--contexts", type=int, default=320, help="how many of its contexts to read")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(machine_line())
    print(f"matmul peak now: float32 {matmul_peak(torch.float32):.0f} GFLOP/s")
    base = load_model(args.model)
    texts = contexts_of(args.vocabulary, args.contexts)
    lengths = [len(base.tokenizer.encode(t, add_special_tokens=False)) for t in texts]
    print(f"{len(texts)} contexts, {min(lengths)} to {max(lengths)} tokens; {args.threads} thread(s)")
    start = time.process_time()
    own_order = torch.cat([last_hidden(base.model, base.tokenizer, texts[i:i + 32])
                           for i in range(0, len(texts), 32)])
    before = time.process_time() - start
    start = time.process_time()
    shortest_first = last_hidden(base.model, base.tokenizer, texts, batch_size=32)
    after = time.process_time() - start
    print(f"own order, batches of 32: {before:.1f} s CPU")
    print(f"shortest first:           {after:.1f} s CPU")
    print(f"largest difference of a row's value: {(own_order - shortest_first).abs().max():.2e}")
    print(f"speedup: {before / after:.2f}")


if __name__ == "__main__":
    main()
