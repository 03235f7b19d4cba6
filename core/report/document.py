"""A comparison's report: one self-contained HTML page (plotly, offline) and its Markdown twin.

Both read the dict ``ComparisonResult.to_dict()`` returns and say the verdict first, then its two
axes (fit and meaning: ``core.report.tables.axes_table``), the flags, the curves, every metric, the
results table, the settings, the model and the spec.

* ``report_markdown(result)``: the verdict sentence, the two axes as a table, the flags as a list,
  the research table (``core.report.tables.markdown_table``), what each number means, the settings,
  model, spec and time.
* ``report_html(result)``: the same as one HTML page that needs no network: plotly.js is embedded
  once, inline; no font, stylesheet or script is fetched. Charts: one per axis of the verdict
  (each of its measures as the mean per strategy in bars with the 95 % interval as whiskers), the
  validation and training loss per strategy over epochs (the mean over seeds as a line, the lowest
  to highest seed as a band; seeds are aligned by optimizer step) and, for every metric of
  ``results.METRICS`` with a value, the mean per strategy as bars with the 95 % interval as
  whiskers. Every chart has a caption saying what it shows; all text from the result is escaped.

A result of several symbols (``{"symbols": [result, …], "verdict": {…}, "rows": […]}``) is rendered
with the strategies across symbols first (``across_rows``: wins / ties / losses, then per axis the
mean rank and the record, the rank on each symbol; in HTML also the mean ranks per axis as bars),
then one section per symbol (``symbol_html`` / ``symbol_markdown``).

No torch, no gradio; plotly is imported only when a page is built.
"""

from __future__ import annotations

import json
from typing import Any

from core.experiment.analysis import results
from core.experiment.analysis.verdict import FLAG_TEXT
from core.report import tables
from core.report.text import PALETTE, finite, html_text, md, setting_value

