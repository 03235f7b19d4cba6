"""Benchmark: the ranks behind a vocabulary's confusion matrix, one sort per context against one pass
over the vocabulary per token.

A vocabulary of K symbols with C testing-positive contexts each has N = K·C contexts, and the
confusion matrix needs the rank of every one of the K new tokens after every context. Counting the
strictly higher logits token by token (``ranks_of`` in a loop, as before) is N·V·K work;
``ranks_of_many`` sorts each context's V logits once and finds every token by binary search,
N·V·log V. Both run side by side here on the same logits (random, as wide as the default model's
vocabulary; the cost does not depend on the values), and must give the same ranks. Prints the
machine's matrix-multiply peak now (how busy the host is), both times and ``speedup:``.

    python bench/confusion.py                 # K = 100 symbols, 6 contexts each, V = 49,152
    python bench/confusion.py --symbols 500   # 3,000 contexts (the loop takes minutes)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from peak import machine_line, matmul_peak  # noqa: E402  (bench/ is the script's folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=100, help="K, the new tokens and symbols (default %(default)s)")
    parser.add_argument("--contexts", type=int, default=6, help="testing-positive contexts a symbol (default %(default)s)")
    parser.add_argument("--vocabulary", type=int, default=49_152 + 100,
                        help="V, the logits a context (default: the default model's vocabulary and 100 new tokens)")
    args = parser.parse_args(argv)

    import torch

    from core.embedding.contexts import ranks_of, ranks_of_many

    print(machine_line(), flush=True)
    print(f"matmul peak now: float32 {matmul_peak(torch.float32):.0f} GFLOP/s", flush=True)
    n = args.symbols * args.contexts
    logits = torch.randn(n, args.vocabulary, generator=torch.Generator().manual_seed(0))
    ids = list(range(args.vocabulary - args.symbols, args.vocabulary))  # the new tokens sit at the end
    print(f"contexts: {n}  tokens: {len(ids)}  vocabulary: {args.vocabulary:,}  threads: {torch.get_num_threads()}",
          flush=True)
    start = time.perf_counter()
    sorted_ranks = ranks_of_many(logits, ids)
    t_sorted = time.perf_counter() - start
    start = time.perf_counter()
    loop_ranks = torch.stack([ranks_of(logits, i) for i in ids], dim=1)
    t_loop = time.perf_counter() - start
    same = torch.equal(sorted_ranks, loop_ranks)
    print(f"one sort per context: {t_sorted:.2f} s   one pass per token: {t_loop:.2f} s   same ranks: {same}")
    print(f"speedup: {t_loop / t_sorted:.1f}", flush=True)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
