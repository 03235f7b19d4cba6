"""Command line: ``python -m core <command> …``.

Each command module has ``register(subparsers)``, which adds its parser and sets
``handler=<function(args) -> exit status>``: ``core.cli.init`` (init), ``core.cli.train``
(finetune, compare), ``core.cli.runs`` (runs list|show|delete|export) and ``core.cli.settings``
(settings), ``core.cli.lexicon`` (lexicon show|search|stats), ``core.cli.draft`` (draft), ``core.cli.vocab`` (vocab init|finetune|compare, and vocab draft from
``core.cli.vocab_draft``). ``COMMANDS`` lists them in the order
``--help`` shows them.

Exit status: 0 done; 2 bad input (argparse errors, and every ``InputError``: the message names the
field and the fix, never a traceback); 1 an unexpected internal error (one line; the traceback
with ``--debug``); 130 interrupted. With ``--json`` stdout holds exactly one JSON object (the
result, or ``{"error", "problems"}``) and everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback

from core.cli import draft, init, lexicon, runs, settings, train, vocab
from core.cli.common import emit_json, say
from core.spec.errors import InputError

COMMANDS = (init, train, vocab, runs, lexicon, draft, settings)


# -- parser and entry point -----------------------------------------------------------------------

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
    for command in COMMANDS:
        command.register(subparsers)
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
