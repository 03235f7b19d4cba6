"""The machine's matrix-multiply peak now: every benchmark prints it, to judge how busy the host is,
under a line saying what the CPU is (its bfloat16 capability and the probe's two rates), so that
figures from a machine with native bfloat16 and one without are never mixed up."""

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


def machine_line() -> str:
    """The CPU's line (``core.model.hardware.describe``): which kind of machine a figure comes from."""
    from core.model import hardware

    return hardware.describe()
