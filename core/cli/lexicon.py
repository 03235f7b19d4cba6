"""``python -m core lexicon show|search|stats``: the open Bliss lexicon from the command line."""

from __future__ import annotations

import argparse

from core.cli.common import Progress, emit_json, load_base, say


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "lexicon", help="look up Bliss symbols by BCI-AV ID or words, and count single-token glosses",
        description="The open Bliss lexicon shipped in data/bliss (6,420 symbols, CC BY-SA 4.0).")
    sub = p.add_subparsers(dest="lexicon_command", required=True, metavar="ACTION")

    def common(q: argparse.ArgumentParser, model_help: str | None = None) -> None:
        q.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        q.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
        if model_help:
            q.add_argument("--model", default=None, metavar="NAME_OR_PATH", help=model_help)

    show = sub.add_parser("show", help="one symbol: glosses, token name, notes, composition",
                          description="One symbol by its BCI-AV ID, e.g. 16228.")
    show.add_argument("bliss_id", metavar="ID", help="the symbol's BCI-AV ID, e.g. 16228")
    common(show, "also propose target tokens for this model's tokenizer (default: none; "
                 "'default' is the embedded SmolLM2-135M-Instruct)")
    show.set_defaults(handler=run_show)

    search = sub.add_parser("search", help="symbols whose glosses match some words, best first",
                            description="Search the glosses (then the explanations) for WORDS.")
    search.add_argument("words", nargs="+", metavar="WORDS", help="words of a gloss, e.g. post office")
    search.add_argument("--limit", type=int, default=20, metavar="N", help="matches to show (default %(default)s)")
    common(search)
    search.set_defaults(handler=run_search)

    stats = sub.add_parser("stats", help="how many symbols have a single-token gloss for a tokenizer",
                           description="Count, per symbol, whether some gloss (with a leading space) is a "
                                       "single token of the model's tokenizer, or every gloss is several.")
    common(stats, "Hugging Face id or local folder (default: the embedded SmolLM2-135M-Instruct)")
    stats.set_defaults(handler=run_stats)


def _tokenizer(name: str | None, json_mode: bool):
    progress = Progress(enabled=not json_mode)
    try:
        base = load_base(name, progress)
    finally:
        progress.close()
    return base.name, base.tokenizer


def run_show(args: argparse.Namespace) -> int:
    from core.authoring.lexicon import load_lexicon, proposed_targets

    lexicon = load_lexicon()
    symbol = lexicon.symbol(args.bliss_id)
    data = symbol.to_dict()
    data["parts"] = [{"bci_av_id": p.bci_av_id, "gloss": p.raw_gloss} for p in lexicon.parts(symbol)]
    if args.model:
        data["model"], tokenizer = _tokenizer(args.model, args.json)
        data["targets"], data["without_target"] = proposed_targets(symbol, tokenizer)
    if args.json:
        emit_json(args, data)
        return 0
    out = [f"{symbol.bci_av_id}  {symbol.raw_gloss}  {symbol.token_name}",
           f"  glosses:        {' | '.join(symbol.glosses)}",
           f"  part of speech: {symbol.pos}{' (a character)' if symbol.is_character else ''}",
           f"  explanation:    {symbol.explanation or '–'}"]
    if symbol.qualifiers:
        out.append(f"  qualifiers:     {'; '.join(symbol.qualifiers)}")
    if symbol.markers:
        out.append(f"  markers:        {', '.join(symbol.markers)}")
    if data["parts"]:
        out.append("  composed of:    " + " + ".join(f"{p['gloss']} ({p['bci_av_id'] or 'no ID'})" for p in data["parts"]))
    if args.model:
        out.append(f"  targets for {data['model']}: {', '.join(data['targets']) or 'none'}")
        if data["without_target"]:
            out.append(f"  no single-token first word: {', '.join(data['without_target'])}")
    out.append(f"  notes:          {symbol.notes()}")
    args.stdout.write("\n".join(out) + "\n")
    return 0


def run_search(args: argparse.Namespace) -> int:
    from core.authoring.lexicon import load_lexicon

    words = " ".join(args.words)
    hits = load_lexicon().search(words, limit=args.limit)
    rows = [{"bci_av_id": s.bci_av_id, "score": score, "gloss": s.raw_gloss, "pos": s.pos,
             "token_name": s.token_name} for s, score in hits]
    if args.json:
        emit_json(args, {"words": words, "matches": rows})
        return 0
    if not rows:
        say(f"no symbol's gloss or explanation matches {words!r}; try fewer or shorter words")
        return 0
    width = max(len(str(r["bci_av_id"])) for r in rows)
    lines = [f"{r['bci_av_id']:>{width}}  {r['score']:.3f}  {r['gloss']}  ({r['pos']})" for r in rows]
    args.stdout.write("\n".join(lines) + "\n")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from core.authoring.lexicon import load_lexicon, stats

    lexicon = load_lexicon()
    name, tokenizer = _tokenizer(args.model, args.json)
    data = {"model": name, **stats(lexicon, tokenizer)}
    if args.json:
        emit_json(args, data)
        return 0
    args.stdout.write(format_stats(data))
    return 0


def format_stats(d: dict) -> str:
    return "\n".join([
        f"The Bliss lexicon for {d['model']}'s tokenizer (each gloss with a leading space):",
        f"  symbols:                          {d['symbols']:,} ({d['with_bci_av_id']:,} with a BCI-AV ID)",
        f"  with a single-token gloss:        {d['single_token_gloss']:,}",
        f"  with only multi-token glosses:    {d['only_multi_token_glosses']:,}",
        f"  with no gloss:                    {d['no_gloss']:,}",
        f"  glosses:                          {d['glosses']:,} ({d['single_token_glosses']:,} single-token, "
        f"{d['multi_token_glosses']:,} multi-token)",
        f"  with a proposed target word:      {d['with_target']:,} (none: {d['without_target']:,})",
    ]) + "\n"
