"""``python -m core finetune`` and ``python -m core compare``: QLoRA runs from the command line.

Both run as jobs of a ``JobRunner`` with a ``RunStore`` (``--runs DIR``, default $GLOSSLAB_RUNS or
./runs), exactly as the web app does: the run folder holds spec, config, events, result and
adapter(s). Progress bars on stderr follow the job's events. Ctrl-C asks the job to stop at its
next optimizer step; what it had is kept and reported.

``register(subparsers)`` adds both commands (see ``core.cli.main``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.cli.common import Progress, add_common_arguments, emit_json, load_base, say
from core.embedding.strategies import InitConfig
from core.execution import BackendConfig
from core.experiment.analysis import results
from core.report import tables
from core.experiment.single.compare import CompareConfig
from core.spec import settings
from core.spec.errors import fail
from core.spec.settings import check_max_new_tokens
from core.train.finetune import FinetuneConfig

# The columns every row of --json carries first (the readable summary prints the wide ones).
ROW_KEYS = ("strategy", *results.numeric_keys())


def add_finetune_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("fine-tuning (defaults: the research's configuration)")
    settings.add_arguments(g, FinetuneConfig, skip=("seed",))
    p.add_argument("--runs", default=None, metavar="DIR", help="run store folder (default $GLOSSLAB_RUNS or ./runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_init_options(p: argparse.ArgumentParser, skip: tuple[str, ...] = ("seed", "strategy")) -> None:
    """The initialization settings besides the strategy (set per member in a comparison) and the seed."""
    settings.add_arguments(p.add_argument_group("initialization"), InitConfig, skip=skip)


def finetune_config(args: argparse.Namespace, seed: int | None = None) -> FinetuneConfig:
    return settings.from_args(FinetuneConfig, args, **({} if seed is None else {"seed": seed}))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "finetune", help="initialize the token with one strategy, fine-tune with QLoRA, evaluate before and after",
        description="Add the spec's token with STRATEGY's rows, fine-tune the model with QLoRA (4-bit NF4 base, "
                    "LoRA on the attention, the token's two rows trainable), and evaluate before and after. "
                    "The run (spec, config, events, result, adapter) is stored under --runs.")
    p.add_argument("spec", metavar="SPEC.json", help="a gloss spec, e.g. data/wool_shop.json")
    settings.add_argument(p, "strategy", settings.settings_of(InitConfig)["strategy"])
    add_common_arguments(p)
    add_init_options(p)
    add_finetune_options(p)
    p.set_defaults(handler=run_finetune)

    p = subparsers.add_parser(
        "compare", help="fine-tune several strategies × seeds (× symbols) from the same base and judge them",
        description="Run every strategy (default: the research's five) for each seed from a fresh copy of the "
                    "base model, with the same spec and hyperparameters; print the verdict and the research's "
                    "table with objective quality numbers. Several specs (or 'builtin': every built-in spec) "
                    "are compared together: each symbol is one data point, and the strategies are ranked "
                    "across symbols. Each member's adapter is stored with the run under --runs.")
    p.add_argument("spec", metavar="SPEC", nargs="+",
                   help="gloss spec files (e.g. data/wool_shop.json), or 'builtin' for every built-in spec")
    add_compare_options(p)
    p.add_argument("--out", default=None, metavar="DIR",
                   help="also write comparison.json, comparison.md, report.html and report.md here")
    add_common_arguments(p)
    add_init_options(p)
    add_finetune_options(p)
    p.set_defaults(handler=run_compare)


def add_compare_options(p: argparse.ArgumentParser) -> None:
    """A comparison's own flags and where its members run (``--workers``, ``--backend``, ``--ray-…``)."""
    for name in ("strategies", "seeds", "leak_rank"):
        settings.add_argument(p, name, settings.settings_of(CompareConfig)[name])
    for name in BackendConfig.FOR_MEMBERS:
        settings.add_argument(p, name, settings.settings_of(BackendConfig)[name])


