"""``python -m core vocab init|finetune|compare VOCAB``: many symbols initialized (and fine-tuned) together
(and ``vocab draft``, which writes such a vocabulary from the lexicon: ``core.cli.vocab_draft``).

VOCAB is a folder of spec files, a JSONL file (one spec per line), a folder saved by
``datasets.Dataset.save_to_disk``, or ``builtin`` (every built-in spec). The vocabulary is checked
as a whole before the model loads (and against the model's tokenizer before anything is written):
any problem, named by symbol and field, exits with status 2. Both actions run as a job with a run
store (kind ``vocab``, listed by ``python -m core runs list``); ``finetune`` stores one adapter
with every token (``runs export`` exports it, merged or not). ``compare`` runs every strategy ×
seed over the whole vocabulary, each symbol judged as a comparison is and the strategies ranked
across symbols (``core.experiment.vocab_compare``); its output is that of ``compare`` over
several symbols, ``--out DIR`` included.
"""

from __future__ import annotations

import argparse

from core.cli.common import Progress, add_common_arguments, emit_json, load_base
from core.embedding.strategies import InitConfig
from core.runs.ray_train import DataParallelConfig
from core.spec import settings
from core.train.finetune import FinetuneConfig


def _add_vocab_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("vocab", metavar="VOCAB", help="a folder of spec files, a JSONL file (one spec per line), "
                                                  "a saved datasets folder, or 'builtin'")
    p.add_argument("--contrast", action="store_true",
                   help="add the other symbols' positive contexts to each symbol's negatives (output rows)")
    p.add_argument("--runs", default=None, metavar="DIR", help="run store folder (default $GLOSSLAB_RUNS or ./runs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
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
    settings.add_arguments(ft.add_argument_group("data-parallel on Ray Train (see 'Running on Ray')"),
                           DataParallelConfig)
    ft.set_defaults(handler=run_vocab)
    cmp = actions.add_parser("compare", help="compare strategies × seeds, every token fine-tuned together in each "
                                             "run; a verdict per symbol and across symbols")
    cmp.add_argument("vocab", metavar="VOCAB", help="a folder of spec files, a JSONL file (one spec per line), "
                                                    "a saved datasets folder, or 'builtin'")
    cmp.add_argument("--contrast", action="store_true",
                     help="add the other symbols' positive contexts to each symbol's negatives (output rows)")
    cmp.add_argument("--out", default=None, metavar="DIR",
                     help="also write comparison.json, comparison.md, report.html and report.md here")
    from core.cli.train import _add_finetune_options, _add_init_options
    from core.experiment.compare import CompareConfig

    for name in ("strategies", "seeds", "leak_rank"):
        settings.add_argument(cmp, name, settings.settings_of(CompareConfig)[name])
    add_common_arguments(cmp)
    _add_init_options(cmp)
    _add_finetune_options(cmp)
    cmp.set_defaults(handler=run_vocab_compare)
    from core.cli import vocab_draft

    vocab_draft.register(actions)


def run_vocab(args: argparse.Namespace) -> int:
    from core.cli.train import _run_job
    from core.experiment.vocabulary import load_vocabulary
    from core.runs.vocab_jobs import submit_vocab
    from core.spec.settings import check_max_new_tokens

    # Everything typed is checked before the model loads; the tokenizer's checks run before the run
    # folder is created (submit_vocab), so a bad vocabulary writes nothing.
    vocab = load_vocabulary(args.vocab)
    init_config = settings.from_args(InitConfig, args, seed=args.seed)
    config = settings.from_args(FinetuneConfig, args, seed=args.seed) if args.action == "finetune" else None
    max_new = check_max_new_tokens(args.max_new_tokens)
    parallel = settings.from_args(DataParallelConfig, args) if args.action == "finetune" else None
    progress = Progress(enabled=not args.no_progress)
    base = load_base(args.model, progress)
    progress.close()
    if parallel is not None and parallel.backend == "ray":
        from core.runs.backends import shutdown
        from core.runs.ray_train import submit_vocab_ray

        try:
            status, result, run_id, folder = _run_job(args, lambda runner: submit_vocab_ray(
                runner, vocab, base, init_config, config, parallel, args.contrast, max_new))
        finally:
            shutdown()
    else:
        status, result, run_id, folder = _run_job(
            args, lambda runner: submit_vocab(runner, vocab, base, init_config, config, args.contrast, max_new))
    if status["status"] == "failed":
        from core.cli.common import say

        say(f"error: the run failed: {status.get('error')}")
        if args.json:
            emit_json(args, {"run_id": run_id, "status": "failed", "error": status.get("error"), "symbols": []})
        return 1
    data = summary(result or {}, run_id, status["status"])
    if args.json:
        emit_json(args, data)
    else:
        args.stdout.write(format_report(data))
    return 130 if status.get("interrupted") else 0


def run_vocab_compare(args: argparse.Namespace) -> int:
    from core.cli.train import _check_out, _finetune_config, _finish, _row, _run_job, write_outputs
    from core.experiment.compare import CompareConfig
    from core.experiment.vocabulary import load_vocabulary
    from core.runs.vocab_jobs import submit_vocab_comparison

    vocab = load_vocabulary(args.vocab)
    config = settings.from_args(CompareConfig, args, finetune=_finetune_config(args),
                                init=settings.from_args(InitConfig, args, seed=args.seed), workers=1)
    out = _check_out(args.out) if args.out else None
    progress = Progress(enabled=not args.no_progress)
    base = load_base(args.model, progress)
    progress.close()
    status, result, run_id, _ = _run_job(args, lambda runner: submit_vocab_comparison(
        runner, vocab, base, config, args.contrast))
    rows = [_row(r) for r in (result or {}).get("rows", [])]
    extra: dict = {}
    if result:
        extra = {"seconds": result["seconds"], "verdict": result["verdict"], "markdown": result["markdown"],
                 "symbols": [{"spec": s["spec"], "verdict": s["verdict"], "rows": [_row(r) for r in s["rows"]]}
                             for s in result.get("symbols", [])]}
        if out is not None:
            extra["saved_to"] = write_outputs(out, result)
    return _finish(args, status, result, run_id, rows, extra)


_SYMBOL_KEYS = ("token", "token_id", "symbol_id", "gloss", "output_fit_residual", "quality_before", "quality_after",
                "ranks", "eval_loss_at_best", "cos_input_before_after", "cos_output_before_after")


def summary(result: dict, run_id: str, status: str) -> dict:
    """The command's JSON: per symbol its ranks and quality before → after, the confusion matrices,
    and the training's numbers (the whole result stays in the run store: ``runs show RUN``)."""
    ft = result.get("finetune")
    return {
        "run_id": run_id, "status": status, "kind": "vocab", "model": result.get("model"),
        "strategy": result.get("strategy"), "contrast": result.get("contrast"),
        "symbols": [{k: s.get(k) for k in _SYMBOL_KEYS} for s in result.get("symbols", [])],
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


def _num(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _arrow(before, after, fmt) -> str:
    return fmt(before) if after is None and before is not None else f"{fmt(before)} → {fmt(after)}"


def format_report(data: dict) -> str:
    """The readable report: one line per symbol, then the confusion matrix as a table."""
    out = [f"Vocabulary of {len(data['symbols'])} symbols on {data.get('model')}: strategy {data.get('strategy')}"
           + (", contrast" if data.get("contrast") else "")]
    trained = data.get("finetune") is not None
    out.append("token  gloss  MRR positive  median rank positive  median rank negative"
               + ("  eval loss at best" if trained else ""))
    for s in data["symbols"]:
        qb, qa = s["quality_before"] or {}, s["quality_after"]
        qa = (qa or {}) if trained else None

        def pair(key, fmt):
            return _arrow(qb.get(key), None if qa is None else qa.get(key), fmt)

        line = (f"{s['token']}  {s['gloss']}  {pair('mrr_positive', _num)}  {pair('median_rank_positive', _rank)}  "
                f"{pair('median_rank_negative', _rank)}")
        out.append(line + (f"  {_num(s.get('eval_loss_at_best'), 4)}" if trained else ""))
    for phase in ("before", "after"):
        confusion = data.get(f"confusion_{phase}")
        if not confusion:
            continue
        out.append("")
        out.append(f"Confusion {phase} fine-tuning: median rank of each token (rows) on each symbol's "
                   f"testing-positive contexts (columns)")
        out.append("  " + " | ".join(["token"] + confusion["symbols"]))
        for token, row in zip(confusion["tokens"], confusion["median_rank"]):
            out.append("  " + " | ".join([token] + [_rank(v) for v in row]))
        s = data.get(f"confusion_summary_{phase}") or {}
        out.append(f"  own token best on {s.get('own_token_best')} of {s.get('symbols')} symbols; median own rank "
                   f"{_rank(s.get('median_own_rank'))}; lowest rank of a token on another symbol "
                   f"{_rank(s.get('lowest_other_rank'))}")
    ft = data.get("finetune")
    if ft:
        out.append("")
        out.append(f"Fine-tuning: {ft['steps']} steps, best step {ft['best_step']} (epoch {ft['best_epoch']}), "
                   f"validation loss {_num(ft['initial_eval_loss'], 4)} → {_num(ft['best_eval_loss'], 4)}")
    if data.get("adapter"):
        out.append(f"Adapter (every token): {data['adapter']}")
    out.append(f"run: {data['run_id']} ({data['status']}) in {data.get('seconds') or 0:.1f} s")
    return "\n".join(out) + "\n"
