"""Every table of results, from the results schema (``core.experiment.analysis.results``): one
number's text, a metric's cell, the research-style Markdown table, the CSV, the page's comparison
table, the run viewer's table and a vocabulary run's table of symbols. The page, the CLI and the
reports draw from here, so a number reads the same everywhere.

No torch, no gradio.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from core.experiment.analysis import results
from core.experiment.analysis.results import PRIMARY, Metric, best_row, numeric_keys, wide_metrics
from core.jsonsafe import finite
from core.report.text import md


def format_value(m: Metric, value: Any, std: Any = None) -> str:
    """One number as every table shows it (``Metric.text``), with "± std" over seeds when there is one."""
    if not finite(value):
        return "–"
    if not finite(std):
        return m.text(value)
    spread = f"{std:,.1f}" if m.kind == "rank" else f"{std:,.{m.digits}f}"
    return f"{m.text(value)} ± {spread}"


def cell(m: Metric, row: dict) -> str:
    """A metric's cell in a row: the value (± std), or "before → after" for a phased metric."""
    parts = [format_value(m, row.get(k), row.get(f"{k}_std")) for k in m.keys()]
    return " → ".join(parts)


FIRST_COLUMN = "Input embedding initialization"


def markdown_table(rows: list[dict]) -> str:
    """The research table (one column per wide metric; the best row in bold), then the cosines
    between the strategies' starting vectors as small tables of their own."""
    best = best_row(rows)
    head = [FIRST_COLUMN] + [m.heading for m in wide_metrics()]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [cell(m, r) for m in wide_metrics()]
        label = md(r.get("label") or r.get("strategy", ""))
        if r is best:
            label = f"**{label}**"
            cells = [f"**{c}**" if m.key == PRIMARY else c for m, c in zip(wide_metrics(), cells)]
        lines.append("| " + " | ".join([label, *cells]) + " |")
    if rows and rows[0].get("seeds", 1) > 1:
        lines += ["", f"Mean ± standard deviation over {rows[0]['seeds']} seeds."]
    for side in ("input", "output"):
        matrix = start_cosines(rows, side)
        if matrix:
            names = list(matrix)
            lines += ["", f"Cosine similarity of the strategies' starting {side} rows (same seed, averaged):", "",
                      "| | " + " | ".join(md(n) for n in names) + " |", "|---|" + "---|" * len(names)]
            for a in names:
                lines.append(f"| {md(a)} | " + " | ".join("1" if a == b else
                                                             f"{matrix[a].get(b):.4f}" if finite(matrix[a].get(b))
                                                             else "–" for b in names) + " |")
    return "\n".join(lines) + "\n"


def start_cosines(rows: list[dict], side: str) -> dict[str, dict[str, float]]:
    """{strategy: {other: cosine}} from each row's ``cos_<side>_vs`` (empty with one strategy)."""
    found = {r["strategy"]: r.get(f"cos_{side}_vs") or {} for r in rows if "strategy" in r}
    return found if any(found.values()) else {}


CSV_HEAD = ["strategy", "label", "seeds"]


def csv_text(rows: list[dict]) -> str:
    """One line per row: strategy, label, seeds, every metric's mean, where it stands on each axis of
    the verdict (``fit``: win, tie or loss; ``meaning``: …), whether it is tied with the best over both
    (not beaten), its flags, stopped; then, when there are several seeds, every metric's std and 95 %
    interval."""
    keys = numeric_keys()
    axes = [a.key for a in results.AXES]
    columns = [*CSV_HEAD, *keys, *axes, "tied_with_best", "flags", "stopped"]
    spread = any(r.get(f"{k}_std") is not None for r in rows for k in keys)
    if spread:
        columns += [f"{k}_{part}" for k in keys for part in ("std", "ci95_low", "ci95_high")]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        line = {**r, "flags": " ".join(r.get("flags") or [])}
        line.update({a: ((r.get("axes") or {}).get(a) or {}).get("outcome") for a in axes})
        for k in keys:
            ci = r.get(f"{k}_ci95") or (None, None)
            line[f"{k}_ci95_low"], line[f"{k}_ci95_high"] = ci
        writer.writerow(line)
    return out.getvalue()


def comparison_table(rows: list[dict]) -> dict:
    """The page's comparison table: {"headers", "data"}, every value formatted as text."""
    best = best_row(rows)
    data = []
    for r in rows:
        label = r.get("label") or r.get("strategy", "")
        data.append([label + (" (best)" if r is best else "")] + [cell(m, r) for m in wide_metrics()])
    return {"headers": [FIRST_COLUMN] + [m.heading for m in wide_metrics()], "data": data}


def run_table(result: dict) -> dict:
    """A fine-tuning run's numbers, one metric a line ({"headers", "data"}), from its ``row``."""
    row = (result or {}).get("row") or {}
    if not row:
        return {"headers": ["Measure", "Value"], "data": [["Result", "none yet"]]}
    data = [["Initialization", str(row.get("label") or row.get("strategy") or "")]]
    data += [[m.heading, cell(m, row)] for m in results.METRICS]
    data.append(["Stopped early", "yes" if row.get("stopped") else "no"])
    return {"headers": ["Measure", "Value"], "data": data}


