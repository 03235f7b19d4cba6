"""The machine's matrix-multiply peak now: every benchmark prints it, to judge how busy the host is."""

from __future__ import annotations

import time

import torch


def matmul_peak(dtype: torch.dtype, n: int = 1536, reps: int = 6) -> float:
    """Best-of GFLOP/s of an n×n matrix product on this machine, now."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = 0.0
    for _ in range(reps):
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best
