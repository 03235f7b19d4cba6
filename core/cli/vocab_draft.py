"""``python -m core vocab draft``: a vocabulary of many lexicon symbols drafted without hand-written
sentences (``core.authoring.many``), one spec a line in ``--out VOCAB.jsonl``.

Which symbols: ``--ids 16228,29111,…``, ``--ids-file FILE`` (IDs separated by commas, spaces or
lines) or ``--lexicon multi-token|single-token|all`` (glosses measured with the loaded model's
tokenizer), narrowed by ``--pos`` and ``--limit``. The file grows symbol by symbol; ``--resume``
continues a killed run where it stopped (``core.authoring.many_store``). Everything typed is
checked before a model loads; bad input exits 2 and changes no file. Progress (with the time
left) goes to stderr; the report, or one JSON object with ``--json``, to stdout.

``--backend ray`` (or ``--ray-address``) drafts each batch of symbols as a Ray task
(``core.authoring.many_members``; ``--ray-cpus``, ``--ray-gpus`` per task), as many at once as Ray
has room for; this process writes their records in order, so the files, ``--resume`` and the report
are those of a run here. Ray is joined (and its settings checked) before a model loads.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
from pathlib import Path

from core.cli.common import Progress, add_common_arguments, emit_json, load_base, say
from core.execution import BackendConfig
from core.quiet import quiet
from core.spec import settings
from core.spec.errors import InputError, fail


def register(actions: argparse._SubParsersAction) -> None:
    """Add ``draft`` to ``vocab``'s actions."""
    from core.authoring.draft import DraftConfig
    from core.authoring.many import KINDS, NOT_SCREENING, ManyConfig

    p = actions.add_parser(
        "draft", help="draft a vocabulary of lexicon symbols: sentences written by a model, the lexicon's "
                      "explanations and templates, screened and split per symbol",
        description="Draft one gloss spec per Bliss symbol without hand-written sentences: the writer model "
                    "writes sentences that use each gloss, the lexicon's explanation and the part of speech's "
                    "templates add more, other symbols' sentences and generic text give negatives; every context is "
                    "screened on the model and each symbol's material split with the seed. The JSONL file grows "
                    "symbol by symbol; --resume continues a stopped run.")
    who = p.add_argument_group("which symbols (one of --ids, --ids-file, --lexicon)")
    which = who.add_mutually_exclusive_group(required=True)
    which.add_argument("--ids", default=None, metavar="ID,ID,…", help="BCI-AV IDs, e.g. 16228,29111")
    which.add_argument("--ids-file", default=None, metavar="FILE", help="a text file of BCI-AV IDs")
    which.add_argument("--lexicon", default=None, choices=KINDS,
                       help="every lexicon symbol whose glosses are all several tokens (multi-token), that has a "
                            "one-token gloss (single-token), or all of them, for the loaded model's tokenizer")
    who.add_argument("--pos", default=None, metavar="KIND", help="only this part of speech (noun, action, person, "
                                                                 "description, expression, function)")
    who.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N symbols")
    p.add_argument("--writer", default=None, metavar="MODEL",
                   help="the model that writes the sentences (default: the loaded model); a hub id or folder")
    p.add_argument("--resume", action="store_true", help="continue the run that wrote --out (same settings)")
    p.add_argument("--out", required=True, metavar="VOCAB.jsonl", help="the vocabulary file to write (one spec a line)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_common_arguments(p)
    settings.add_arguments(p.add_argument_group("drafting many symbols"), ManyConfig)
    settings.add_arguments(p.add_argument_group("screening each symbol"), DraftConfig, skip=NOT_SCREENING)
    group = p.add_argument_group("where the batches are drafted (see 'Running on Ray')")
    for name in BackendConfig.FOR_DRAFTING:
        settings.add_argument(group, name, settings.settings_of(BackendConfig)[name])
    p.set_defaults(handler=run_vocab_draft)


def _ids(args) -> list[str] | None:
    from core.authoring.many import parse_ids

    if args.ids is not None:
        return parse_ids(args.ids)
    if args.ids_file is None:
        return None
    path = Path(args.ids_file)
    if not path.is_file():
        raise fail("--ids-file", f"{str(path)!r} does not exist or is not a file", "give a text file of BCI-AV IDs")
    try:
        ids = parse_ids(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise fail("--ids-file", f"{path.name} is not UTF-8 text", "save it as text, one ID a line") from None
    if not ids:
        raise fail("--ids-file", f"{path.name} is empty", "write BCI-AV IDs in it, one a line")
    return ids


def _model_name(name: str | None, field: str) -> str:
    from core.model.loading import check_model

    try:
        return check_model(name)["name"]
    except InputError as exc:
        p = exc.problems[0]
        raise fail(field, p.problem, f"{p.fix}" + ("; or leave --writer out to write with the loaded model"
                                                    if field == "--writer" else "")) from None


def _header(args, ids, many, screening) -> dict:
    from core.authoring.many_store import header

    return header(_model_name(args.model, "--model"),
                  _model_name(args.writer, "--writer") if args.writer else "the loaded model", args.seed, many,
                  screening, {"ids": ids, "lexicon": args.lexicon, "pos": args.pos, "limit": args.limit})


def run_vocab_draft(args: argparse.Namespace) -> int:
    from core.authoring import many
    from core.authoring.draft import DraftConfig
    from core.authoring.lexicon import load_lexicon
    from core.authoring.many_store import Store, drive
    from core.runs.draft_jobs import check_drafted

    # Everything typed is checked before a model loads, and nothing is written on bad input.
    many_config = settings.from_args(many.ManyConfig, args)
    screening = settings.from_args(DraftConfig, args, seed=args.seed, generate=0)
    where = settings.from_args(BackendConfig, args)
    ids = _ids(args)
    lexicon = load_lexicon()
    many.check_request(lexicon, ids, args.lexicon, args.pos, args.limit)
    store = Store(args.out)
    header = _header(args, ids, many_config, screening)
    store.check(header, args.resume)
    progress = Progress({"drafting": ("symbol", "symbols")}, enabled=not args.no_progress)
    try:
        backend = _connect(where)  # an unreachable cluster or one too small is refused here
        base = load_base(args.model, progress)
        writer = base if not args.writer else _load_writer(args.writer, progress)
        selection = many.select(lexicon, base.tokenizer, ids=ids, kind=args.lexicon, pos=args.pos, limit=args.limit)
        for x in selection.unknown:
            say(f"warning: no symbol of the lexicon has the BCI-AV ID {x!r}: left out")
        store.start(header, args.resume)
        with tempfile.TemporaryDirectory(prefix="glosslab-draft-") as scratch, quiet():
            batches = _draft_batches(args, backend, base, writer, selection, many_config, screening, Path(scratch))
            result = drive(selection, many_config, store, on_event=progress, draft_batches=batches)
    finally:
        progress.close()
        if where.backend == "ray":  # the local Ray instance this command started, if any
            from core.execution.ray_tasks import shutdown

            shutdown()
    result["where"] = backend.where if backend is not None else "this process"
    result["check"] = check_drafted(store.path, base.tokenizer) if result["drafted"] else None
    if args.json:
        emit_json(args, result)
    else:
        args.stdout.write(format_report(result))
    return 0


def _connect(where: BackendConfig):
    """The Ray backend, joined and checked (None: batches drafted in this process)."""
    from core.execution import MEMBERS, backend_for

    return backend_for(where, MEMBERS).connect() if where.backend == "ray" else None


def _draft_batches(args, backend, base, writer, selection, many_config, screening, scratch: Path):
    """``drive``'s ``draft_batches``: here one after another, or each batch a member of ``backend``."""
    from core.authoring import many
    from core.authoring.many_members import DraftWork, on_backend
    from core.authoring.many_store import one_by_one

    if backend is None:
        return one_by_one(functools.partial(
            many.draft_batch, glosses=selection.glosses, model=base.model, tokenizer=base.tokenizer,
            draft_config=screening, config=many_config, seed=args.seed, writer=writer.model,
            writer_tokenizer=writer.tokenizer, model_name=base.name))
    from core.execution.processes import base_folder

    folder = base_folder(writer, scratch) if args.writer else None  # workers load the writer from here
    work = DraftWork(selection.glosses, screening, many_config, args.seed, base.name, folder)
    return on_backend(backend, base, work)


def _load_writer(name: str, progress: Progress):
    try:
        return load_base(name, progress)
    except InputError as exc:
        p = exc.problems[0]
        raise fail("--writer", p.problem, f"{p.fix}; or leave --writer out to write with the loaded model") from None


def format_report(data: dict) -> str:
    """Counts, time per symbol, then every symbol not drafted with its reason."""
    lines = [f"Drafted {data['drafted']} of {data['symbols']} symbols into {data['out']}",
             f"Report: {data['report']}; header: {data['meta']}"]
    if data.get("where"):
        lines.append(f"Drafted in: {data['where']}")
    if data["seconds_per_symbol"] is not None:
        lines.append(f"This run: {data['handled_now']} symbols in {data['seconds']:.1f} s "
                     f"({data['seconds_per_symbol']:.2f} s per symbol)")
    if data["unknown_ids"]:
        lines.append("Not in the lexicon: " + ", ".join(data["unknown_ids"]))
    check = data.get("check")
    if check is not None:
        lines.append("Loads as a vocabulary: yes" if check["passed"] else
                     "Does not load as a vocabulary yet: " + "; ".join(check["problems"][:3]))
    if data["not_drafted"]:
        lines.append(f"Not drafted ({len(data['not_drafted'])}):")
        lines += [f"  {r['symbol_id']} ({r['gloss']}): {r['reason']}" for r in data["not_drafted"]]
    return "\n".join(lines) + "\n"