CURVES = [("eval_loss", "Validation loss"), ("loss", "Training loss")]  # step-event key, title
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1f2328;line-height:1.45}
.verdict{font-size:1.15rem;border-left:4px solid #4f46e5;background:#eef2ff;padding:.75rem 1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.best{font-weight:bold}
figure{margin:0 0 1rem}figcaption{font-size:.85rem;color:#57606a}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(22rem,1fr));gap:1rem}
.plot{width:100%}.wide{height:24rem}.small{height:17rem}
"""


# -- shared helpers ------------------------------------------------------------------------------------

def _label(row: dict) -> str:
    return str(row.get("label") or row.get("strategy") or "")


def _labels(result: dict) -> dict[str, str]:
    return {r.get("strategy"): _label(r) for r in result.get("rows") or []}


def settings_groups(config: dict) -> list[tuple[str, list[tuple[str, str]]]]:
    """The settings as (group, [(name, value)]): the comparison's own, fine-tuning, initialization
    (without the strategy and seed that each member sets)."""
    config = config or {}
    own = [(k.replace("_", " "), setting_value(v)) for k, v in config.items() if not isinstance(v, dict)]
    groups = [("Comparison", own)]
    for key, title in (("finetune", "Fine-tuning"), ("init", "Initialization")):
        values = config.get(key) or {}
        groups.append((title, [(k.replace("_", " "), setting_value(v)) for k, v in values.items()
                               if k not in ("strategy", "seed")]))
    return [(g, items) for g, items in groups if items]


def _about(result: dict) -> list[tuple[str, str]]:
    seconds = result.get("seconds")
    about = [("Model", str(result.get("model") or "–")), ("Spec", str(result.get("spec") or "–")),
             ("Time", f"{seconds:,.1f} s" if finite(seconds) else "–")]
    if result.get("stopped"):
        about.append(("Stopped", "yes: the comparison was stopped before every member finished"))
    return about


def _flags(result: dict) -> list[tuple[str, str, str]]:
    """(strategy label, flag, detail) for every flag of the verdict."""
    labels = _labels(result)
    return [(labels.get(f.get("strategy"), str(f.get("strategy"))),
             FLAG_TEXT.get(f.get("flag"), str(f.get("flag", "")).replace("_", " ")), str(f.get("detail", "")))
            for f in (result.get("verdict") or {}).get("flags") or []]


def _sentence(result: dict) -> str:
    return str((result.get("verdict") or {}).get("sentence") or "No verdict: the comparison has no result.")


# -- Markdown ------------------------------------------------------------------------------------------

def _measures(axis: results.Axis) -> str:
    """An axis's measures in a sentence: "MRR, testing-positive after fine-tuning, then …"."""
    return ", then ".join(m.phrase + (" after fine-tuning" if m.phases else "") for m in results.axis_metrics(axis.key))


def axes_intro(markdown: bool = True) -> str:
    """What the two axes ask and by which measures, as the reports say it (Markdown or plain text)."""
    star = "*" if markdown else ""
    parts = [f"{star}{a.label.capitalize()}{star}: {a.question[0].lower()}{a.question[1:-1]} ({_measures(a)})"
             for a in results.AXES]
    return ("The verdict judges each strategy on two axes. " + "; ".join(parts) + ". On an axis, a strategy is "
            "separated from another when the paired 95 % interval of their difference over seeds excludes 0 "
            "(the axis's first measure first, then the next); \"behind\" names the strategies that beat it there.")


def axes_markdown(rows: list[dict]) -> str:
    """The two axes as a Markdown table (``tables.axes_table``)."""
    table = tables.axes_table(rows)
    return tables.markdown_grid(table["headers"], table["data"])


def comparison_markdown(result: dict) -> str:
    """The verdict first, then its two axes and the research table (over several symbols: across
    symbols, then each symbol's), for ``ComparisonResult.to_dict()``."""
    verdict = (result.get("verdict") or {}).get("sentence")
    head = f"**Verdict.** {verdict}\n\n" if verdict else ""
    symbols = result.get("symbols") or []
    if not symbols:
        rows = result.get("rows") or []
        return head + (axes_markdown(rows) + "\n" if rows else "") + tables.markdown_table(rows)
    return head + across_markdown_table(result) + "\n" + "\n".join(
        f"### {s.get('spec')}\n\n{comparison_markdown(s)}" for s in symbols)


def with_markdown(result: dict) -> dict:
    """``result`` (a comparison's dict) with its ``markdown``, and each symbol's, as stored and shown."""
    out = {**result, "markdown": comparison_markdown(result)}
    if result.get("symbols"):
        out["symbols"] = [with_markdown(s) for s in result["symbols"]]
    return out


def symbol_markdown(result: dict, level: int = 2) -> str:
    """Everything below the verdict for one symbol's comparison, headings starting at ``level``."""
    h = "#" * level
    lines: list[str] = []
    rows = result.get("rows") or []
    if rows:
        lines += [f"{h} Fit and meaning", "", axes_intro(), "", axes_markdown(rows)]
    flags = _flags(result)
    if flags:
        lines += [f"{h} Flags", ""] + [f"- **{md(s)}**: {md(f)} ({md(d)})" for s, f, d in flags] + [""]
    lines += [f"{h} Results", "", tables.markdown_table(rows) if rows else "No strategy finished.\n"]
    lines += [f"{h} What the numbers mean", "", tables.metric_lines()]
    lines += [f"{h} Settings", "", "| Settings | Values |", "|---|---|"]
    for group, items in settings_groups(result.get("config") or {}):
        lines.append(f"| {group} | " + " · ".join(f"{md(k)} {md(v)}" for k, v in items) + " |")
    lines += [""] + [f"- {name}: {md(value)}" for name, value in _about(result)]
    return "\n".join(lines) + "\n"


def across_markdown_table(result: dict) -> str:
    """The strategies across symbols as a Markdown table (``across_rows``)."""
    return tables.markdown_grid(*tables.across_rows(result))


ACROSS_TEXT = ("Each of the {n} symbols is one data point. On each axis, a strategy's rank on a symbol is by the "
               "mean over seeds of the axis's first measure (1 = best), and a win, tie or loss is that symbol's "
               "verdict on the axis; the first three columns count the verdict over both axes.")


def _across_markdown(result: dict) -> str:
    n = len(result.get("symbols") or [])
    return "## Across symbols\n\n" + ACROSS_TEXT.format(n=n) + "\n\n" + across_markdown_table(result) + "\n"


def _across_html(result: dict, figures: dict[str, dict]) -> str:
    headers, lines = tables.across_rows(result)
    name = (result.get("verdict") or {}).get("winner")
    winner = next((i for i, r in enumerate(result.get("rows") or []) if r.get("strategy") == name), None)
    rows = result.get("rows") or []
    data = []
    for i, a in enumerate(results.AXES):
        shown = [r for r in rows if finite(((r.get("axes") or {}).get(a.key) or {}).get("mean_rank"))]
        if shown:
            data.append({"type": "bar", "name": a.label, "x": [html_text(_label(r)) for r in shown],
                         "y": [r["axes"][a.key]["mean_rank"] for r in shown], "marker": {"color": PALETTE[i]},
                         "customdata": [tables.record_text(r["axes"][a.key]) for r in shown],
                         "hovertemplate": f"%{{x}}: mean rank on {a.label} %{{y:.2f}} "
                                          "(wins / ties / losses %{customdata})<extra></extra>"})
    chart = ""
    if data:
        figures["across-chart-1"] = {"data": data, "layout": _layout("Mean rank across symbols, per axis",
                                                                     "lower is better", "small", barmode="group")}
        chart = ('<figure><div id="across-chart-1" class="plot small"></div><figcaption>The mean over symbols of '
                 "each strategy's rank on that symbol (1 = best), on each axis of the verdict.</figcaption></figure>")
    n = len(result.get("symbols") or [])
    return ("<section><h2>Across symbols</h2><p>" + html_text(ACROSS_TEXT.format(n=n)) + "</p>"
            + _table(headers, lines, winner) + chart + "</section>")


def report_markdown(result: dict) -> str:
    """The verdict sentence first, then the flags, the research table, the settings, model and spec."""
    result = result or {}
    head = f"**Verdict.** {md(_sentence(result))}\n\n"
    symbols = result.get("symbols")
    if not symbols:
        return head + symbol_markdown(result)
    return head + _across_markdown(result) + "\n".join(f"## {md(s.get('spec') or 'Symbol')}\n\n**Verdict.** {md(_sentence(s))}\n\n"
                            + symbol_markdown(s, level=3) for s in symbols)


# -- charts (plotly figures as plain dicts) ------------------------------------------------------------

def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(title: str, y_title: str, height_class: str, **extra) -> dict:
    small = height_class == "small"
    return {"title": {"text": html_text(title), "font": {"size": 14 if small else 16}},
            "yaxis": {"title": {"text": html_text(y_title)}, "automargin": True},
            "xaxis": {"automargin": True}, "margin": {"l": 50, "r": 10, "t": 40, "b": 40},
            "template": "plotly_white", **({} if small else {"legend": {"orientation": "h", "y": -0.2}}), **extra}


def curve_series(result: dict, key: str) -> dict[str, list[tuple[float, float, float, float, int]]]:
    """{strategy: [(epoch, mean, low, high, n seeds)]} of a step-event value over the seeds,
    aligned by optimizer step (steps some seed lacks average over the seeds that have them)."""
    by_strategy: dict[str, dict[int, list[tuple[float, float]]]] = {}
    for member in result.get("members") or []:
        steps = by_strategy.setdefault(member.get("strategy"), {})
        for event in ((member.get("finetune") or {}).get("history") or []):
            if finite(event.get(key)) and isinstance(event.get("step"), int):
                epoch = event.get("epoch") if finite(event.get("epoch")) else float(event["step"])
                steps.setdefault(event["step"], []).append((float(epoch), float(event[key])))
    out = {}
    for strategy, steps in by_strategy.items():
        points = []
        for step in sorted(steps):
            values = [v for _, v in steps[step]]
            epoch = sum(e for e, _ in steps[step]) / len(values)
            points.append((epoch, sum(values) / len(values), min(values), max(values), len(values)))
        if points:
            out[strategy] = points
    return out


def curve_figure(result: dict, key: str, title: str) -> dict | None:
    """Mean line per strategy with a filled lowest–highest band over seeds; None without data."""
    series = curve_series(result, key)
    if not series:
        return None
    labels, data = _labels(result), []
    for i, (strategy, points) in enumerate(series.items()):
        color, name = PALETTE[i % len(PALETTE)], html_text(labels.get(strategy, strategy))
        xs = [p[0] for p in points]
        if any(p[4] > 1 for p in points):
            data.append({"type": "scatter", "x": xs, "y": [p[3] for p in points], "mode": "lines",
                         "line": {"width": 0, "color": color}, "legendgroup": strategy, "showlegend": False,
                         "hoverinfo": "skip", "name": f"{name} (highest seed)"})
            data.append({"type": "scatter", "x": xs, "y": [p[2] for p in points], "mode": "lines",
                         "line": {"width": 0, "color": color}, "fill": "tonexty", "fillcolor": _rgba(color, 0.2),
                         "legendgroup": strategy, "showlegend": False, "hoverinfo": "skip",
                         "name": f"{name} (lowest seed)"})
        data.append({"type": "scatter", "x": xs, "y": [p[1] for p in points], "mode": "lines+markers",
                     "line": {"color": color, "width": 2}, "marker": {"size": 4}, "legendgroup": strategy,
                     "name": name, "customdata": [p[4] for p in points],
                     "hovertemplate": "epoch %{x:.2f}: %{y:.4f} (mean of %{customdata} seed(s))"
                                      f"<extra>{name}</extra>"})
    layout = _layout(title, title, "wide", xaxis={"title": {"text": "Epoch"}, "automargin": True})
    return {"data": data, "layout": layout}


def _interval_text(m: results.Metric, row: dict, k: str) -> str:
    text = tables.format_value(m, row.get(k), row.get(f"{k}_std"))
    ci = row.get(f"{k}_ci95")
    if ci and all(finite(v) for v in ci):
        text += f" (95 % interval {tables.format_value(m, ci[0])} to {tables.format_value(m, ci[1])})"
    return text


def _bars(m: results.Metric, k: str, rows: list[dict], color: str, name: str) -> dict | None:
    """Bars of the mean of ``k`` per strategy, whiskers from the 95 % interval where there is one."""
    shown = [r for r in rows if finite(r.get(k))]
    if not shown:
        return None
    means = [r[k] for r in shown]
    cis = [r.get(f"{k}_ci95") if r.get(f"{k}_ci95") and all(finite(v) for v in r[f"{k}_ci95"]) else None
           for r in shown]
    trace = {"type": "bar", "x": [html_text(_label(r)) for r in shown], "y": means, "name": name,
             "marker": {"color": color}, "customdata": [html_text(_interval_text(m, r, k)) for r in shown],
             "hovertemplate": "%{x}: %{customdata}<extra></extra>"}
    if any(cis):
        trace["error_y"] = {"type": "data", "symmetric": False, "visible": True,
                            "array": [c[1] - v if c else 0 for c, v in zip(cis, means)],
                            "arrayminus": [v - c[0] if c else 0 for c, v in zip(cis, means)]}
    return trace


BETTER = {True: "higher is better", False: "lower is better"}


def metric_figure(m: results.Metric, rows: list[dict]) -> dict | None:
    """Bars of the mean per strategy (before and after for a phased metric), whiskers from the
    95 % interval when there is one; None when no row has a value."""
    data = [t for i, k in enumerate(m.keys())
            if (t := _bars(m, k, rows, PALETTE[i % len(PALETTE)] if m.phases else PALETTE[0],
                           k.rsplit("_", 1)[1] if m.phases else html_text(m.label))) is not None]
    if not data:
        return None
    layout = _layout(m.heading, BETTER.get(m.higher_is_better, ""), "small", barmode="group", showlegend=m.phases)
    layout["yaxis"]["title"]["font"] = {"size": 11}
    return {"data": data, "layout": layout}


def axis_figure(axis: results.Axis, rows: list[dict]) -> dict | None:
    """One chart for one axis of the verdict: side by side, each of the axis's measures (after
    fine-tuning) as the mean per strategy in bars, whiskers from the 95 % interval over seeds where
    there is one (a rank on a log scale); None when no row has a number of the axis."""
    metrics = [m for m in results.axis_metrics(axis.key) if any(finite(r.get(m.judged_key)) for r in rows)]
    if not metrics:
        return None
    layout = _layout(axis.label.capitalize(), "", "small", showlegend=False)
    data, width = [], 1 / len(metrics)
    for i, m in enumerate(metrics):
        n = "" if i == 0 else str(i + 1)
        trace = _bars(m, m.judged_key, rows, PALETTE[i % len(PALETTE)], html_text(m.label))
        data.append({**trace, "xaxis": f"x{n}", "yaxis": f"y{n}"})
        layout[f"xaxis{n}"] = {"domain": [i * width + 0.06 * (i > 0), (i + 1) * width - 0.06 * (i < len(metrics) - 1)],
                               "anchor": f"y{n}", "automargin": True}
        layout[f"yaxis{n}"] = {"anchor": f"x{n}", "automargin": True, **({"type": "log"} if m.kind == "rank" else {}),
                               "title": {"text": html_text(f"{m.label} ({BETTER.get(m.higher_is_better, '')})"),
                                         "font": {"size": 11}}}
    return {"data": data, "layout": layout}


def axes_charts(result: dict) -> list[tuple[dict, str, str]]:
    """(figure, caption, size class) of each axis of the verdict that has numbers."""
    out = []
    for a in results.AXES:
        fig = axis_figure(a, result.get("rows") or [])
        if fig is not None:
            out.append((fig, f"The verdict's {a.label} axis: {a.question} Judged by {_measures(a)}: the mean per "
                             "strategy as bars, side by side; whiskers show the 95 % interval over seeds where there "
                             "is one.", "small"))
    return out


def charts(result: dict) -> list[tuple[dict, str, str]]:
    """(figure, caption, size class) for every chart of one symbol's report, in page order."""
    out = []
    seeds = (result.get("config") or {}).get("seeds")
    for key, title in CURVES:
        fig = curve_figure(result, key, title)
        if fig is not None:
            out.append((fig, f"{title} per strategy over the epochs of fine-tuning: the line is the mean over "
                             f"{seeds or 'the'} seed(s), the shaded band spans the lowest to the highest seed "
                             "(seeds aligned by optimizer step).", "wide"))
    rows = result.get("rows") or []
    for m in sorted(results.METRICS, key=lambda m: not m.wide):
        fig = metric_figure(m, rows)
        if fig is not None:
            phased = " before and after fine-tuning" if m.phases else ""
            out.append((fig, f"{m.heading}: the mean per strategy{phased} as bars; whiskers show the 95 % "
                             f"interval over seeds where there is one. {m.meaning}", "small"))
    return out


# -- HTML ----------------------------------------------------------------------------------------------

def _table(headers: list[str], data: list[list[str]], best: int | None = None) -> str:
    head = "".join(f'<th scope="col">{html_text(h)}</th>' for h in headers)
    body = "".join("<tr" + (' class="best"' if i == best else "") + ">"
                   + "".join((f'<th scope="row">{html_text(c)}</th>' if j == 0 else f"<td>{html_text(c)}</td>")
                             for j, c in enumerate(line)) + "</tr>" for i, line in enumerate(data))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def symbol_html(result: dict, figures: dict[str, dict], level: int = 2, prefix: str = "c") -> str:
    """Everything below the verdict for one symbol's comparison; its charts are added to
    ``figures`` ({div id: figure}) under ids starting with ``prefix``."""
    h = f"h{level}"
    parts = []

    def figure_html(fig: dict, caption: str, size: str) -> str:
        div = f"{prefix}-chart-{sum(k.startswith(prefix + '-') for k in figures) + 1}"
        figures[div] = fig
        return (f'<figure><div id="{div}" class="plot {size}"></div>'
                f"<figcaption>{html_text(caption)}</figcaption></figure>")

    rows = result.get("rows") or []
    if rows:
        axes = tables.axes_table(rows)
        parts.append(f"<{h}>Fit and meaning</{h}><p>{html_text(axes_intro(markdown=False))}</p>"
                     + _table(axes["headers"], axes["data"]) + "".join(figure_html(*c) for c in axes_charts(result)))
    flags = _flags(result)
    if flags:
        items = "".join(f"<li><strong>{html_text(s)}</strong>: {html_text(f)} ({html_text(d)})</li>" for s, f, d in flags)
        parts.append(f"<{h}>Flags</{h}><ul>{items}</ul>")
    drawn = charts(result)
    wide = [c for c in drawn if c[2] == "wide"]
    small = [c for c in drawn if c[2] == "small"]

    if wide:
        parts.append(f"<{h}>Loss curves</{h}>" + "".join(figure_html(*c) for c in wide))
    if small:
        parts.append(f"<{h}>Every metric</{h}>" + '<div class="grid">' + "".join(figure_html(*c) for c in small)
                     + "</div>")
    if rows:
        table = tables.comparison_table(rows)
        best = results.best_row(rows)
        note = f"<p>Mean ± standard deviation over {rows[0]['seeds']} seeds.</p>" if rows[0].get("seeds", 1) > 1 \
            else ""
        parts.append(f"<{h}>Results</{h}>" + _table(table["headers"], table["data"],
                                                    rows.index(best) if best is not None else None) + note)
    else:
        parts.append(f"<{h}>Results</{h}><p>No strategy finished.</p>")
    meanings = "".join(f"<dt>{html_text(m.heading)}</dt><dd>{html_text(m.meaning)}</dd>" for m in results.METRICS)
    parts.append(f"<{h}>What the numbers mean</{h}><dl>{meanings}</dl>")
    settings = [[group, " · ".join(f"{k} {v}" for k, v in items)]
                for group, items in settings_groups(result.get("config") or {})]
    parts.append(f"<{h}>Settings</{h}>" + _table(["Settings", "Values"], settings)
                 + _table(["About", ""], [[k, v] for k, v in _about(result)]))
    return "\n".join(parts)


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no "</script>", no "<!--")."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


DRAW = """
(function(){
  var figures = JSON.parse(document.getElementById("report-figures").textContent);
  var config = JSON.parse(document.getElementById("report-config").textContent);
  var ids = Object.keys(figures);
  Promise.all(ids.map(function(id){
    return Plotly.newPlot(id, figures[id].data, figures[id].layout, config);
  })).then(function(){ document.body.setAttribute("data-charts-drawn", String(ids.length)); });
})();
"""


def report_html(result: dict) -> str:
    """One self-contained page: title, the verdict first, flags, charts, table, settings, model, spec."""
    from plotly.offline import get_plotlyjs

    result = result or {}
    symbols = result.get("symbols")
    title = "Comparison report" + (f": {result['spec']}" if result.get("spec") and not symbols else "")
    figures: dict[str, dict] = {}
    if symbols:
        body = _across_html(result, figures) + "\n".join(f"<section><h2>{html_text(s.get('spec') or 'Symbol')}</h2>"
                         f'<p class="verdict"><strong>Verdict.</strong> {html_text(_sentence(s))}</p>'
                         + symbol_html(s, figures, level=3, prefix=f"s{i + 1}") + "</section>"
                         for i, s in enumerate(symbols))
    else:
        body = symbol_html(result, figures)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html_text(title)}</title>
<style>{CSS}</style>
<script>{get_plotlyjs()}</script>
</head>
<body>
<main>
<h1>{html_text(title)}</h1>
<p class="verdict" id="verdict"><strong>Verdict.</strong> {html_text(_sentence(result))}</p>
{body}
</main>
<noscript><p>The charts need JavaScript; the tables above hold every number.</p></noscript>
<script type="application/json" id="report-figures">{_script_json(figures)}</script>
<script type="application/json" id="report-config">{_script_json(PLOT_CONFIG)}</script>
<script>{DRAW}</script>
</body>
</html>
"""
