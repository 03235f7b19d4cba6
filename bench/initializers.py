"""The held-out hidden-state measure of every strategy's input row on every built-in symbol.

For each built-in spec (``data/*.json``) and each strategy of a set (default: ``field``, the
research's five and the field's four), the starting input row is computed on the default model as
``initial_rows`` computes it (seed 0 for the random ones), and measured with ``hidden_mse``
(``core.embedding.hidden``: 32 held-out snippets with a seed no training uses, and the
testing-positive contexts; lower = the model reads the token more like the gloss). Before any
fine-tuning: this is what each initializer gives the fine-tuning to start from.

Prints one table (rows: strategies; columns: symbols; last column the mean) and, per symbol,
which strategy is lowest, and each strategy's seconds. Not a speed benchmark: the seconds are
there to show what each row costs.

    python bench/initializers.py
    python bench/initializers.py --strategies average,distill --specs wool_shop,ice_cream
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
    parser.add_argument("--strategies", default="field", help="names or a group (research, field, all)")
    parser.add_argument("--specs", default="", help="built-in spec names separated by commas (default: all)")
    parser.add_argument("--model", default=None, help="model name or folder (default: the embedded SmolLM2)")
    parser.add_argument("--held-out", type=int, default=32, help="held-out snippets per symbol")
    args = parser.parse_args(argv)

    import torch

    from core.embedding.hidden import HeldOut
    from core.embedding.strategies import InitConfig, STRATEGIES
    from core.experiment.single.compare import CompareConfig
    from core.model.loading import load_model
    from core.spec.errors import InputError
    from core.spec.gloss import builtin_examples, check_spec, load_example

    print(machine_line(), flush=True)
    print(f"matmul peak now: float32 {matmul_peak(torch.float32):.0f} GFLOP/s", flush=True)
    try:
        names = CompareConfig(strategies=args.strategies).strategies
        specs = [s.strip() for s in args.specs.split(",") if s.strip()] or list(builtin_examples())
        loaded = load_model(args.model)
        chosen = [check_spec(load_example(name), loaded.tokenizer) for name in specs]
    except InputError as exc:
        print(f"cannot run:\n{exc}", file=sys.stderr)
        return 2
    model, tokenizer = loaded.model, loaded.tokenizer
    table: dict[str, dict[str, float]] = {n: {} for n in names}
    seconds: dict[str, float] = {n: 0.0 for n in names}
    for name, spec in zip(specs, chosen):
        held = HeldOut(model, tokenizer, spec, snippets=args.held_out)
        for strategy in names:
            config = InitConfig(strategy=strategy)
            try:
                STRATEGIES[strategy].check(spec, config, tokenizer)
            except InputError as exc:
                print(f"{name}: {strategy} skipped ({exc.problems[0].field}: {exc.problems[0].problem})")
                continue
            started = time.perf_counter()
            vector, _ = STRATEGIES[strategy].input_row(model, tokenizer, spec, config)
            seconds[strategy] += time.perf_counter() - started
            table[strategy][name] = held.measure(vector).combined
        best = min((s for s in names if name in table[s]), key=lambda s: table[s][name])
        print(f"{name}: lowest {best} ({table[best][name]:.4f})", flush=True)
    head = "| strategy | " + " | ".join(specs) + " | mean | seconds |"
    print()
    print("held-out hidden_mse of the starting input row (lower is better)")
    print(head)
    print("|" + "---|" * (len(specs) + 3))
    for strategy in names:
        row = table[strategy]
        cells = [f"{row[n]:.4f}" if n in row else "–" for n in specs]
        mean = sum(row.values()) / len(row) if row else float("nan")
        print(f"| {strategy} | " + " | ".join(cells) + f" | {mean:.4f} | {seconds[strategy]:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
