"""``python -m core runs``: list, show, delete, export and resume stored runs from the command line.

The same run store the app uses (``--runs DIR``, default $GLOSSLAB_RUNS or ./runs). Listing reads
every run as it is on disk, so a run whose process was killed shows up as ``interrupted``;
``runs resume RUN`` continues it in its own folder (``core.runs.resume``).
"""

from __future__ import annotations

import argparse
import json

from core.cli.common import emit_json, say
from core.spec.errors import fail


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("runs", help="list, show, delete, export or resume stored runs",
                              description="Past runs in the run store, as they are on disk. 'resume' continues "
                                          "an interrupted run (its process was killed): a vocabulary's "
                                          "fine-tuning from its last checkpoint, a comparison with the members "
                                          "that had not finished.")
    p.add_argument("action", choices=("list", "show", "delete", "export", "resume"), help="what to do")
    p.add_argument("run_id", nargs="?", default=None, help="the run (for show, delete, export and resume)")
    p.add_argument("--runs", default=None, metavar="DIR", help="run store folder (default $GLOSSLAB_RUNS or ./runs)")
    p.add_argument("--member", default=None, help="export: which strategy of a comparison (e.g. average-seed0)")
    p.add_argument("--out", default=None, metavar="DIR", help="export: the folder to write")
    p.add_argument("--merged", action="store_true", help="export: merge into a full-precision model folder")
    p.add_argument("--no-progress", action="store_true", help="resume: no progress bars")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.runs.store import RunStore

    store = RunStore(args.runs) if args.runs else RunStore()
    if args.action == "list":
        rows = store.list()
        if args.json:
            emit_json(args, {"root": str(store.root), "runs": rows})
        else:
            say(f"{len(rows)} run(s) in {store.root}")
            for row in rows:
                print(f"{row['run_id']:<40} {row.get('status', '?'):<12} {row.get('title') or ''}")
        return 0
    if not args.run_id:
        raise fail("run_id", f"'runs {args.action}' needs a run id", "copy one from `python -m core runs list`")
    if args.action == "show":
        data = store.open(args.run_id)
        if args.json:
            emit_json(args, data)
        else:
            print(json.dumps({k: data[k] for k in ("status", "config", "result")}, indent=2, ensure_ascii=False,
                             default=str))
        return 0
    if args.action == "resume":
        return resume(args, store)
    if args.action == "delete":
        store.delete(args.run_id)
        say(f"deleted {args.run_id}")
        return 0
    from core.runs.export import export_adapter, export_merged, usage

    if not args.out:
        raise fail("out", "export needs a destination folder", "add --out DIR")
    member = args.member
    adapters = store.adapters(args.run_id)
    if member is None and "" not in adapters:
        raise fail("member", "this run has no adapter of its own" + (f"; its members: {', '.join(adapters)}"
                   if adapters else ""), "give --member NAME" if adapters else "choose a finished run")
    source = store.adapter_path(args.run_id, member)
    if member is not None and member not in adapters:
        raise fail("member", f"run {args.run_id!r} has no member {member!r}",
                   ("choose one of: " + ", ".join(a for a in adapters if a)) if any(adapters)
                   else "choose a run that finished or was stopped after its first step")
    if not (source / "adapter_config.json").is_file():
        raise fail("run_id", f"run {args.run_id!r} has no saved adapter" + (f" for {member!r}" if member else ""),
                   "choose a run that finished or was stopped after its first step")
    out = export_merged(source, args.out) if args.merged else export_adapter(source, args.out)
    if args.json:
        emit_json(args, {"path": str(out), "merged": args.merged, "usage": usage(out, args.merged)})
    else:
        say(f"exported to {out}\n{usage(out, args.merged)}")
    return 0


def resume(args: argparse.Namespace, store) -> int:
    """Check the run (no model needed), load the model it was made with, resume it, report as the
    command that started it would."""
    from core.cli.common import Progress, load_base
    from core.cli.train import finish_comparison, run_job
    from core.cli.vocab import report_vocab
    from core.runs.resume import check_resume, resume_run

    plan = check_resume(store, args.run_id)
    if plan.kind == "vocab":
        say(f"Resuming {args.run_id} from the checkpoint of step {plan.checkpoint['step']}")
    else:
        say(f"Resuming {args.run_id}: {len(plan.members_done)} of {plan.members_total} members had finished")
    progress = Progress(enabled=not args.no_progress)
    base = load_base(plan.model, progress)
    progress.close()
    try:
        status, result, run_id, _ = run_job(args, lambda runner: resume_run(runner.store, runner, args.run_id, base))
    finally:
        if (store.config(args.run_id) or {}).get("backend") == "ray":
            from core.execution.ray_tasks import shutdown

            shutdown()
    if plan.kind == "vocab":
        return report_vocab(args, status, result, run_id)
    return finish_comparison(args, status, result, run_id)
