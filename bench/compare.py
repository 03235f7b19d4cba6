"""Benchmark: a comparison that shares work between its members vs today's member-by-member path.

Runs ``core.experiment.single.compare.run_comparison`` twice on the same model, spec and grid (default:
average and random × 2 seeds × 2 epochs), one after the other in this process:

* shared (``reuse=True`` and ``workers`` automatic, what the app and the CLI run): the calculated
  output row is computed once for all members, and a strategy whose rows do not depend on the
  seed (average, last_token, …, optimized from the average) is initialized and evaluated before
  fine-tuning once for all seeds; the fine-tuned model's frozen 4-bit matrices are dequantized
  once, not at every pass (``core.train.qlora.keep_dequantized``); members run side by side in
  worker processes, the cores shared among them (``core.execution.processes``);
* member by member (``reuse=False``, ``DEQUANTIZED_BYTES_MAX = 0``, ``workers = 1``): the old path,
  where every member initializes, evaluates and scores from scratch, one after another on all
  cores, and every 4-bit call dequantizes its matrix.

Both quantize the base to 4 bits once per comparison and fine-tune every member in full. Printed:
the machine's float32 and bfloat16 matrix-multiply peak now (to judge noise on a shared machine),
each run's wall time and its split (initialization, quantization, training, evaluation,
generation; summed over members from their ``timings``, so with workers side by side the parts add
up to more than the wall time), whether every member's numbers agree between the two runs (times
excepted; to 1e-4 relative, as a different number of threads per matrix product adds up in a
different order), and last ``speedup: <ratio>`` (wall clock, member by member over shared).

    python bench/compare.py [--spec data/wool_shop.json] [--model NAME] [--strategies average,random]
                            [--seeds 2] [--epochs 2] [--threads N] [--workers N]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from peak import machine_line, matmul_peak  # noqa: E402  (bench/ is the script's folder)

KINDS = ("initialization", "quantization", "training", "evaluation", "generation")
TIMES = ("time_per_epoch_s", "init_seconds")  # row keys that are wall-clock times


def split(result) -> dict[str, float]:
    total: dict[str, float] = {}
    for member in result.members:
        for kind, seconds in member.get("timings", {}).items():
            total[kind] = total.get(kind, 0.0) + seconds
    return total


def differences(a: dict, b: dict, rel: float = 1e-4) -> list[str]:
    """Keys whose values differ between two member rows (times excepted; floats beyond ``rel``), with the gap."""
    out = []
    for key in sorted(set(a) | set(b)):
        if key in TIMES:
            continue
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        if isinstance(x, float) and isinstance(y, float) and math.isfinite(x) and math.isfinite(y):
            if math.isclose(x, y, rel_tol=rel, abs_tol=rel * 1e-2):
                continue
            out.append(f"{key} {x:.6g} vs {y:.6g}")
        else:
            out.append(f"{key} {x!r} vs {y!r}")
    return out


def add_grid_arguments(parser: argparse.ArgumentParser, epochs: int) -> None:
    """The options of a comparison benchmark's grid: spec, model, strategies, seeds, epochs."""
    parser.add_argument("--spec", default=str(ROOT / "data" / "wool_shop.json"), help="gloss spec JSON")
    parser.add_argument("--model", default=None, help="model name or folder (default: the embedded SmolLM2)")
    parser.add_argument("--strategies", default="average,random")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=epochs)


