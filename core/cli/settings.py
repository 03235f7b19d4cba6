"""``python -m core settings``: every setting and every reported number, as the README shows them.

The tables are generated from the declarations (``core.spec.settings`` fields of ``InitConfig``,
``FinetuneConfig``, ``CompareConfig``, ``BackendConfig``, ``DraftConfig``, ``ManyConfig`` and
``CheckpointConfig``; ``core.experiment.analysis.results.METRICS``), so the README's copy is checked
against this command's output by a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core import atomic
from core.cli.common import emit_json, say
from core.authoring.draft import DraftConfig
from core.authoring.many import ManyConfig
from core.embedding.strategies import STRATEGIES, InitConfig
from core.execution import BackendConfig
from core.experiment.analysis import results
from core.experiment.single.compare import CompareConfig
from core.spec import settings
from core.spec.errors import fail
from core.train.checkpoint import CheckpointConfig
from core.train.finetune import FinetuneConfig

SECTIONS = (("Initialization (`init`, `finetune`, `compare`, `vocab`; the Initialize tab)", InitConfig, ()),
            ("Fine-tuning (`finetune`, `compare`, `vocab`; the Train tab)", FinetuneConfig, ()),
            ("Comparison (`compare`, the Compare tab)", CompareConfig, ("finetune", "init")),
            ("Where members run (`compare`, `vocab compare`, `vocab finetune`, `vocab draft`; the Compare tab)",
             BackendConfig, ()),
            ("Drafting a spec (`draft`, the Gloss tab's drafting panel)", DraftConfig, ("keep",)),
            ("Drafting many symbols (`vocab draft`; screening as for one spec)", ManyConfig, ()),
            ("Checkpoints (`vocab finetune`; `runs resume RUN` continues from the last)", CheckpointConfig, ()))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("settings", help="list every setting and every reported number (Markdown)",
                              description="Print the tables of settings (defaults, ranges, flags) and of the "
                                          "numbers that runs and comparisons report, as the README shows them.")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of Markdown")
    p.add_argument("--readme", default=None, metavar="README.md",
                   help="rewrite the tables between the settings markers of this file instead of printing them")
    p.set_defaults(handler=run)


def strategies_markdown() -> str:
    lines = ["| Strategy | Name | Output row | What it does |", "|---|---|---|---|"]
    for s in STRATEGIES.values():
        output = "calculated (least squares)" if s.calculated_output else "drawn at random"
        lines.append(f"| {s.label} | `{s.name}` | {output} | {s.help} |")
    return "\n".join(lines) + "\n"


def metrics_markdown() -> str:
    lines = ["| Number | Keys | Better | Verdict's axis | Meaning |", "|---|---|---|---|---|"]
    for m in results.METRICS:
        better = {True: "higher", False: "lower", None: "–"}[m.higher_is_better]
        keys = ", ".join(f"`{k}`" for k in m.keys())
        axis = f"{m.axis} (`{m.judged_key}`)" if m.axis else "–"
        lines.append(f"| {m.label} | {keys} | {better} | {axis} | {m.meaning} |")
    return "\n".join(lines) + "\n"


def markdown() -> str:
    parts = []
    for title, cls, skip in SECTIONS:
        parts.append(f"#### {title}\n\n{settings.markdown(cls, skip=skip)}")
    parts.append(f"#### Strategies\n\n{strategies_markdown()}")
    parts.append(f"#### Numbers in results (runs, comparisons, CSV, JSON)\n\n{metrics_markdown()}")
    return "\n".join(parts)


START, END = "<!-- settings:start -->\n", "<!-- settings:end -->"


def write_readme(path: str) -> Path:
    """Replace what stands between the settings markers of ``path`` with the generated tables."""
    file = Path(path)
    text = file.read_text(encoding="utf-8") if file.is_file() else ""
    if START not in text or END not in text:
        raise fail("readme", f"{path!r} has no {START.strip()} … {END} markers",
                   "add both markers where the tables belong")
    head, rest = text.split(START, 1)
    atomic.write_text(file, head + START + markdown() + END + rest.split(END, 1)[1])
    return file


def run(args: argparse.Namespace) -> int:
    if args.readme:
        say(f"Wrote the settings tables into {write_readme(args.readme)}")
        return 0
    if args.json:
        emit_json(args, {"init": settings.describe(InitConfig), "finetune": settings.describe(FinetuneConfig),
                         "compare": settings.describe(CompareConfig) + [
                             d for d in settings.describe(BackendConfig) if d["name"] in BackendConfig.FOR_MEMBERS],
                         "metrics": results.describe()})
    else:
        args.stdout.write(markdown())
    return 0
