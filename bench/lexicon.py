"""Benchmark: what the whole multi-token lexicon costs, from two vocabularies of 100 and 300 symbols.

For each size N (``--sizes``, default 100 and 300) a fresh child process (this script with
``--one N``) loads the model and runs the three phases a vocabulary of lexicon symbols goes
through, with the engine's own functions and the commands' default settings:

* **draft**: ``vocab draft --lexicon multi-token --limit N`` (``core.authoring.many.select``, its
  batches drafted by ``many.draft_batch`` and written by ``many_store.drive``: the first N symbols
  in ID order whose glosses are all several tokens on the model's tokenizer, so a larger size holds
  the smaller one);
* **initialize**: what ``vocab init VOCAB.jsonl`` runs before its evaluation (the file read and
  checked, ``load_vocabulary`` and ``check_vocab_run``, then ``initialize_vocabulary``: default
  strategy, seed 0, no contrast);
* **evaluate**: ``vocab init``'s evaluation (``evaluate_vocabulary``: every symbol's ranks,
  generations and quality, the confusion matrix) and the lexicon report's numbers
  (``VocabRun.to_dict``, ``lexicon_rows``, ``lexicon_summary``).

Drafting is counted per symbol asked for, initialization and evaluation per symbol drafted (those
in the vocabulary). Each child reports wall and CPU seconds per phase (CPU: ``time.process_time``,
every thread of the process) and its peak resident set (``VmHWM`` in ``/proc/self/status``, which
``exec`` resets, so each size is measured alone; not ``ru_maxrss``, which a child inherits from its
parent), also as it stood after loading the model and after each phase. Printed: the machine and
its matrix-multiply peak now, per size the symbols drafted and not, seconds per symbol per phase
and the peak; then how each phase's time grows from the smallest size to the largest against how
its symbols grow (``close to linear`` when the time per symbol stays within ``TOLERANCE``), and an
extrapolation to every multi-token symbol that ``vocab draft`` can select (on the default model
2,842: the 2,847 of ``lexicon stats`` less the 5 without a BCI-AV ID) from the largest size's time
per symbol asked for, as if the rest drafted in the same share.

On a host that other programs keep busy, torch's threads wait for each other and every phase runs
several times slower than with ``--threads 1`` (a greedy generation on the default model, 2 cores
under load 4: 28 to 44 s with 2 threads, 4.1 to 4.7 s with 1); the bench says so when the load
average is at least the number of cores.

    python bench/lexicon.py                              # 100 and 300 symbols, the default model (hours)
    python bench/lexicon.py --sizes 4,8 --generate 2     # a quick check that it runs
    python bench/lexicon.py --out lexicon-bench          # keep the largest size's JSONL and lexicon report
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from peak import machine_line, matmul_peak  # noqa: E402  (bench/ is the script's folder)

TOLERANCE = 0.20   # time per symbol at the largest size within ±20 % of the smallest's: close to linear
PHASES = ("draft", "init", "evaluate")


def _status_kb(key: str) -> int:
    """One ``kB`` field of ``/proc/self/status`` (``VmHWM``: the peak resident set; ``VmRSS``: now)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {key}")


def _timed(fn, *args, **kw):
    """``fn``'s result, wall seconds and CPU seconds (this process, every thread)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kw)
    return out, time.perf_counter() - wall, time.process_time() - cpu


# -- one size, in its own process --------------------------------------------------------------------

def _draft(size: int, base, args, path: Path) -> dict:
    """``vocab draft --lexicon multi-token --limit size --out path`` with the command's defaults."""
    import functools

    from core.authoring import many
    from core.authoring.draft import DraftConfig
    from core.authoring.lexicon import load_lexicon
    from core.authoring.many_store import Store, drive

    config = many.ManyConfig(generate=args.generate)
    screening = DraftConfig(seed=0, generate=0)
    selection = many.select(load_lexicon(), base.tokenizer, kind="multi-token", limit=size)
    store = Store(path)
    store.start({"model": base.name, "seed": 0, "settings": config.to_dict(),
                 "selection": {"lexicon": "multi-token", "limit": size}}, resume=False)
    one_batch = functools.partial(many.draft_batch, glosses=selection.glosses, model=base.model,
                                  tokenizer=base.tokenizer, draft_config=screening, config=config, seed=0,
                                  model_name=base.name)
    result = drive(selection, config, store, lambda symbols: one_batch(symbols))
    return {"symbols": result["symbols"], "drafted": result["drafted"],
            "not_drafted_before": len(selection.failed),
            "not_drafted_screened": len(result["not_drafted"]) - len(selection.failed)}


