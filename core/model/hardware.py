"""What this machine multiplies fast: float32 or bfloat16.

On a CPU with AVX-512 BF16 or AMX, a bfloat16 matrix product runs several times faster than a
float32 one; on a CPU with only AVX2 it runs about 70 times SLOWER (measured: 1.2 against 89
GFLOP/s), because the library falls back to converting every element. Choosing a precision by the
dtype alone would therefore make the same setting a speed-up on one machine and a slow-down on
another, so the choice is made by measuring.

``profile()`` multiplies two 256 × 256 matrices in each dtype for a short while (well under a
second in all, even where bfloat16 is slow) and reports both rates, the CPU flags that matter and
whether bfloat16 is native (at least as fast as float32). The answer is cached in the process and
on disk (``$GLOSSLAB_CACHE``/``hardware.json``, keyed by the CPU model, the core count and the
torch version), so a process probes once and the answer does not flicker with the host's load.
``bf16_native(device)``: True on a GPU that supports bfloat16, else the profile's answer.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import time
from pathlib import Path

import torch

from core import atomic

PROBE_SIZE = 256
PROBE_SECONDS = 0.08  # per dtype, after one warm-up product
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def _cpu_model_and_flags() -> tuple[str, set[str]]:
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return name, flags


def _rate(dtype: torch.dtype) -> float:
    """GFLOP/s of a PROBE_SIZE² matrix product in ``dtype`` (best of the products that fit in the time)."""
    n = PROBE_SIZE
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b
    best, end = 0.0, time.perf_counter() + PROBE_SECONDS
    while True:
        start = time.perf_counter()
        a @ b
        now = time.perf_counter()
        best = max(best, 2 * n**3 / max(now - start, 1e-9) / 1e9)
        if now >= end:
            return best


def _cache_file() -> Path:
    return Path(os.environ.get("GLOSSLAB_CACHE") or Path.home() / ".cache" / "glosslab") / "hardware.json"


def _key(name: str) -> str:
    return f"{name} | {os.cpu_count()} cores | torch {torch.__version__}"


@functools.lru_cache(maxsize=1)
def profile() -> dict:
    """{"cpu", "flags", "float32_gflops", "bfloat16_gflops", "bf16_native", "slowdown"} (see the module)."""
    name, flags = _cpu_model_and_flags()
    key = _key(name)
    path = _cache_file()
    try:
        stored = json.loads(path.read_text())
        if isinstance(stored, dict) and isinstance(stored.get(key), dict):
            return stored[key]
    except (OSError, ValueError):
        stored = {}
    f32, bf16 = _rate(torch.float32), _rate(torch.bfloat16)
    found = {"cpu": name, "flags": [f for f in FLAGS if f in flags], "float32_gflops": round(f32, 1),
             "bfloat16_gflops": round(bf16, 1), "bf16_native": bf16 >= f32,
             "slowdown": round(f32 / bf16, 1) if bf16 > 0 else None}
    try:
        atomic.write_text(path, json.dumps({**(stored if isinstance(stored, dict) else {}), key: found}, indent=1))
    except OSError:
        pass  # a read-only home: the answer stays cached in this process
    return found


def bf16_native(device: str = "cpu") -> bool:
    """Whether bfloat16 matrix products are native (fast) on ``device``."""
    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return bool(profile()["bf16_native"])


def describe() -> str:
    """One line for a benchmark's header: the CPU's bfloat16 capability and the probe's two rates."""
    p = profile()
    native = "native" if p["bf16_native"] else f"NOT native (about {p['slowdown']:g} times slower than float32)"
    flags = ", ".join(p["flags"]) or "none of " + ", ".join(FLAGS)
    return (f"cpu: {p['cpu']}; flags: {flags}; bfloat16 {native}; probe: float32 {p['float32_gflops']:g}, "
            f"bfloat16 {p['bfloat16_gflops']:g} GFLOP/s")
