"""``python -m core init``: add a symbol's token with one strategy's rows and evaluate it, with a
readable report (or one JSON object with ``--json``)."""

from __future__ import annotations

import argparse

from core.cli.common import Progress, add_common_arguments, emit_json, load_base, say
from core.embedding.strategies import STRATEGIES, InitConfig
from core.spec import settings
from core.spec.settings import check_max_new_tokens

# -- init -----------------------------------------------------------------------------------------

def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "init", help="add a symbol's token with one strategy's rows and evaluate it before fine-tuning",
        description="Add the spec's new token to the model, initialize its input row with STRATEGY and "
                    "its output row by least squares, then rank the testing contexts and generate text.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="strategies:\n" + "\n".join(f"  {s.name:<14}{s.label}" for s in STRATEGIES.values()))
    p.add_argument("spec", metavar="SPEC.json", help="a gloss spec, e.g. data/wool_shop.json")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="save the model with its token here (safetensors + tokenizer)")
    add_common_arguments(p)
    settings.add_arguments(p.add_argument_group("initialization"), InitConfig, skip=("seed",))
    p.set_defaults(handler=run_init)


def init_config(args: argparse.Namespace) -> InitConfig:
    """The InitConfig for these arguments (unset options keep the config's defaults)."""
    return settings.from_args(InitConfig, args, seed=args.seed)


def warn_spec(spec) -> None:
    """What the spec holds but probably does not mean, as warning lines on stderr (it still runs)."""
    from core.spec.gloss import spec_warnings

    for warning in spec_warnings(spec):
        say(f"warning: {warning}")


def run_init(args: argparse.Namespace) -> int:
    from core.experiment.single.pipeline import initialize
    from core.model.save import check_out_dir, save_model_folder
    from core.spec.gloss import GlossSpec

    # Everything a user typed is checked before the model loads.
    spec = GlossSpec.load(args.spec)
    warn_spec(spec)
    config = init_config(args)
    max_new = check_max_new_tokens(args.max_new_tokens)
    if args.out:
        check_out_dir(args.out)

    progress = Progress()
    try:
        base = load_base(args.model, progress)
        result = initialize(spec, config, base, on_event=progress, max_new_tokens=max_new)
    finally:
        progress.close()
    data = result.to_dict()
    data["saved_to"] = None
    if args.out:
        say(f"Saving the model to {args.out}")
        meta = {k: data[k] for k in ("strategy", "token", "token_id", "model", "spec", "config")}
        data["saved_to"] = str(save_model_folder(result.model, result.tokenizer, args.out, metadata=meta))
    if args.json:
        emit_json(args, data)
    else:
        args.stdout.write(format_init_report(data))
    return 0


# -- the readable report -------------------------------------------------------------------------

def _num(value, digits: int = 4) -> str:
    """A measured number: floats with fixed decimals, whole numbers with thousands separators."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}"


def _rank(value) -> str:
    """A rank or a median of ranks: 3, 1,204 or 47.5."""
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _one_line(text: str) -> str:
    return " ⏎ ".join(part.strip() for part in text.splitlines() if part.strip())


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """Aligned text columns; columns in ``right`` are right-aligned (numbers)."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return [line(header)] + [line(r) for r in rows]


def _details_text(details: dict) -> str:
    """The strategy's details on one line: scalars as they are, the loss history as a count."""
    parts = []
    for key, value in details.items():
        if key in ("strategy", "seconds", "input_norm", "output_norm"):
            continue
        if isinstance(value, dict):
            parts.append(f"{key}: " + ", ".join(f"{k} {_num(v) if isinstance(v, (int, float)) else v}"
                                                for k, v in value.items() if not isinstance(v, (list, dict))))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{key.replace('_', ' ')} {_num(value)}")
        elif isinstance(value, (str, bool)):
            parts.append(f"{key.replace('_', ' ')} {value}")
    return "; ".join(parts)


def format_init_report(data: dict) -> str:
    """What ``init`` prints without --json: the fit, the rank table, nearest tokens, generations."""
    out: list[str] = []
    add = out.append
    add(f"{data.get('spec') or data['token']} on {data.get('model') or 'the model'}")
    add(f"Strategy: {data['strategy']} — {data.get('strategy_label', data['strategy'])}")
    add(f"New token: {data['token']} (id {data['token_id']}); input row norm {_num(data.get('input_norm'))}, "
        f"output row norm {_num(data.get('output_norm'))}, cosine between them {_num(data.get('input_output_cosine'))}")
    fit = data.get("output_fit")
    if fit:
        add(f"Output row: least squares over {fit['n_positive']} positive and {fit['n_negative']} negative contexts; "
            f"fit residual (RMS) {_num(fit['residual'])}, largest error {_num(fit['max_abs_error'])}")
    else:
        add("Output row: random (nothing calculated)")
    details = _details_text(data.get("details") or {})
    if details:
        add(f"Details: {details}")

    testing = data.get("testing") or []
    if testing:
        targets = list(testing[0]["rank_targets"])
        add("")
        add(f"Ranks on the testing contexts (1 = top of all {_rank(data.get('candidates'))} next-token candidates)")
        header = ["kind", "new token"] + targets + ["context", "top 5"]
        rows = [[r["kind"], _rank(r["rank_new_token"])] + [_rank(r["rank_targets"][t]) for t in targets]
                + [r["context"], " ".join(repr(t["token"]) for t in r["top5"])] for r in testing]
        out.extend("  " + line for line in _table(header, rows, right=set(range(1, 2 + len(targets)))))
        q = data.get("quality") or {}
        add(f"Quality: mean reciprocal rank on positive contexts {_num(q.get('mrr_positive'))}; median rank "
            f"positive {_rank(q.get('median_rank_positive'))}, negative {_rank(q.get('median_rank_negative'))}; "
            f"generation similarity (token vs gloss) {_num(q.get('generation_similarity'))}")
        h = data.get("hidden_mse")
        if h:
            add(f"Hidden-state MSE, held out (token vs gloss, last layer; 0 = read alike): {_num(h['combined'])} "
                f"(held-out snippets {_num(h['snippets'])} over {h['snippet_positions']} positions, testing-positive "
                f"contexts {_num(h['contexts'])} over {h['context_pairs']} pairs)")

    cosines = data.get("cosines") or {}
    if cosines:
        names = list(cosines)
        add("")
        add("Cosine similarity of the strategies' input vectors")
        rows = [[a] + [_num(cosines[a][b], 3) for b in names] for a in names]
        out.extend("  " + line for line in _table([""] + names, rows, right=set(range(1, len(names) + 1))))

    nearest = data.get("nearest") or {}
    if nearest:
        add("")
        add("Nearest vocabulary tokens (cosine)")
        for side in ("input", "output"):
            items = ", ".join(f"{n['token']!r} {n['cosine']:.3f}" for n in nearest.get(side, []))
            add(f"  {side + ' row:':<12}{items}")

    gens = data.get("generations") or []
    if gens:
        add("")
        add("Generations (greedy), with the gloss and with the token")
        for g in gens:
            add(f"  {g['prompt']}")
            # One line each, so the two stay side by side: line breaks are shown as ⏎.
            add(f"    gloss: {_one_line(g['with_gloss'])}")
            add(f"    token: {_one_line(g['with_token'])}")
    add("")
    tail = f"Done in {data.get('seconds', 0):.1f} s."
    if data.get("saved_to"):
        tail += f" Saved the model to {data['saved_to']}"
    add(tail)
    return "\n".join(out) + "\n"