def _initialize(path: Path, base):
    """``vocab init``'s reading and checks of the file, then its initialization."""
    from core.embedding.strategies import InitConfig
    from core.experiment.vocabulary.init import initialize_vocabulary
    from core.experiment.vocabulary.load import load_vocabulary
    from core.runs.vocab_jobs import check_vocab_run
    from core.spec.settings import check_max_new_tokens

    vocab = load_vocabulary(path)
    config = InitConfig(seed=0)
    max_new = check_vocab_run(vocab, base, None, check_max_new_tokens(None), [config.strategy], config)
    return vocab, initialize_vocabulary(vocab, config, base), max_new


def _evaluate(vocab, init, max_new: int, timings: dict):
    """``vocab init``'s evaluation and the lexicon report's numbers: (the run's result, rows, summary);
    ``timings`` gets the evaluation's parts (``evaluate_vocabulary``'s own)."""
    from core.experiment.vocabulary.evaluate import evaluate_vocabulary
    from core.experiment.vocabulary.run import VocabRun
    from core.report import lexicon

    before = evaluate_vocabulary(init.model, init.tokenizer, vocab, init.token_ids, max_new, timings=timings)
    result = VocabRun(init=init, before=before, seconds=init.seconds).to_dict()
    rows = lexicon.lexicon_rows(result)
    return result, rows, lexicon.lexicon_summary(rows)


def _evaluation_parts(timings: dict, wall: float) -> dict:
    """The evaluation's wall seconds by part: ranks with the nearest tokens and the held-out
    hidden-state measure, greedy generations, and the rest (the confusion matrix, the report's numbers)."""
    ranks, generation = timings.get("evaluation", 0.0), timings.get("generation", 0.0)
    return {"ranks and hidden states": ranks, "generation": generation,
            "confusion and report": wall - ranks - generation}


def one(args) -> dict:
    """Every phase for ``args.one`` symbols in this process; what the parent prints."""
    import torch

    from core.authoring import many
    from core.authoring.lexicon import load_lexicon, stats
    from core.model.loading import load_model
    from core.report import lexicon

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    out: dict = {"size": args.one, "threads": torch.get_num_threads(), "load_average": [os.getloadavg()[0]]}
    base, out["load_wall"], _ = _timed(load_model, args.model)
    out["model"] = base.name
    lexicon_symbols = load_lexicon()
    out["multi_token_total"] = len(many.select(lexicon_symbols, base.tokenizer, kind="multi-token").symbols)
    out["multi_token_stats"] = stats(lexicon_symbols, base.tokenizer)["only_multi_token_glosses"]
    out["peak_kb"] = {"loaded": _status_kb("VmHWM")}
    keep = Path(args.keep) if args.keep else None
    with tempfile.TemporaryDirectory(prefix="bench-lexicon-") as scratch:
        path = (keep or Path(scratch)) / f"lexicon-{args.one}.jsonl"
        out["draft"], wall, cpu = _timed(_draft, args.one, base, args, path)
        out["draft"] |= {"wall": wall, "cpu": cpu, "count": args.one}
        out["peak_kb"]["draft"] = _status_kb("VmHWM")
        if out["draft"]["drafted"] == 0:
            out["load_average"].append(os.getloadavg()[0])
            return out
        (vocab, init, max_new), wall, cpu = _timed(_initialize, path, base)
        out["init"] = {"wall": wall, "cpu": cpu, "count": len(vocab), "parts": dict(init.timings)}
        out["peak_kb"]["init"] = _status_kb("VmHWM")
        parts: dict = {}
        (result, rows, summary), wall, cpu = _timed(_evaluate, vocab, init, max_new, parts)
        out["evaluate"] = {"wall": wall, "cpu": cpu, "count": len(vocab), "parts": _evaluation_parts(parts, wall)}
        out["peak_kb"]["evaluate"] = _status_kb("VmHWM")
    out["summary"] = lexicon.summary_lines(summary)
    if keep is not None:
        from core.cli.vocab import write_lexicon

        write_lexicon(keep, result, rows)
    out["load_average"].append(os.getloadavg()[0])
    return out


