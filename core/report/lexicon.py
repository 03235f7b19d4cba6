"""A vocabulary's report, symbol by symbol: does each token mean its gloss, and is it told apart?

For a vocabulary run (``VocabRun.to_dict()``: ``vocab init`` or ``vocab finetune``), ``lexicon_rows``
gives one row per symbol and ``lexicon_summary`` the shares a linguist asks for first:

* **found**: the share of symbols whose token has median rank ≤ ``GOOD_RANK`` (5) on its own
  testing-positive contexts (the token is among the model's top five next words where the gloss
  belongs), before and after fine-tuning;
* **confused**: the share of symbols on whose contexts another symbol's token ranks better than
  their own (from the sparse confusion matrix, which keeps each symbol's closest other tokens, so
  the best other token is always known);
* **the worst**: the symbols whose own token ranks worst, each with its reasons in words (how far
  down its token is, which token comes up instead, whether it comes up on the negative contexts
  too, how well its output row fits);
* a histogram of the own ranks (log-spaced bins) before and after, as a plotly figure dict, and the
  rows as CSV.

``lexicon_markdown`` and ``lexicon_html`` lay these out (the HTML is self-contained: plotly inline).
No torch: the page reads the same rows through the service.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from core.jsonsafe import finite
from core.report.text import PALETTE, html_text, md, num

GOOD_RANK = 5
WORST = 20
BINS = (1, 2, 6, 11, 101, 1_001, 10_001)  # rank bins [1], [2–5], [6–10], [11–100], … (left edges)
PHASES = ("before", "after")


def _own_ranks(confusion: dict | None) -> list[float | None]:
    return list((confusion or {}).get("own_rank") or [])


def _best_other(confusion: dict | None) -> dict[int, tuple[int, float]]:
    """Per symbol j: (token i ≠ j, its median rank on j's contexts) for the best-ranked other token."""
    best: dict[int, tuple[int, float]] = {}
    for i, j, rank in (confusion or {}).get("cells") or []:
        if i != j and finite(rank) and (j not in best or rank < best[j][1]):
            best[j] = (i, rank)
    return best


def _phase(data: dict, phase: str) -> tuple[dict | None, list[float | None], dict[int, tuple[int, float]]]:
    confusion = data.get(f"confusion_{phase}")
    return confusion, _own_ranks(confusion), _best_other(confusion)


def lexicon_rows(data: dict) -> list[dict]:
    """One row per symbol: token, ID, gloss, its own median rank, MRR and negative median rank before
    and after, and the token that comes up best on its contexts (``confused_with``) with its rank."""
    tokens = [s["token"] for s in data.get("symbols") or []]
    phases = {p: _phase(data, p) for p in PHASES}
    rows = []
    for k, s in enumerate(data.get("symbols") or []):
        row: dict[str, Any] = {"token": s["token"], "symbol_id": s.get("symbol_id"), "gloss": s.get("gloss"),
                               "output_fit_residual": s.get("output_fit_residual")}
        for phase in PHASES:
            quality = s.get(f"quality_{phase}") or {}
            confusion, own, best = phases[phase]
            own_rank = own[k] if k < len(own) else quality.get("median_rank_positive")
            other = best.get(k)
            row.update({f"rank_{phase}": own_rank if confusion or quality else None,
                        f"mrr_{phase}": quality.get("mrr_positive"),
                        f"negative_rank_{phase}": quality.get("median_rank_negative"),
                        f"confused_with_{phase}": tokens[other[0]] if other and finite(own_rank)
                        and other[1] < own_rank else None,
                        f"confused_rank_{phase}": other[1] if other else None})
        rows.append(row)
    return rows


def _share(rows: list[dict], test) -> float | None:
    return round(sum(1 for r in rows if test(r)) / len(rows), 4) if rows else None


def _last_phase(rows: list[dict]) -> str:
    return "after" if any(r.get("rank_after") is not None for r in rows) else "before"


def reasons(row: dict, phase: str) -> list[str]:
    """Why a symbol's token does poorly, in words, from its row."""
    out = []
    rank = row.get(f"rank_{phase}")
    if finite(rank):
        out.append(f"its token's median rank on its own contexts is {num(rank)}" +
                   ("" if rank <= GOOD_RANK else f" (not in the top {GOOD_RANK})"))
    if row.get(f"confused_with_{phase}"):
        out.append(f"{row[f'confused_with_{phase}']} ranks better there ({num(row[f'confused_rank_{phase}'])})")
    negative = row.get(f"negative_rank_{phase}")
    if finite(negative) and negative <= 100:
        out.append(f"it also comes up where it does not belong (negative contexts: median rank {num(negative)})")
    residual = row.get("output_fit_residual")
    if finite(residual) and residual > 1.0:
        out.append(f"its output row fits the target logits loosely (residual {num(residual, 3)})")
    return out


def lexicon_summary(rows: list[dict]) -> dict:
    """The shares before and after, and the worst symbols with their reasons."""
    phase = _last_phase(rows)
    summary: dict[str, Any] = {"symbols": len(rows), "good_rank": GOOD_RANK, "judged": phase}
    for p in PHASES:
        measured = [r for r in rows if r.get(f"rank_{p}") is not None]
        summary[f"found_{p}"] = _share(measured, lambda r: finite(r[f"rank_{p}"]) and r[f"rank_{p}"] <= GOOD_RANK)
        summary[f"confused_{p}"] = _share(measured, lambda r: bool(r.get(f"confused_with_{p}")))
        summary[f"measured_{p}"] = len(measured)
    ranked = sorted((r for r in rows if finite(r.get(f"rank_{phase}"))), key=lambda r: -r[f"rank_{phase}"])
    summary["worst"] = [{"token": r["token"], "gloss": r["gloss"], "rank": r[f"rank_{phase}"],
                         "reasons": reasons(r, phase)} for r in ranked[:WORST]]
    return summary


def rank_counts(rows: list[dict]) -> dict:
    """How many symbols' own median rank falls in each bin: ``{"labels": [...], "counts": {phase:
    [...]}}``, a phase only when some symbol was measured then (the numbers the page draws)."""
    labels = [f"{lo}" if hi - lo == 1 else f"{lo:,}–{hi - 1:,}" for lo, hi in zip(BINS, BINS[1:])] + \
        [f"{BINS[-1]:,}+"]
    counts = {}
    for phase in PHASES:
        ranks = [r[f"rank_{phase}"] for r in rows if finite(r.get(f"rank_{phase}"))]
        if ranks:
            counts[phase] = [sum(1 for x in ranks if lo <= x < hi) for lo, hi in zip(BINS, (*BINS[1:], math.inf))]
    return {"labels": labels, "counts": counts}


def histogram(rows: list[dict]) -> dict:
    """How many symbols' own median rank falls in each bin, before and after: a plotly figure dict."""
    bins = rank_counts(rows)
    traces = [{"type": "bar", "name": f"{phase} fine-tuning", "x": bins["labels"], "y": counts,
               "marker": {"color": PALETTE[PHASES.index(phase)]}} for phase, counts in bins["counts"].items()]
    return {"data": traces, "layout": {"title": {"text": "Each token's median rank on its own contexts"},
                                       "barmode": "group", "xaxis": {"title": {"text": "median rank (1 = top)"}},
                                       "yaxis": {"title": {"text": "symbols"}}, "template": "plotly_white"}}


CSV_COLUMNS = ["token", "symbol_id", "gloss", *[f"{m}_{p}" for p in PHASES for m in (
    "rank", "mrr", "negative_rank", "confused_with", "confused_rank")], "output_fit_residual"]


def lexicon_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f} %"


