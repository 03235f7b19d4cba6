"""Command line: ``python -m core <command> …``.

Commands register themselves: each is a function ``register(subparsers)`` that adds its parser
and sets ``handler=<function(args) -> exit status>``. ``init`` lives here; modules named in
``OPTIONAL_COMMANDS`` (``core.cli_train``: ``finetune`` and ``compare``) are imported only when
they are installed, found with ``importlib.util.find_spec`` so that a missing module is simply
absent while an error inside a present one is never hidden.

Exit status: 0 done; 2 bad input (argparse errors, and every ``InputError``: the message names the
field and the fix, never a traceback); 1 an unexpected internal error (one line; the traceback
with ``--debug``); 130 interrupted. With ``--json`` stdout holds exactly one JSON object (the
result, or ``{"error", "problems"}``) and everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import sys
import traceback
from typing import Callable

from core import limits
from core.errors import InputError, fail

OPTIONAL_COMMANDS = ("core.cli_train", "core.cli_runs")
Registrar = Callable[[argparse._SubParsersAction], None]


# -- shared by every command ----------------------------------------------------------------------

def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --json, --seed and --debug, the same for every command."""
    parser.add_argument("--model", default=None, metavar="NAME_OR_PATH",
                        help="Hugging Face id or local folder (default: the embedded SmolLM2-135M-Instruct; "
                             "'tiny-random' is a tiny random model for quick checks)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout instead of the readable report")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")


def say(message: str) -> None:
    """A status line for the person at the terminal: always stderr, so stdout stays clean."""
    print(message, file=sys.stderr, flush=True)


def emit_json(args: argparse.Namespace, data: dict) -> None:
    """Write the command's one JSON object to the real stdout (``allow_nan=False``: strict JSON)."""
    from core.pipeline import jsonable

    args.stdout.write(json.dumps(jsonable(data), ensure_ascii=False, allow_nan=False) + "\n")
    args.stdout.flush()


class Progress:
    """An ``on_event`` callback: a status line per stage, a tqdm bar on stderr for counted stages.

    ``bars`` maps a stage to the (done, total) keys of its events, e.g. ``{"optimize": ("epoch",
    "epochs")}``; other commands pass their own (``{"train": ("step", "max_steps")}``).
    """

    def __init__(self, bars: dict[str, tuple[str, str]] | None = None, enabled: bool = True):
        self.bars = bars if bars is not None else {"optimize": ("epoch", "epochs")}
        self.enabled = enabled
        self._bar = None
        self._bar_stage = None
        self._stage = None

    def __call__(self, event: dict) -> None:
        if not self.enabled:
            return
        stage = event.get("stage")
        if stage in self.bars:
            done_key, total_key = self.bars[stage]
            if self._bar is None or self._bar_stage != stage:
                self.close()
                from tqdm import tqdm

                self._bar = tqdm(total=event.get(total_key), desc=stage, unit=done_key, file=sys.stderr,
                                 dynamic_ncols=True, leave=True)
                self._bar_stage = stage
            self._bar.update(max(0, int(event.get(done_key) or 0) - self._bar.n))
            losses = {k: f"{v:.4f}" for k, v in event.items() if k.endswith("loss") and isinstance(v, float)}
            self._bar.set_postfix(losses)
            return
        self.close()
        if stage != self._stage and event.get("message"):
            say(event["message"])
        self._stage = stage

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._bar_stage = None


def load_base(name: str | None, progress: Progress):
    """The base model, with a status line while it loads (InputError for a bad name or folder)."""
    from core.models import load_model

    return load_model(name, progress=lambda message: progress({"stage": "load", "message": message}))


# -- init -----------------------------------------------------------------------------------------