def _child(size: int, args, keep: Path | None) -> dict | None:
    """Run one size in a fresh process (its own peak resident set); its report, or None if it failed."""
    command = [sys.executable, str(Path(__file__).resolve()), "--one", str(size), "--generate", str(args.generate),
               "--threads", str(args.threads)]
    command += ["--model", args.model] if args.model else []
    command += ["--keep", str(keep)] if keep is not None else []
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)  # stderr: straight through
    if done.returncode != 0:
        print(f"size {size}: the child process failed (exit {done.returncode}); its errors are above", flush=True)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- what the parent prints ----------------------------------------------------------------------------

def _mib(kb: int) -> str:
    return f"{kb / 1024:,.0f} MiB"


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{seconds / 60:.1f} min"


def print_size(r: dict) -> None:
    d = r["draft"]
    print(f"size {r['size']}: {d['symbols']} symbols asked for, {d['drafted']} drafted, "
          f"{d['symbols'] - d['drafted']} not ({d['not_drafted_before']} without a usable gloss, "
          f"{d['not_drafted_screened']} too little material after screening or clashing with earlier symbols); "
          f"model loaded in {r['load_wall']:.1f} s; load average {r['load_average'][0]:.1f} -> "
          f"{r['load_average'][-1]:.1f}", flush=True)
    for phase in PHASES:
        p = r.get(phase)
        if p is None:
            print(f"  {phase:<8}  not run: nothing was drafted")
            continue
        per = "symbol asked for" if phase == "draft" else "symbol drafted"
        print(f"  {phase:<8}  {p['wall'] / p['count']:7.2f} s per {per} (CPU {p['cpu'] / p['count']:.2f} s); "
              f"{p['wall']:.1f} s for {p['count']}"
              + (f" ({', '.join(f'{k} {v:.1f} s' for k, v in p['parts'].items())})" if p.get("parts") else ""))
    peaks = ", ".join(f"after {k} {_mib(v)}" for k, v in r["peak_kb"].items())
    print(f"  peak resident set {_mib(max(r['peak_kb'].values()))} ({peaks})")
    for line in r.get("summary", []):
        print(f"  lexicon report: {line}")


def _verdict(ratio: float) -> str:
    if ratio > 1 + TOLERANCE:
        return "more than linear"
    return "close to linear" if ratio >= 1 - TOLERANCE else "less than linear (the smaller size cost more per symbol)"


def print_growth(small: dict, large: dict) -> None:
    """How each phase's time grows against how its symbols grow, wall and CPU, with a verdict."""
    phases = [p for p in PHASES if small.get(p) and large.get(p)]
    for clock in ("wall", "cpu"):
        parts, verdicts = [], []
        for p in phases:
            grew, symbols = large[p][clock] / small[p][clock], large[p]["count"] / small[p]["count"]
            parts.append(f"{p} x{grew:.2f} (linear = x{symbols:.2f})")
            verdicts.append(f"{p} {grew / symbols:.2f} {_verdict(grew / symbols)}")
        print(f"growth {small['size']} -> {large['size']} ({clock}): {', '.join(parts)}")
        print(f"  time per symbol, {large['size']} over {small['size']} (close to linear within "
              f"±{TOLERANCE:.0%}): {'; '.join(verdicts)}")
    peak_small, peak_large = max(small["peak_kb"].values()), max(large["peak_kb"].values())
    print(f"peak resident set {small['size']} -> {large['size']}: {_mib(peak_small)} -> {_mib(peak_large)} "
          f"({(peak_large - peak_small) / 1024 / (large['size'] - small['size']):+.2f} MiB per symbol asked for)")