def load_grid(args):
    """The base model, spec and comparison settings of a comparison benchmark (``--spec``, ``--model``,
    ``--strategies``, ``--seeds``, ``--epochs``), with the header every such benchmark prints; None
    (after saying why) when they do not fit together."""
    from core.experiment.single.compare import CompareConfig
    from core.model.loading import load_model
    from core.spec.errors import InputError
    from core.spec.gloss import GlossSpec, check_spec
    from core.train.finetune import FinetuneConfig

    try:
        base = load_model(args.model)
        spec = check_spec(GlossSpec.load(args.spec), base.tokenizer)
        config = CompareConfig(strategies=args.strategies, seeds=args.seeds,
                               finetune=FinetuneConfig(epochs=args.epochs))
        config.finetune.check_data(len(spec.fine_tuning_sentences), len(spec.validation_sentences))
    except InputError as exc:
        print(f"cannot run the benchmark:\n{exc}", file=sys.stderr)
        return None
    # What the first run would otherwise pay alone: importing the trainer, PEFT and bitsandbytes.
    import bitsandbytes  # noqa: F401
    import peft  # noqa: F401
    from transformers import Trainer  # noqa: F401

    print(f"model {base.name}, spec {Path(args.spec).name}: {', '.join(config.strategies)} × {config.seeds} seed(s) "
          f"× {config.finetune.epochs} epoch(s) = {len(config.members)} members; torch threads {torch.get_num_threads()}")
    print(machine_line(), flush=True)
    print(f"matmul peak now: float32 {matmul_peak(torch.float32):.0f} GFLOP/s, "
          f"bfloat16 {matmul_peak(torch.bfloat16):.0f} GFLOP/s", flush=True)
    return base, spec, config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_grid_arguments(parser, epochs=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--workers", type=int, default=0, help="members at once in the shared run (0 = automatic)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    from core.execution import BackendConfig, backend_for
    from core.experiment.single.compare import run_comparison

    grid = load_grid(args)
    if grid is None:
        return 2
    base, spec, config = grid

    from core.train import qlora

    kept = qlora.DEQUANTIZED_BYTES_MAX
    runs = {}

    for label, reuse in (("shared", True), ("member by member", False)):
        # The old path dequantizes the 4-bit matrices at every call, too.
        qlora.DEQUANTIZED_BYTES_MAX = kept if reuse else 0
        wall = time.perf_counter()
        try:
            backend = backend_for(BackendConfig(workers=args.workers if reuse else 1))
            result = run_comparison(spec, base, config, backend=backend, reuse=reuse)
        finally:
            qlora.DEQUANTIZED_BYTES_MAX = kept
        wall = time.perf_counter() - wall
        runs[label] = (wall, result)
        parts = split(result)
        other = wall - sum(parts.values())
        print(f"{label:>16}: {wall:7.1f} s  ({result.workers} worker{'s' if result.workers != 1 else ''}) = "
              + ", ".join(f"{k} {parts.get(k, 0.0):.1f}" for k in KINDS)
              + (f", other {other:.1f}" if result.workers == 1 else " (summed over members)"), flush=True)

    (wall_new, new), (wall_ref, ref) = runs["shared"], runs["member by member"]
    per_kind = ", ".join(f"{k} {split(ref).get(k, 0.0) / max(split(new).get(k, 0.0), 1e-9):.2f}"
                         for k in KINDS if split(new).get(k))
    print(f"ratios (member by member / shared): {per_kind}")
    problems, texts = [], []
    for a, b in zip(new.members, ref.members):
        gaps = differences(a["row"], b["row"])
        # Greedy text can flip a token where two logits tie to within the summation order's rounding
        # (one thread per member against two): reported, not counted as a difference in the numbers.
        texts += [f"{a['name']}: {g}" for g in gaps if g.startswith("gen_")]
        gaps = [g for g in gaps if not g.startswith("gen_")]
        if gaps:
            problems.append(f"{a['name']}: " + "; ".join(gaps))
    if texts:
        print("greedy generations differ (a token flipped by a different summation order): " + "; ".join(texts))
    if len(new.members) != len(ref.members):
        problems.append(f"{len(new.members)} members vs {len(ref.members)}")
    if problems:
        print("rows DIFFER:\n  " + "\n  ".join(problems))
    else:
        print(f"rows agree: every number of all {len(new.members)} members is the same in both runs "
              "(times and generation scores excepted; to 1e-4 relative)")
    print(f"speedup: {wall_ref / wall_new:.2f}")
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