def register_init(subparsers: argparse._SubParsersAction) -> None:
    from core.strategies import STRATEGIES

    p = subparsers.add_parser(
        "init", help="add a symbol's token with one strategy's rows and evaluate it before fine-tuning",
        description="Add the spec's new token to the model, initialize its input row with STRATEGY and "
                    "its output row by least squares, then rank the testing contexts and generate text.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="strategies:\n" + "\n".join(f"  {s.name:<14}{s.label}" for s in STRATEGIES.values()))
    p.add_argument("spec", metavar="SPEC.json", help="a gloss spec, e.g. data/wool_shop.json")
    p.add_argument("--strategy", default="average", choices=list(STRATEGIES), metavar="NAME",
                   help="input-embedding strategy (default: average; see the list below)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="save the model with its token here (safetensors + tokenizer)")
    add_common_arguments(p)
    p.add_argument("--opt-epochs", type=int, default=None, metavar="N", help="optimized strategy: epochs (default 30)")
    p.add_argument("--opt-lr", type=float, default=None, metavar="X",
                   help="optimized strategy: learning rate (default 0.01)")
    p.add_argument("--opt-init", choices=("average", "random"), default=None,
                   help="optimized strategy: starting vector (default average)")
    p.add_argument("--random-scale", choices=("matched", "unit"), default=None,
                   help="random strategies: noise matched to the embedding matrix (default) or unit variance")
    p.add_argument("--max-new-tokens", type=int, default=None, metavar="N",
                   help="tokens generated per prompt (default 24)")
    p.set_defaults(handler=run_init)


def init_config(args: argparse.Namespace):
    """The InitConfig for these arguments (unset options keep the config's defaults)."""
    from core.strategies import InitConfig

    given = {"strategy": args.strategy, "seed": args.seed, "opt_epochs": args.opt_epochs, "opt_lr": args.opt_lr,
             "opt_init": args.opt_init, "random_scale": args.random_scale}
    return InitConfig(**{k: v for k, v in given.items() if v is not None})


def run_init(args: argparse.Namespace) -> int:
    from core.evaluate import DEFAULT_MAX_NEW_TOKENS
    from core.pipeline import initialize
    from core.save import check_out_dir, save_model_folder
    from core.spec import GlossSpec

    # Everything a user typed is checked before the model loads.
    spec = GlossSpec.load(args.spec)
    config = init_config(args)
    max_new = DEFAULT_MAX_NEW_TOKENS if args.max_new_tokens is None else args.max_new_tokens
    lo, hi = limits.GENERATION_MAX_NEW_TOKENS
    if not lo <= max_new <= hi:
        raise fail("max_new_tokens", f"{max_new} is outside {lo} to {hi}", f"give e.g. {DEFAULT_MAX_NEW_TOKENS}")
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


# -- parser and entry point -----------------------------------------------------------------------

def registrars() -> list[Registrar]:
    """``register`` functions of every available command: init, then any optional module present."""
    found: list[Registrar] = [register_init]
    for name in OPTIONAL_COMMANDS:
        if importlib.util.find_spec(name) is not None:
            found.append(importlib.import_module(name).register)
    return found


class ArgumentParser(argparse.ArgumentParser):
    """argparse with usage errors in the same 'field: problem — fix' shape as every other error."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        field = message.split(":", 1)[0].removeprefix("argument ") if message.startswith("argument ") else "arguments"
        problem = message.split(":", 1)[1].strip() if message.startswith("argument ") else message
        hint = " (a negative number is written --lr=-0.1)" if "expected one argument" in problem else ""
        self.exit(2, f"{self.prog}: error: {field}: {problem} — see `{self.prog} --help` for the options{hint}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m core",
                                     description="Gloss Lab engine: a new token for a Bliss symbol, from its gloss.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in registrars():
        register(subparsers)
    return parser


def _report_input_error(exc: InputError, args: argparse.Namespace | None) -> None:
    say("error: the input needs fixing:")
    for problem in exc.problems:
        say(f"  {problem}")
    if args is not None and getattr(args, "json", False):
        emit_json(args, exc.to_dict())


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 after printing the usage error, 0 after --help
        return exc.code if isinstance(exc.code, int) else 0
    args.stdout = sys.stdout
    try:
        # With --json, anything a library prints goes to stderr; only emit_json writes to stdout.
        redirect = contextlib.redirect_stdout(sys.stderr) if getattr(args, "json", False) else contextlib.nullcontext()
        with redirect:
            return int(args.handler(args) or 0)
    except InputError as exc:
        _report_input_error(exc, args)
        return 2
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place that turns any failure into a message
        debug = getattr(args, "debug", False)
        if debug:
            traceback.print_exc()
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        hint = "" if debug else " (run again with --debug to see where)"
        say(f"error: internal error: {type(exc).__name__}: {first_line}{hint}")
        return 1
