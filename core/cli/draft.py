"""``python -m core draft``: a gloss spec drafted from sentences, negatives, a corpus or the model,
screened on the loaded model and split with a seed; the report lists every kept and dropped item
with its target ranks (one JSON object with ``--json``). Nothing is written on bad input."""

from __future__ import annotations

import argparse

from core.cli.common import Progress, add_common_arguments, emit_json, load_base, say
from core.spec import settings
from core.spec.errors import Collector, InputError, fail


def register(subparsers: argparse._SubParsersAction) -> None:
    from core.authoring.draft import DraftConfig

    p = subparsers.add_parser(
        "draft", help="draft a gloss spec from sentences that use the gloss, screened on the model",
        description="Cut sentences that use a gloss into positive contexts and token sentences, screen every "
                    "context on the model (a target within rank N for positives, every target beyond M for "
                    "negatives), split the kept material with a seed, and write the spec.")
    who = p.add_argument_group("the symbol (--bliss, or --gloss with --token)")
    who.add_argument("--bliss", default=None, metavar="ID", help="a BCI-AV ID of the Bliss lexicon, e.g. 16228")
    who.add_argument("--gloss", action="append", default=None, metavar="TEXT",
                     help="a gloss (repeat for synonyms), instead of --bliss")
    who.add_argument("--token", default=None, metavar="NAME", help="the new token, e.g. [BLISS_29111]")
    who.add_argument("--target", action="append", default=None, metavar="WORD",
                     help="a target token (repeat); default: each gloss's first word when it is one token")
    who.add_argument("--pos", default=None, metavar="KIND",
                     help="part of speech for the prompts with --gloss (noun, person, action, description)")
    src = p.add_argument_group("material (files hold one sentence a line)")
    src.add_argument("--sentences", default=None, metavar="FILE", help="sentences that use the gloss")
    src.add_argument("--negatives", default=None, metavar="FILE",
                     help="negative contexts, or full sentences (cut at a word boundary)")
    src.add_argument("--corpus", default=None, metavar="PATH",
                     help="a text file or a datasets dataset (folder or id) mined for sentences with a gloss")
    src.add_argument("--keep", default=None, metavar="FILE", help="dropped items to keep anyway, one a line")
    src.add_argument("--chat-prompt", action="store_true",
                     help="print the requests to paste into a chat assistant, and stop")
    p.add_argument("--out", default=None, metavar="SPEC.json", help="where to write the spec")
    add_common_arguments(p)
    settings.add_arguments(p.add_argument_group("drafting"), DraftConfig, skip=("seed", "keep"))
    p.set_defaults(handler=run_draft)


def _symbol(args):
    """The lexicon's symbol for --bliss; None for --gloss (checked to come with --token)."""
    if args.bliss and args.gloss:
        raise fail("--gloss", "was given with --bliss", "give either --bliss ID or --gloss with --token")
    if args.bliss:
        from core.authoring.lexicon import load_lexicon

        return load_lexicon().symbol(args.bliss)
    if not args.gloss:
        raise fail("--bliss", "no symbol was given", "give --bliss ID, or --gloss \"wool shop\" --token \"[BLISS_29111]\"")
    if not args.token:
        raise fail("--token", "is missing", "name the new token, e.g. --token \"[BLISS_29111]\"")
    return None


def material_from_args(args, tokenizer=None):
    """The ``Material`` these arguments describe (files read, the lexicon consulted; target tokens
    proposed for ``tokenizer`` when one is given, else left to the draft)."""
    from core.authoring.draft import Material, material_for_symbol
    from core.authoring.sources import read_lines

    c = Collector()
    if not args.sentences and not args.corpus and not args.generate:
        c.add("--sentences", "no material was given", "give --sentences FILE, --corpus PATH or --generate N")
    c.raise_if_any()
    symbol = _symbol(args)
    sentences = read_lines(args.sentences, "--sentences") if args.sentences else []
    negatives = read_lines(args.negatives, "--negatives") if args.negatives else []
    if symbol is not None:
        m = material_for_symbol(symbol, tokenizer)
        m.sentences, m.negatives, m.corpus = sentences, negatives, args.corpus or ""
        m.token = args.token or m.token
        m.targets = args.target or m.targets
        return m
    return Material(glosses=args.gloss, token=args.token, pos=args.pos or "noun", targets=args.target,
                    sentences=sentences, negatives=negatives, corpus=args.corpus or "")


