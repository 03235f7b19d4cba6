"""What every command shares: common arguments, status lines on stderr, the one JSON object on
stdout, progress bars, and loading the base model with a status line."""

from __future__ import annotations

import argparse
import json
import sys

from core.spec import settings

# -- shared by every command ----------------------------------------------------------------------

def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --json, --seed, --max-new-tokens and --debug, the same for every command."""
    parser.add_argument("--model", default=None, metavar="NAME_OR_PATH",
                        help="Hugging Face id or local folder (default: the embedded SmolLM2-135M-Instruct; "
                             "'tiny-random' is a tiny random model for quick checks)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout instead of the readable report")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default %(default)s)")
    settings.add_argument(parser, "max_new_tokens", settings.MAX_NEW_TOKENS)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")


def say(message: str) -> None:
    """A status line for the person at the terminal: always stderr, so stdout stays clean."""
    print(message, file=sys.stderr, flush=True)


def emit_json(args: argparse.Namespace, data: dict) -> None:
    """Write the command's one JSON object to the real stdout (``allow_nan=False``: strict JSON)."""
    from core.jsonsafe import jsonable

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
    from core.model.loading import load_model

    return load_model(name, progress=lambda message: progress({"stage": "load", "message": message}))