def metric_lines() -> str:
    """What each column means, for a report's footer."""
    return "\n".join(f"- {m.heading}: {m.meaning}" for m in results.METRICS) + "\n"


def _label(row: dict) -> str:
    return str(row.get("label") or row.get("strategy") or "")


def record_text(counts: dict) -> str:
    """Wins, ties and losses as "2 / 1 / 0"."""
    return " / ".join(str(counts.get(k, 0)) for k in ("wins", "ties", "losses"))


def across_rows(result: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and lines of the table of strategies across symbols: the record over both axes, then
    per axis the mean rank and the wins / ties / losses, then the rank on each symbol per axis."""
    specs = result.get("specs") or [s.get("spec") for s in result.get("symbols") or []]
    per_axis = " / ".join(a.label for a in results.AXES)
    headers = ["Strategy", "Wins", "Ties", "Losses"]
    headers += [h for a in results.AXES for h in (f"{a.label.capitalize()}: mean rank",
                                                   f"{a.label.capitalize()}: wins / ties / losses")]
    headers += [f"Rank on {s} ({per_axis})" for s in specs]
    lines = []
    for r in result.get("rows") or []:
        axes = r.get("axes") or {}
        line = [_label(r), str(r.get("wins", 0)), str(r.get("ties", 0)), str(r.get("losses", 0))]
        for a in results.AXES:
            ax = axes.get(a.key) or {}
            line += ["–" if ax.get("mean_rank") is None else f"{ax['mean_rank']:.2f}", record_text(ax)]
        for s in specs:
            ranks = [(axes.get(a.key) or {}).get("ranks", {}).get(s) for a in results.AXES]
            line.append(" / ".join("–" if v is None else f"{v:g}" for v in ranks))
        lines.append(line)
    return headers, lines


OUTCOME_TEXT = {"win": "best", "tie": "tied", None: "–"}


def axes_table(rows: list[dict]) -> dict:
    """The verdict's two axes as a table ({"headers", "data"}): per strategy, each axis's metrics
    (after fine-tuning for a phased one) as mean [95 % interval], then where it stands on that axis:
    best, tied, or behind the strategies that beat it there."""
    label = {r.get("strategy"): _label(r) for r in rows}
    headers = ["Strategy"]
    for a in results.AXES:
        headers += [f"{a.label.capitalize()}: {m.label}" + (" after fine-tuning" if m.phases else "")
                    for m in results.axis_metrics(a.key)] + [f"{a.label.capitalize()}: verdict"]
    data = []
    for r in rows:
        line = [_label(r)]
        for a in results.AXES:
            line += [results.with_interval(m.judged_key, r) for m in results.axis_metrics(a.key)]
            ax = (r.get("axes") or {}).get(a.key) or {}
            outcome = ax.get("outcome")
            line.append("behind " + ", ".join(label.get(s, s) for s in ax.get("beaten_by") or [])
                        if outcome == "loss" else OUTCOME_TEXT.get(outcome, "–"))
        data.append(line)
    return {"headers": headers, "data": data}


def markdown_grid(headers: list[str], lines: list[list[str]]) -> str:
    """A Markdown table of text cells, every cell escaped."""
    out = ["| " + " | ".join(md(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(md(c) for c in line) + " |" for line in lines]
    return "\n".join(out) + "\n"


def _present(m: Metric, rows: list[dict]) -> list[str]:
    """The keys of ``m`` that some row has a value for."""
    return [k for k in m.keys() if any(finite(r.get(k)) for r in rows)]


def vocabulary_table(result: dict) -> dict:
    """A vocabulary run's symbols (``VocabRun.to_dict()``): {"headers", "data", "shared"}.

    One line per symbol: its token, its gloss, then every metric of the results schema that is the
    symbol's own and has a value for some symbol, read through ``results.vocabulary_records`` as a
    comparison's rows are (a phased one "before → after" once fine-tuned, before alone if not).
    ``shared``: [heading, value] of the metrics marked ``shared``, the same for every symbol trained
    together in the run (the best epoch, say), shown once."""
    symbols = result.get("symbols") or []
    rows = [results.row_of(r) for r in results.vocabulary_records(result)]
    columns = [(m, keys) for m in results.METRICS if not m.shared for keys in [_present(m, rows)] if keys]
    headers = ["Token", "Gloss"] + [m.heading if len(keys) > 1 else m.label for m, keys in columns]
    data = [[str(s.get("token", "")), str(s.get("gloss") or "")]
            + [" → ".join(format_value(m, row.get(k)) for k in keys) for m, keys in columns]
            for s, row in zip(symbols, rows)]
    shared = [[m.label, cell(m, rows[0])] for m in results.METRICS if m.shared and rows and _present(m, rows[:1])]
    return {"headers": headers, "data": data, "shared": shared}