def run_draft(args: argparse.Namespace) -> int:
    from pathlib import Path

    from core.authoring.draft import DraftConfig, draft
    from core.authoring.sources import chat_prompt, read_lines

    # Everything a user typed is checked before the model loads.
    keep = read_lines(args.keep, "--keep", allow_empty=True) if args.keep else []
    config = settings.from_args(DraftConfig, args, seed=args.seed, keep=keep)
    if args.chat_prompt:
        from core.authoring.draft import material_for_symbol

        symbol = _symbol(args)
        m = material_for_symbol(symbol) if symbol is not None else None
        prompts = chat_prompt(m.glosses, m.pos, meaning=m.meaning) if m else chat_prompt(args.gloss, args.pos)
        if args.json:
            emit_json(args, {"chat_prompt": prompts})
        else:
            args.stdout.write(f"Positive sentences:\n{prompts['positive']}\n\nNegative sentences:\n{prompts['negative']}\n")
        return 0
    if not args.out:
        raise fail("--out", "is missing", "give the file to write the spec to, e.g. --out spec.json")
    out = Path(args.out)
    if out.exists() and out.is_dir() or not out.parent.is_dir():
        raise fail("--out", f"{str(out)!r} is a folder or its folder does not exist", "give a file path in an existing folder")
    material_from_args(args)  # the files and the symbol, checked before the model loads
    if args.corpus:
        from core.authoring.sources import check_corpus

        check_corpus(args.corpus, config.corpus_column)
    progress = Progress()
    try:
        base = load_base(args.model, progress)
        material = material_from_args(args, base.tokenizer)
        result = draft(material, config, base.model, base.tokenizer, base.name, on_event=progress)
    except InputError as exc:
        # A draft with too little material carries every item: show them, so that --keep can be used.
        if exc.details.get("items") and not args.json:
            say(format_items(exc.details["items"]).rstrip("\n"))
        raise
    finally:
        progress.close()
    result.spec.save(out)
    data = result.to_dict() | {"saved_to": str(out)}
    if args.json:
        emit_json(args, data)
    else:
        args.stdout.write(format_report(data))
    return 0


def format_report(data: dict) -> str:
    """What ``draft`` prints without --json: counts, the sets, then every dropped item with its reason."""
    c = data["counts"]
    pos = c["positive"]
    lengthened = f" ({pos['lengthened']} lengthened with the sentence before)" if pos.get("lengthened") else ""
    lines = [f"Drafted {data['spec']['new_token']} ({', '.join(data['spec']['glosses'])}) on {data['model']}",
             f"Positive contexts: {pos['kept']} kept{lengthened}, {pos['dropped']} dropped of {pos['given']}",
             f"Sentences with the token: {pos.get('sentences_used', 0)} of {pos['given']} in fine-tuning or validation "
             "(whatever their context; those of testing contexts are held out)",
             f"Negatives: {c['negative']['kept']} kept, {c['negative']['dropped']} dropped of {c['negative']['given']}",
             "Sets: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c["sets"].items()), ""]
    if data["dropped"]:
        lines.append(format_items(data["dropped"]))
    lines.append(f"Wrote {data['saved_to']}")
    return "\n".join(lines) + "\n"


def format_items(items: list[dict]) -> str:
    """The dropped items, one a line, with the targets' ranks and where a dropped context's sentence went."""
    lines = ["Dropped (ranks of the targets as the next token):"]
    for it in items:
        if it["status"] != "dropped":
            continue
        ranks = ", ".join(f"{w} {r}" for w, r in it["ranks"].items()) or "not screened"
        used = f"; its sentence is in {it['sentence_set'].replace('_', ' ')}" if it.get("sentence_set") else ""
        lines.append(f"  [{it['kind']}] {it['context'] or it['text']!r}: {it['reason']} ({ranks}){used}")
    return "\n".join(lines) + "\n"