class _EventProgress:
    """Job events → the shared ``Progress`` (a bar per training, one line per phase)."""

    def __init__(self, enabled: bool) -> None:
        self.progress = Progress({"train": ("step", "max_steps"), "optimize": ("epoch", "epochs")}, enabled)

    def __call__(self, event: dict) -> None:
        kind = event.get("type")
        who = f"{event['strategy']} s{event['seed']}: " if "strategy" in event else ""
        if kind == "step":
            self.progress({"stage": "train", **{k: event.get(k) for k in ("step", "max_steps", "loss", "eval_loss")}})
        elif kind == "init_epoch":
            self.progress({"stage": "optimize", **event})
        elif kind in ("phase", "member") and event.get("message"):
            self.progress({"stage": f"{kind}:{event.get('phase') or event.get('status')}",
                           "message": who + event["message"] if kind == "phase" else event["message"]})

    def close(self) -> None:
        self.progress.close()


def run_job(args: argparse.Namespace, submit) -> tuple[dict, dict | None, str, Path]:
    """Submit through a runner with a store, follow its events, stop it on Ctrl-C.

    Returns (status, result, run id, run folder)."""
    from core.runs.jobs import JobRunner
    from core.runs.store import RunStore

    store = RunStore(args.runs) if args.runs else RunStore()
    runner = JobRunner(store)
    ticket = submit(runner)
    say(f"Run {ticket.job_id} in {store.root}")
    watcher = _EventProgress(enabled=not args.no_progress)
    runner.subscribe(ticket.job_id, watcher)
    interrupted = False
    try:
        try:
            status = runner.wait(ticket.job_id)
        except KeyboardInterrupt:
            interrupted = True
            watcher.close()
            say("Stopping after the current optimizer step (what was trained is kept)…")
            runner.stop(ticket.job_id)
            status = runner.wait(ticket.job_id)
    finally:
        watcher.close()
        runner.shutdown()
    status["interrupted"] = interrupted
    return status, runner.result(ticket.job_id), ticket.job_id, store.path(ticket.job_id)


def finish_run(args, status: dict, result: dict | None, run_id: str, rows: list[dict], extra: dict) -> int:
    if status["status"] == "failed":
        say(f"error: the run failed: {status.get('error')}")
        if args.json:
            emit_json(args, {"run_id": run_id, "status": "failed", "error": status.get("error"), "rows": []})
        return 1
    data = {"run_id": run_id, "status": status["status"], "rows": rows, **extra}
    if args.json:
        emit_json(args, data)
    else:
        if extra.get("markdown") and rows:
            args.stdout.write(extra["markdown"].rstrip("\n") + "\n")
        else:
            args.stdout.write(tables.markdown_table(rows) if rows else "No strategy finished.\n")
        for key, value in extra.items():
            if isinstance(value, str) and key != "markdown":
                args.stdout.write(f"{key.replace('_', ' ')}: {value}\n")
        args.stdout.write(f"run: {run_id} ({status['status']})\n")
    return 130 if status.get("interrupted") else 0


def run_finetune(args: argparse.Namespace) -> int:
    from core.runs.submit import submit_finetune
    from core.spec.gloss import GlossSpec

    spec = GlossSpec.load(args.spec)
    init_config = settings.from_args(InitConfig, args, seed=args.seed)
    config = finetune_config(args, seed=args.seed)
    config.check_data(len(spec.fine_tuning_sentences), len(spec.validation_sentences))
    max_new = check_max_new_tokens(args.max_new_tokens)
    progress = Progress(enabled=not args.no_progress)
    base = load_base(args.model, progress)
    progress.close()
    status, result, run_id, folder = run_job(
        args, lambda runner: submit_finetune(runner, spec, base, init_config, config, max_new))
    rows = [table_row(result["row"])] if result and result.get("row") else []
    extra = {}
    if result:
        ft = result["finetune"]
        extra = {"steps": ft["steps"], "best_step": ft["best_step"], "initial_eval_loss": ft["initial_eval_loss"],
                 "adapter": str(folder / "adapter")}
    return finish_run(args, status, result, run_id, rows, extra)