def print_extrapolation(results: list[dict]) -> None:
    """Every multi-token symbol at the largest size's time per symbol asked for (an extrapolation)."""
    large = results[-1]
    total, n = large["multi_token_total"], large["size"]
    seconds = {p: large[p]["wall"] / n * total for p in PHASES if large.get(p)}
    parts = ", ".join(f"{p} {_duration(s)}" for p, s in seconds.items())
    left_out = large["multi_token_stats"] - total
    which = (f"every multi-token symbol that `vocab draft` can select ({total:,} of `lexicon stats`' "
             f"{large['multi_token_stats']:,}; {left_out:,} have no BCI-AV ID)" if left_out else
             f"every multi-token symbol ({total:,})")
    print(f"extrapolated for {which} on this machine: about {_duration(sum(seconds.values()))} "
          f"({parts}), plus {large['load_wall']:.0f} s to load the model; an extrapolation, linear from the "
          f"{n}-symbol run's wall time per symbol asked for, its share drafted ({large['draft']['drafted']} of {n}) "
          f"assumed for the rest")
    if len(results) > 1:
        small = results[0]
        peak_small, peak_large = max(small["peak_kb"].values()), max(large["peak_kb"].values())
        slope = (peak_large - peak_small) / (n - small["size"])
        print(f"extrapolated peak resident set for {total:,} symbols: "
              + (f"about {_mib(peak_large + slope * (total - n))} (linear from {small['size']} and {n})" if slope > 0
                 else f"not extrapolated: it did not grow from {small['size']} to {n} symbols"))


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of whole numbers, e.g. 100,300") from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give sizes of at least 1, e.g. 100,300")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_sizes, default=[100, 300], metavar="N,N",
                        help="vocabulary sizes, each run in its own process (default 100,300)")
    parser.add_argument("--model", default=None, help="model name or folder (default: the embedded SmolLM2)")
    parser.add_argument("--generate", type=int, default=8,
                        help="sentences the model writes per symbol (vocab draft's --generate, default %(default)s)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="keep the largest size's drafted JSONL (with its report and header) and its lexicon "
                             "report (lexicon.md, lexicon.html, symbols.csv) here")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)   # a child: one size
    parser.add_argument("--keep", default=None, help=argparse.SUPPRESS)            # a child: where to keep files
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(one(args)), flush=True)
        return 0
    from core.authoring.many import ManyConfig
    from core.spec.errors import InputError

    try:
        ManyConfig(generate=args.generate)   # checked here, before any child loads the model
    except InputError as exc:
        parser.error(f"--generate: {exc}")
    if args.threads < 0:
        parser.error("--threads: give 0 (torch's choice) or more")
    keep = Path(args.out) if args.out else None
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        if (keep / f"lexicon-{args.sizes[-1]}.jsonl").exists():
            parser.error(f"--out: {keep / f'lexicon-{args.sizes[-1]}.jsonl'} exists; give another folder")

    import torch

    print(machine_line(), flush=True)
    print(f"matmul peak now: float32 {matmul_peak(torch.float32):.0f} GFLOP/s", flush=True)
    print(f"sizes {', '.join(map(str, args.sizes))} (multi-token lexicon symbols, each size in a fresh process); "
          f"generate {args.generate}; torch threads {args.threads or torch.get_num_threads()}; "
          f"{os.cpu_count()} cores", flush=True)
    if not args.threads and os.getloadavg()[0] >= (os.cpu_count() or 1):
        print(f"note: the host is busy (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); torch's "
              "threads then wait for each other and every phase slows down several times: --threads 1 measures "
              "more steadily", flush=True)
    results = []
    for size in args.sizes:
        r = _child(size, args, keep if size == args.sizes[-1] else None)
        if r is None:
            return 1
        print_size(r)
        results.append(r)
    if len(results) > 1:
        print_growth(results[0], results[-1])
    print_extrapolation(results)
    if keep is not None:
        print(f"kept in {keep}: lexicon-{args.sizes[-1]}.jsonl (with .report.jsonl, .meta.json) and the lexicon report")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
