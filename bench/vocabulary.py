"""Benchmark: initializing a vocabulary of K symbols together vs K single-symbol initializations.

Side by side in one process, on the same model and the same K specs:

* separate: ``core.experiment.single.pipeline.initialize`` once per symbol (what K single runs do: a copy
  of the base, one pass of hidden states over the symbol's contexts, the input row, a resize);
* together: ``core.experiment.vocabulary.init.initialize_vocabulary`` (one copy, ONE batched pass of
  hidden states over every context, every input row, ONE resize).

Neither evaluates (evaluation is per symbol either way). Both sides run at each precision of the
passes (``InitConfig.precision``: the model's own float32, then bfloat16), so every ratio compares
like with like. Prints the machine's matrix-multiply peaks now (to judge how busy the host is),
both times per precision (the together run split into its parts), the ratio, and last
``speedup: <separate / together>`` at the precision where it is highest (goal >= 3), with the other.
What together saves: K - 1 copies of the model, K - 1 resizes of both matrices, K - 1 reads of the
tokenizer's vocabulary, and padding (contexts batched by length); the forward passes over the
contexts are the same work either way, so where they dominate (float32 on a CPU, a big model) the
ratio cannot pass separate / (together's one pass), which the bench prints as the ceiling. Then the peak memory of a 50-symbol initialization, measured in a fresh
subprocess as its peak resident set (``VmHWM`` in ``/proc/self/status``, reset by ``exec``; not
``resource.getrusage(...).ru_maxrss``, which a child inherits from this process's own peak, and not
``tracemalloc``, which does not see torch's allocations), with the peak after loading the model
for reference, and the resident set sampled during the initialization alone (``VmRSS`` every
10 ms); by default on the tiny model (``--memory-model``).

The K specs are synthetic, derived from the built-in ones: each built-in spec gets variants with
their own symbol ID and token, a gloss with one more word, and contexts and sentences that begin
with a variant-specific phrase (so no two symbols share a gloss or a testing context).

    python bench/vocabulary.py                       # default model, K = 10, strategy average
    python bench/vocabulary.py --strategy optimized --opt-epochs 10 --memory-model default
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from peak import machine_line, matmul_peak  # noqa: E402  (bench/ is the script's folder)

SPEEDUP_GOAL = 3.0
WORDS = ["north", "south", "east", "west", "red", "blue", "green", "small", "large", "old", "new", "bright"]


def synthetic_specs(n: int, positives: int = 0) -> list[dict]:
    """``n`` specs derived from the built-ins (see the module docstring); ``positives`` > 0 keeps that
    many positive contexts of each (and half as many negative ones), for a shorter run."""
    from core.model.tiny import CORPUS_SPECS
    from core.spec.gloss import builtin_examples

    # The built-ins whose words the tiny model's tokenizer knows too, so both models take the same specs.
    bases = [json.loads(builtin_examples()[name].read_text(encoding="utf-8")) for name in CORPUS_SPECS]
    specs = []
    for k in range(n):
        spec = json.loads(json.dumps(bases[k % len(bases)]))
        word = WORDS[(k // len(bases)) % len(WORDS)]
        variant = f"{word} {k // (len(bases) * len(WORDS)) + 1}" if k >= len(bases) * len(WORDS) else word
        old = spec["new_token"] or f"[BLISS_{spec['symbol_id']}]"
        spec["symbol_id"] = f"SYN{k}"
        spec["new_token"] = f"[BLISS_SYN{k}]"
        spec["glosses"] = [f"{g} {variant}" for g in spec["glosses"]]
        lead = f"In the {variant} story, "
        for name in ("positive_contexts", "negative_contexts", "validation_contexts", "testing_positive_contexts",
                     "testing_negative_contexts", "fine_tuning_sentences", "validation_sentences"):
            spec[name] = [lead + t[0].lower() + t[1:] for t in spec[name]]
        for name in ("fine_tuning_sentences", "validation_sentences"):
            spec[name] = [t.replace(old, spec["new_token"]) for t in spec[name]]
        if positives > 0:
            spec["positive_contexts"] = spec["positive_contexts"][:positives]
            spec["negative_contexts"] = spec["negative_contexts"][: max(1, positives // 2)]
        specs.append(spec)
    return specs


def _memory(args) -> int:
    """Run the 50-symbol initialization in a fresh process; print what it reports."""
    code = (
        "import json, sys, time\n"
        f"sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
        "from vocabulary import synthetic_specs\n"
        "from core.model.loading import load_model\n"
        "from core.embedding.strategies import InitConfig\n"
        "from core.experiment.vocabulary.init import initialize_vocabulary\n"
        "from core.experiment.vocabulary.load import load_vocabulary\n"
        f"base = load_model({args.memory_model!r})\n"
        "def status(key):\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith(key + ':'): return int(line.split()[1])\n"
        "loaded = status('VmHWM')\n"
        f"vocab = load_vocabulary(synthetic_specs({args.memory_symbols}, {args.contexts}), base.tokenizer)\n"
        "import threading\n"
        "def rss(): return status('VmRSS')\n"
        "before = rss(); samples = [before]; done = threading.Event()\n"
        "def sample():\n"
        "    while not done.is_set(): samples.append(rss()); done.wait(0.01)\n"
        "watcher = threading.Thread(target=sample); watcher.start()\n"
        "start = time.perf_counter()\n"
        f"result = initialize_vocabulary(vocab, InitConfig(strategy={args.strategy!r}, opt_epochs={args.opt_epochs}), base)\n"
        "seconds = time.perf_counter() - start\n"
        "done.set(); watcher.join(); samples.append(rss())\n"
        "peak = status('VmHWM')\n"
        "print(json.dumps({'loaded_kb': loaded, 'peak_kb': peak, 'seconds': seconds, 'symbols': len(vocab),\n"
        "                  'model': base.name, 'before_kb': before, 'during_kb': max(samples)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(f"memory run failed:\n{out.stderr[-2000:]}", file=sys.stderr)
        return 1
    data = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"memory, {data['symbols']} symbols together on {data['model']} ({args.strategy}, {data['seconds']:.1f} s), "
          f"in a fresh subprocess: peak resident set (VmHWM, /proc/self/status) "
          f"{data['peak_kb'] / 1024:.0f} MiB, {data['loaded_kb'] / 1024:.0f} MiB of it reached while loading the "
          f"model; during the initialization (VmRSS from /proc/self/status every 10 ms) "
          f"{data['before_kb'] / 1024:.0f} MiB before, {data['during_kb'] / 1024:.0f} MiB at most "
          f"(+{(data['during_kb'] - data['before_kb']) / 1024:.0f} MiB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model name or folder (default: the embedded SmolLM2)")
    parser.add_argument("--symbols", type=int, default=10,
                        help="K, the symbols timed (default %(default)s; 0: only the memory run)")
    parser.add_argument("--strategy", default="average", help="initialization strategy (default %(default)s)")
    parser.add_argument("--precision", action="append", choices=("model", "bfloat16"),
                        help="precision of the passes, on both sides (repeat for several; default: model, then "
                             "bfloat16)")
    parser.add_argument("--opt-epochs", type=int, default=30, help="epochs of the optimized strategy")
    parser.add_argument("--contexts", type=int, default=16,
                        help="positive contexts kept per synthetic spec, and half as many negative ones "
                             "(0: all of them; default %(default)s, so that a run takes minutes on 2 CPU cores)")
    parser.add_argument("--memory-symbols", type=int, default=50, help="symbols of the memory run (0: skip it)")
    parser.add_argument("--memory-model", default="tiny-random",
                        help="model of the memory run (default %(default)s: 50 symbols on the default model take "
                             "tens of minutes on 2 busy CPU cores; give 'default' for the same as --model)")
    args = parser.parse_args(argv)
    if args.memory_model == "default":
        args.memory_model = args.model

    import torch

    from core.embedding.strategies import InitConfig
    from core.experiment.single.pipeline import initialize
    from core.experiment.vocabulary.init import initialize_vocabulary
    from core.experiment.vocabulary.load import load_vocabulary
    from core.model.loading import load_model

    print(machine_line(), flush=True)
    print(f"matmul peak now: float32 {matmul_peak(torch.float32):.0f} GFLOP/s, "
          f"bfloat16 {matmul_peak(torch.bfloat16):.0f} GFLOP/s", flush=True)
    if args.symbols == 0:  # the memory run only
        return _memory(args) if args.memory_symbols else 0
    base = load_model(args.model)
    vocab = load_vocabulary(synthetic_specs(args.symbols, args.contexts), base.tokenizer)
    contexts = sum(len(s.positive_contexts) + len(s.negative_contexts) for s in vocab.specs)
    print(f"model: {base.name} ({base.model.dtype})  symbols: {len(vocab)}  strategy: {args.strategy}  "
          f"contexts: {contexts}  threads: {torch.get_num_threads()}", flush=True)

    speedups = {}
    for precision in args.precision or ["model", "bfloat16"]:
        config = InitConfig(strategy=args.strategy, opt_epochs=args.opt_epochs, precision=precision)
        warm = load_vocabulary(synthetic_specs(2, args.contexts), base.tokenizer)
        initialize_vocabulary(warm, config, base)  # warm-up, both paths
        initialize(warm.specs[0], config, base, evaluate_after=False, compare_with=())
        start = time.perf_counter()
        separate = [initialize(spec, InitConfig(**{**config.to_dict(), "seed": config.seed + k}), base,
                               evaluate_after=False, compare_with=()) for k, spec in enumerate(vocab.specs)]
        t_separate = time.perf_counter() - start
        del separate
        start = time.perf_counter()
        together = initialize_vocabulary(vocab, config, base)
        t_together = time.perf_counter() - start
        parts = ", ".join(f"{k} {v:.2f} s" for k, v in together.timings.items())
        ceiling = t_separate / together.timings["output_rows"] if together.timings.get("output_rows") else None
        del together
        speedups[precision] = t_separate / t_together
        print(f"precision {precision}: separate {t_separate:.2f} s ({len(vocab)} initializations), "
              f"together {t_together:.2f} s ({parts}); ratio {speedups[precision]:.2f}"
              + (f" (ceiling, together's one pass alone: {ceiling:.2f})" if ceiling else ""), flush=True)

    best = max(speedups, key=speedups.get)
    others = ", ".join(f"{p}: {s:.2f}" for p, s in speedups.items() if p != best)
    verdicts = "; ".join(f"{p} {'met' if s >= SPEEDUP_GOAL else 'NOT met'}" for p, s in speedups.items())
    print(f"goal (speedup >= {SPEEDUP_GOAL:g}): {verdicts}")
    print(f"speedup: {speedups[best]:.2f} (precision {best}" + (f"; {others})" if others else ")"), flush=True)
    if args.memory_symbols:
        return _memory(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