def summary_lines(summary: dict) -> list[str]:
    """The shares as sentences (Markdown-safe: no user text)."""
    n, good = summary["symbols"], summary["good_rank"]
    lines = []
    for p in PHASES:
        if summary.get(f"measured_{p}"):
            lines.append(f"{p.capitalize()} fine-tuning: {_percent(summary[f'found_{p}'])} of {summary[f'measured_{p}']} "
                         f"symbols have their token within the top {good} on their own contexts; "
                         f"{_percent(summary[f'confused_{p}'])} are confused with another symbol's token.")
    return lines or [f"No symbol of the {n} was evaluated."]


def lexicon_markdown(data: dict, rows: list[dict] | None = None) -> str:
    rows = lexicon_rows(data) if rows is None else rows
    summary = lexicon_summary(rows)
    lines = [f"# Lexicon report: {summary['symbols']} symbols", "", *[f"- {s}" for s in summary_lines(summary)],
             "", f"## The worst {len(summary['worst'])} (by the median rank {summary['judged']} fine-tuning)", "",
             "| Token | Gloss | Median rank | Why |", "|---|---|---|---|"]
    for w in summary["worst"]:
        lines.append(f"| {md(w['token'])} | {md(w['gloss'])} | {num(w['rank'])} | {md('; '.join(w['reasons']))} |")
    return "\n".join(lines) + "\n"


def lexicon_html(data: dict, rows: list[dict] | None = None) -> str:
    """The report as one self-contained page (plotly inline, no network)."""
    from plotly.offline import get_plotlyjs

    rows = lexicon_rows(data) if rows is None else rows
    summary = lexicon_summary(rows)
    items = "".join(f"<li>{html_text(s)}</li>" for s in summary_lines(summary))
    worst = "".join(f"<tr><td>{html_text(w['token'])}</td><td>{html_text(w['gloss'])}</td><td>{num(w['rank'])}</td>"
                    f"<td>{html_text('; '.join(w['reasons']))}</td></tr>" for w in summary["worst"])
    figure = json.dumps(histogram(rows)).replace("</", "<\\/")
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Lexicon report: {summary['symbols']} symbols</title><script>{get_plotlyjs()}</script></head>
<body style="font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem">
<h1>Lexicon report: {summary['symbols']} symbols</h1><ul>{items}</ul>
<figure><div id="hist" style="height:24rem"></div><figcaption>How many symbols' tokens rank in each band on
their own testing contexts, before and after fine-tuning (rank 1: the model's first choice).</figcaption></figure>
<h2>The worst {len(summary['worst'])}</h2><table border="1" cellpadding="4" style="border-collapse:collapse">
<tr><th scope="col">Token</th><th scope="col">Gloss</th><th scope="col">Median rank</th><th scope="col">Why</th></tr>
{worst}</table>
<script>var f={figure};Plotly.newPlot("hist",f.data,f.layout,{{displaylogo:false,responsive:true}});</script>
</body></html>
"""
