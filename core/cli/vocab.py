"""``python -m core vocab init|finetune|compare VOCAB``: many symbols initialized (and fine-tuned) together
(and ``vocab draft``, which writes such a vocabulary from the lexicon: ``core.cli.vocab_draft``).

VOCAB is a folder of spec files, a JSONL file (one spec per line), a folder saved by
``datasets.Dataset.save_to_disk``, or ``builtin`` (every built-in spec). The vocabulary is checked
as a whole before the model loads (and against the model's tokenizer before anything is written):
any problem, named by symbol and field, exits with status 2. Both actions run as a job with a run
store (kind ``vocab``, listed by ``python -m core runs list``); ``finetune`` stores one adapter
with every token (``runs export`` exports it, merged or not) and, while it trains, a checkpoint
every ``--checkpoint-steps`` steps or ``--checkpoint-minutes`` minutes, from which
``python -m core runs resume RUN`` continues a run that was killed. ``compare`` runs every strategy ×
seed over the whole vocabulary, each symbol judged as a comparison is and the strategies ranked
across symbols (``core.experiment.vocabulary.compare``); its output is that of ``compare`` over
several symbols, ``--out DIR`` included, and its members run where ``compare``'s do (``--workers``,
``--backend``, ``--ray-…``). ``finetune --backend ray`` fine-tunes data-parallel on Ray Train.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.cli.common import Progress, add_common_arguments, emit_json, load_base
from core.embedding.strategies import InitConfig
from core.execution import BackendConfig
from core.report import lexicon
from core.spec import settings
from core.train.checkpoint import CheckpointConfig
from core.train.finetune import FinetuneConfig


def _add_vocab_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("vocab", metavar="VOCAB", help="a folder of spec files, a JSONL file (one spec per line), "
                                                  "a saved datasets folder, or 'builtin'")
    p.add_argument("--contrast", action="store_true",
                   help="add other symbols' positive contexts to each symbol's negatives (output rows): up to "
                        "--contrast-negatives of them, drawn with the seed")
    p.add_argument("--runs", default=None, metavar="DIR", help="run store folder (default $GLOSSLAB_RUNS or ./runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="also write the lexicon report here: lexicon.md, lexicon.html (with a histogram of the "
                        "tokens' ranks) and symbols.csv (every symbol)")
    add_common_arguments(p)
    settings.add_arguments(p.add_argument_group("initialization"), InitConfig, skip=("seed",))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "vocab", help="initialize (and fine-tune) many symbols together: a vocabulary",
        description="Add every symbol of a vocabulary to one model: output rows by least squares from one pass "
                    "over all contexts, input rows by STRATEGY, all tokens in one resize; evaluate each symbol "
                    "and the confusion between symbols; with 'finetune', one QLoRA run trains every token.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="initialize every symbol together and evaluate (no training)")
    _add_vocab_arguments(init)
    init.set_defaults(handler=run_vocab)
    ft = actions.add_parser("finetune", help="initialize, then fine-tune every token in one QLoRA run, evaluate "
                                             "before and after")
    _add_vocab_arguments(ft)
    settings.add_arguments(ft.add_argument_group("fine-tuning (defaults: the research's configuration)"),
                           FinetuneConfig, skip=("seed",))
    settings.add_arguments(ft.add_argument_group("checkpoints (`runs resume RUN` continues a killed run from "
                                                 "the last one)"), CheckpointConfig)
    group = ft.add_argument_group("data-parallel on Ray Train (see 'Running on Ray')")
    for name in BackendConfig.FOR_TRAINING:
        settings.add_argument(group, name, settings.settings_of(BackendConfig)[name])
    ft.set_defaults(handler=run_vocab)
    cmp = actions.add_parser("compare", help="compare strategies × seeds, every token fine-tuned together in each "
                                             "run; a verdict per symbol and across symbols")
    cmp.add_argument("vocab", metavar="VOCAB", help="a folder of spec files, a JSONL file (one spec per line), "
                                                    "a saved datasets folder, or 'builtin'")
    cmp.add_argument("--contrast", action="store_true",
                     help="add other symbols' positive contexts to each symbol's negatives (output rows): up to "
                        "--contrast-negatives of them, drawn with the seed")
    cmp.add_argument("--out", default=None, metavar="DIR",
                     help="also write comparison.json, comparison.md, report.html and report.md here")
    from core.cli.train import add_compare_options, add_finetune_options, add_init_options

    add_compare_options(cmp)
    add_common_arguments(cmp)
    add_init_options(cmp)
    add_finetune_options(cmp)
    cmp.set_defaults(handler=run_vocab_compare)
    from core.cli import vocab_draft

    vocab_draft.register(actions)


def run_vocab(args: argparse.Namespace) -> int:
    from core.cli.train import check_out, run_job
    from core.experiment.vocabulary.load import load_vocabulary
    from core.runs.vocab_jobs import submit_vocab
    from core.spec.settings import check_max_new_tokens

    # Everything typed is checked before the model loads; the tokenizer's checks run before the run
    # folder is created (submit_vocab), so a bad vocabulary writes nothing.
    vocab = load_vocabulary(args.vocab)
    init_config = settings.from_args(InitConfig, args, seed=args.seed)
    config = settings.from_args(FinetuneConfig, args, seed=args.seed) if args.action == "finetune" else None
    max_new = check_max_new_tokens(args.max_new_tokens)
    where = settings.from_args(BackendConfig, args) if args.action == "finetune" else BackendConfig()
    checkpoint = settings.from_args(CheckpointConfig, args) if args.action == "finetune" else None
    out = check_out(args.out) if args.out else None
    progress = Progress(enabled=not args.no_progress)
    base = load_base(args.model, progress)
    progress.close()
    try:
        status, result, run_id, folder = run_job(args, lambda runner: submit_vocab(
            runner, vocab, base, init_config, config, args.contrast, max_new, where, checkpoint))
    finally:
        if where.backend == "ray":
            from core.execution.ray_tasks import shutdown

            shutdown()
    return report_vocab(args, status, result, run_id, out)


def report_vocab(args: argparse.Namespace, status: dict, result: dict | None, run_id: str,
                 out: Path | None = None) -> int:
    """Print a finished vocabulary run (JSON or the readable report; ``out``: also write the lexicon
    report's files there); the exit status."""
    if status["status"] == "failed":
        from core.cli.common import say

        say(f"error: the run failed: {status.get('error')}")
        if args.json:
            emit_json(args, {"run_id": run_id, "status": "failed", "error": status.get("error"), "symbols": []})
        return 1
    data = summary(result or {}, run_id, status["status"])
    rows = lexicon.lexicon_rows(result or {})
    data["lexicon"] = lexicon.lexicon_summary(rows)
    if out is not None:
        write_lexicon(out, result or {}, rows)
        data["saved_to"] = str(out)
    if args.json:
        emit_json(args, data)
    else:
        args.stdout.write(format_report(result or {}, run_id, status["status"], data["lexicon"]))
    return 130 if status.get("interrupted") else 0


def write_lexicon(out: Path, result: dict, rows: list[dict]) -> None:
    """The lexicon report's files (each written atomically)."""
    from core.atomic import write_text

    write_text(out / "lexicon.md", lexicon.lexicon_markdown(result, rows))
    write_text(out / "lexicon.html", lexicon.lexicon_html(result, rows))
    write_text(out / "symbols.csv", lexicon.lexicon_csv(rows))


def run_vocab_compare(args: argparse.Namespace) -> int:
    from core.cli.train import check_out, finetune_config, finish_comparison, run_job
    from core.experiment.single.compare import CompareConfig
    from core.experiment.vocabulary.load import load_vocabulary
    from core.runs.vocab_jobs import submit_vocab_comparison

    vocab = load_vocabulary(args.vocab)
    config = settings.from_args(CompareConfig, args, finetune=finetune_config(args),
                                init=settings.from_args(InitConfig, args, seed=args.seed))
    where = settings.from_args(BackendConfig, args)
    out = check_out(args.out) if args.out else None
    progress = Progress(enabled=not args.no_progress)
    base = load_base(args.model, progress)
    progress.close()
    try:
        status, result, run_id, _ = run_job(args, lambda runner: submit_vocab_comparison(
            runner, vocab, base, config, args.contrast, where))
    finally:
        if where.backend == "ray":
            from core.execution.ray_tasks import shutdown

            shutdown()
    return finish_comparison(args, status, result, run_id, out)


_IDENTITY = ("token", "token_id", "symbol_id", "gloss", "output_fit_residual", "ranks")


def summary(result: dict, run_id: str, status: str) -> dict:
    """The command's JSON: per symbol who it is, its ranks and its row of the results schema (read as
    a comparison reads it), the confusion matrices, and the training's numbers (the whole result
    stays in the run store: ``runs show RUN``)."""
    from core.experiment.analysis import results

    ft = result.get("finetune")
    symbols = result.get("symbols", [])
    rows = [results.row_of(r) for r in results.vocabulary_records(result)]
    return {
        "run_id": run_id, "status": status, "kind": "vocab", "model": result.get("model"),
        "strategy": result.get("strategy"), "contrast": result.get("contrast"),
        "symbols": [{**{k: s.get(k) for k in _IDENTITY}, **row} for s, row in zip(symbols, rows)],
        "confusion_before": result.get("confusion_before"), "confusion_after": result.get("confusion_after"),
        "confusion_summary_before": result.get("confusion_summary_before"),
        "confusion_summary_after": result.get("confusion_summary_after"),
        "finetune": {k: v for k, v in ft.items() if k != "history"} if ft else None,
        "adapter": result.get("adapter"), "seconds": result.get("seconds"), "timings": result.get("timings"),
    }


def _rank(value) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _confusion_lines(confusion: dict, phase: str) -> list[str]:
    """The confusion matrix as a table: every symbol of a small vocabulary, the most confused of a large one."""
    from core.experiment.vocabulary.confusion import dense

    shown = confusion["shown"]
    many = len(shown) < len(confusion["tokens"])
    out = [f"Confusion {phase} fine-tuning: median rank of each token (rows) on each symbol's testing-positive "
           f"contexts (columns)" + (f"; the {len(shown)} most confused of {len(confusion['tokens'])} symbols, "
                                    f"– where a rank is not among the {confusion['top_k']} closest" if many else "")]
    matrix = dense(confusion)
    out.append("  " + " | ".join(["token"] + [confusion["symbols"][j] for j in shown]))
    for i in shown:
        out.append("  " + " | ".join([confusion["tokens"][i]] + [_rank(matrix[i][j]) for j in shown]))
    return out


def format_report(result: dict, run_id: str, status: str, summary: dict | None = None) -> str:
    """The readable report: the symbols' table from the results schema (``tables.vocabulary_table``),
    the numbers their training shares, each confusion matrix as a table, then the lexicon report's
    shares and worst symbols (``summary``: ``core.report.lexicon.lexicon_summary``)."""
    from core.report import tables

    symbols = result.get("symbols") or []
    out = [f"Vocabulary of {len(symbols)} symbols on {result.get('model')}: strategy {result.get('strategy')}"
           + (", contrast" if result.get("contrast") else ""), ""]
    table = tables.vocabulary_table(result)
    out.append(tables.markdown_grid(table["headers"], table["data"]).rstrip("\n"))
    if table["shared"]:
        out += ["", "Every symbol together: " + "; ".join(f"{name} {value}" for name, value in table["shared"])]
    for phase in ("before", "after"):
        confusion = result.get(f"confusion_{phase}")
        if not confusion:
            continue
        out.append("")
        out += _confusion_lines(confusion, phase)
        s = result.get(f"confusion_summary_{phase}") or {}
        out.append(f"  own token best on {s.get('own_token_best')} of {s.get('symbols')} symbols; median own rank "
                   f"{_rank(s.get('median_own_rank'))}; lowest rank of a token on another symbol "
                   f"{_rank(s.get('lowest_other_rank'))}")
    if summary is not None:
        out += ["", *lexicon.summary_lines(summary)]
        out += [f"  {w['token']} ({w['gloss']}): {'; '.join(w['reasons'])}" for w in summary["worst"][:5]]
    if result.get("adapter"):
        out.append(f"Adapter (every token): {result['adapter']}")
    out.append(f"run: {run_id} ({status}) in {result.get('seconds') or 0:.1f} s")
    return "\n".join(out) + "\n"