def table_row(row: dict) -> dict:
    """A table row with the required keys first (and everything else the run measured)."""
    return {**{k: row.get(k) for k in ROW_KEYS}, **row}


def load_specs(names: list[str], config: CompareConfig) -> list:
    """Spec files, or 'builtin' (every built-in spec), checked for a comparison with ``config``;
    every problem at once, each file's named with its file."""
    from core.experiment.single.compare import check_symbols
    from core.spec.errors import InputError, Problem
    from core.spec.gloss import GlossSpec, builtin_examples

    paths: list[Path] = []
    for name in names:
        paths += list(builtin_examples().values()) if name == "builtin" else [Path(name)]
    specs, problems = [], []
    for path in paths:
        try:
            specs.append(GlossSpec.load(path))
        except InputError as exc:
            problems += exc.problems if len(paths) == 1 else \
                [Problem(f"{path.name} {p.field}", p.problem, p.fix) for p in exc.problems]
    try:
        check_symbols(specs, config)
    except InputError as exc:
        problems += exc.problems
    if problems:
        raise InputError(problems)
    return specs


def run_compare(args: argparse.Namespace) -> int:
    from core.runs.submit import submit_comparison

    config = settings.from_args(CompareConfig, args, finetune=finetune_config(args),
                                init=settings.from_args(InitConfig, args, seed=args.seed))
    where = settings.from_args(BackendConfig, args)
    specs = load_specs(args.spec, config)
    out = check_out(args.out) if args.out else None
    progress = Progress(enabled=not args.no_progress)
    base = load_base(args.model, progress)
    progress.close()
    spec = specs if len(specs) > 1 else specs[0]
    try:
        status, result, run_id, _ = run_job(args, lambda runner: submit_comparison(runner, spec, base, config,
                                                                                    where))
    finally:
        if where.backend == "ray":
            from core.execution.ray_tasks import shutdown

            shutdown()
    return finish_comparison(args, status, result, run_id, out)


def finish_comparison(args: argparse.Namespace, status: dict, result: dict | None, run_id: str,
                      out: Path | None = None) -> int:
    """What ``compare`` and ``vocab compare`` print (and write to ``--out``) once the run ended."""
    rows = [table_row(r) for r in (result or {}).get("rows", [])]
    extra: dict = {}
    if result:
        extra = {"seconds": result["seconds"], "verdict": result["verdict"], "markdown": result["markdown"],
                 "workers": result["config"].get("workers_used"), "where": result["config"].get("where")}
        if result.get("failed"):
            extra["failed"] = "; ".join(f"{f['strategy']} (seed {f['seed']}): {f['reason']}" for f in result["failed"])
        if result.get("symbols"):
            extra["symbols"] = [{"spec": s["spec"], "verdict": s["verdict"], "rows": [table_row(r) for r in s["rows"]]}
                                for s in result["symbols"]]
        if out is not None:
            extra["saved_to"] = write_outputs(out, result)
    return finish_run(args, status, result, run_id, rows, extra)


def write_outputs(out: Path, result: dict) -> str:
    """comparison.json, comparison.md, report.html and report.md of a comparison's result, in ``out``."""
    from core.atomic import write_text
    from core.report import document as report

    write_text(out / "comparison.json", json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    write_text(out / "comparison.md", result["markdown"])
    write_text(out / "report.html", report.report_html(result))
    write_text(out / "report.md", report.report_markdown(result))
    return str(out)


def check_out(path: str) -> Path:
    out = Path(path).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise fail("out", f"{str(out)!r} is a file", "give a folder for comparison.json and comparison.md")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise fail("out", f"cannot create {str(out)!r} ({exc.strerror})", "choose a folder you can write to") from None
    return out
