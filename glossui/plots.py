"""Plotly figures drawn from job events: loss curves, the comparison overlay, the input optimization.

Every figure is built only from event dicts (``{"step", "epoch", "loss", "eval_loss", ...}``),
the one channel from the engine to the page. Colours come from the Okabe–Ito palette (readable
with colour-vision deficiencies) and every series also differs by line style and marker, so no
information is carried by colour alone. Text that may come from a user is HTML-escaped, because
plotly renders a subset of HTML in titles, legends and hover labels.
"""

from __future__ import annotations

import html
import math

import plotly.graph_objects as go

from core.service import text as report_text

PALETTE = report_text.PALETTE  # the one palette of the page and the reports
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "star", "cross", "triangle-down"]
FONT = dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=14, color="#1a1a1a")


def _t(text) -> str:
    return html.escape(str(text), quote=False)


def _mode(rows: list) -> str:
    """Markers while they can be told apart; a plain line for long curves."""
    return "lines+markers" if len(rows) <= 60 else "lines"


def _layout(fig: go.Figure, title: str, x_title: str, y_title: str, log_scale: bool) -> go.Figure:
    fig.update_layout(
        title=dict(text=_t(title), x=0.01), font=FONT, template="plotly_white",
        margin=dict(l=60, r=20, t=50, b=50), height=380,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0),
        hovermode="x unified",
    )
    fig.update_xaxes(title_text=_t(x_title), gridcolor="#d9d9d9", linecolor="#595959")
    fig.update_yaxes(title_text=_t(y_title) + (" (log scale)" if log_scale else ""),
                     type="log" if log_scale else "linear", gridcolor="#d9d9d9", linecolor="#595959")
    return fig


def _empty(fig: go.Figure, message: str) -> go.Figure:
    fig.add_annotation(text=_t(message), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=15, color="#404040"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def best_point(events: list[dict]) -> dict | None:
    """The event with the lowest validation loss (the first one on ties), or None."""
    evals = [e for e in events if report_text.finite(e.get("eval_loss"))]
    return min(evals, key=lambda e: e["eval_loss"]) if evals else None


def loss_figure(events: list[dict], log_scale: bool = False, title: str = "Loss") -> go.Figure:
    """Training loss and validation loss by optimizer step, the best step marked."""
    fig = go.Figure()
    train = [e for e in events if report_text.finite(e.get("loss")) and report_text.finite(e.get("step"))]
    evals = [e for e in events if report_text.finite(e.get("eval_loss")) and report_text.finite(e.get("step"))]
    _layout(fig, title, "Optimizer step", "Loss", log_scale)
    if not train and not evals:
        return _empty(fig, "No loss yet: the curve appears as soon as the first step is done.")
    series = (("Training loss", train, "loss", 0), ("Validation loss", evals, "eval_loss", 1))
    for name, rows, key, i in series:
        if not rows:
            continue
        fig.add_trace(go.Scatter(
            x=[e["step"] for e in rows], y=[e[key] for e in rows], name=name, mode=_mode(rows),
            line=dict(color=PALETTE[i], dash=DASHES[i], width=2.5), marker=dict(symbol=SYMBOLS[i], size=7),
            customdata=[[e.get("epoch")] for e in rows],
            hovertemplate=name + ": %{y:.4f}<br>epoch %{customdata[0]:.2f}<extra></extra>",
        ))
    best = best_point(events)
    if best is not None:
        fig.add_trace(go.Scatter(
            x=[best["step"]], y=[best["eval_loss"]], name=f"Best step ({best['step']})", mode="markers",
            marker=dict(symbol="star", size=18, color=PALETTE[4], line=dict(color="#000000", width=1.5)),
            hovertemplate="Best step %{x}: validation loss %{y:.4f}<extra></extra>",
        ))
        fig.add_vline(x=best["step"], line=dict(color="#595959", dash="dot", width=1))
    return fig


def vocab_loss_figure(events: list[dict], log_scale: bool = False, title: str = "Loss") -> go.Figure:
    """``loss_figure`` plus each symbol's validation loss (the step events' ``eval_loss_by``), thinner."""
    fig = loss_figure(events, log_scale, title)
    evals = [e for e in events if isinstance(e.get("eval_loss_by"), dict) and report_text.finite(e.get("step"))]
    for i, token in enumerate(dict.fromkeys(t for e in evals for t in e["eval_loss_by"]), start=2):
        rows = [e for e in evals if report_text.finite(e["eval_loss_by"].get(token))]
        name = f"Validation loss {_t(token)}"
        fig.add_trace(go.Scatter(
            x=[e["step"] for e in rows], y=[e["eval_loss_by"][token] for e in rows], name=name, mode=_mode(rows),
            line=dict(color=PALETTE[i % len(PALETTE)], dash=DASHES[i % len(DASHES)], width=1.5),
            marker=dict(symbol=SYMBOLS[i % len(SYMBOLS)], size=6), hovertemplate=name + ": %{y:.4f}<extra></extra>"))
    return fig


def compare_figure(series: dict[str, list[dict]], log_scale: bool = False,
                   title: str = "Validation loss by strategy") -> go.Figure:
    """One validation-loss curve per strategy (or strategy and seed), by epoch."""
    fig = go.Figure()
    _layout(fig, title, "Epoch", "Validation loss", log_scale)
    drawn = 0
    for i, (name, events) in enumerate(series.items()):
        rows = [e for e in events if report_text.finite(e.get("eval_loss")) and report_text.finite(e.get("epoch"))]
        if not rows:
            continue
        drawn += 1
        fig.add_trace(go.Scatter(
            x=[e["epoch"] for e in rows], y=[e["eval_loss"] for e in rows], name=_t(name), mode=_mode(rows),
            line=dict(color=PALETTE[i % len(PALETTE)], dash=DASHES[i % len(DASHES)], width=2.5),
            marker=dict(symbol=SYMBOLS[i % len(SYMBOLS)], size=7),
            hovertemplate=_t(name) + ": %{y:.4f}<extra></extra>",
        ))
    if not drawn:
        return _empty(fig, "No validation loss yet: curves appear as each strategy trains.")
    return fig


def optimization_figure(history: list[dict], best_epoch: int | None = None, log_scale: bool = False) -> go.Figure:
    """The optimized strategy's loss (1 − cosine) per epoch, training and validation."""
    fig = go.Figure()
    _layout(fig, "Input optimization", "Epoch", "Loss (1 − cosine)", log_scale)
    if not history:
        return _empty(fig, "Only the 'optimized' strategy has an optimization curve.")
    for i, (key, name) in enumerate((("train_loss", "Training contexts"), ("val_loss", "Validation contexts"))):
        rows = [h for h in history if report_text.finite(h.get(key))]
        if rows:
            fig.add_trace(go.Scatter(
                x=[h["epoch"] for h in rows], y=[h[key] for h in rows], name=name, mode="lines+markers",
                line=dict(color=PALETTE[i], dash=DASHES[i], width=2.5), marker=dict(symbol=SYMBOLS[i], size=6)))
    best = next((h for h in history if h.get("epoch") == best_epoch and report_text.finite(h.get("val_loss"))), None)
    if best is not None:
        fig.add_trace(go.Scatter(
            x=[best["epoch"]], y=[best["val_loss"]], name=f"Best epoch ({best_epoch})", mode="markers",
            marker=dict(symbol="star", size=18, color=PALETTE[4], line=dict(color="#000000", width=1.5))))
    return fig


# Up to this many symbols every cell prints its rank; beyond it the cells are too small to read and
# a page of 500 symbols would draw 250,000 labels, so the rank is in the hover only and the rows
# shrink to keep the figure under about 2,000 pixels.
CONFUSION_CELL_TEXT_MAX = 30
CONFUSION_ROW_PX = 48
CONFUSION_MAX_PX = 2000


def _confusion_cells(confusion: dict) -> tuple[list, list, list, int]:
    """(tokens, symbols, matrix, K when only some of K symbols are drawn else 0) of a stored confusion:
    the full matrix (``median_rank``, as runs stored it before), or the sparse form (``own_rank``,
    ``cells`` and the ``shown`` symbols: core.experiment.vocabulary.confusion), drawn for its shown symbols with
    None where a rank was not kept."""
    if "median_rank" in confusion:
        return confusion.get("tokens") or [], confusion.get("symbols") or [], confusion["median_rank"] or [], 0
    shown = confusion.get("shown") or []
    where = {k: n for n, k in enumerate(shown)}
    matrix = [[None] * len(shown) for _ in shown]
    for k in shown:
        matrix[where[k]][where[k]] = confusion["own_rank"][k]
    for i, j, v in confusion.get("cells") or []:
        if i in where and j in where:
            matrix[where[i]][where[j]] = v
    total = len(confusion.get("own_rank") or [])
    return ([confusion["tokens"][k] for k in shown], [confusion["symbols"][k] for k in shown], matrix,
            total if len(shown) < total else 0)


def confusion_figure(confusion: dict | None, title: str = "Which token comes up where") -> go.Figure:
    """A vocabulary's confusion matrix as a heatmap: rows are the new tokens, columns the symbols
    whose testing-positive contexts they are ranked on, each cell the token's median rank there.

    The colour is log10 of the rank (1 and 40,000 both stay readable) on a colour-vision-safe
    scale, dark for a good (low) rank; every cell also prints its rank (up to
    ``CONFUSION_CELL_TEXT_MAX`` symbols; beyond, the hover does), so nothing is read from colour
    alone. A good vocabulary has a dark diagonal and light everything else. A large vocabulary's
    result keeps only the closest confusions and names the most confused symbols: those are drawn,
    "–" where a rank was not kept.
    """
    fig = go.Figure()
    fig.update_layout(title=dict(text=_t(title), x=0.01), font=FONT, template="plotly_white",
                      margin=dict(l=140, r=20, t=60, b=110))
    tokens, symbols, matrix, shown_of = _confusion_cells(confusion or {})
    if not matrix:
        return _empty(fig, "No confusion matrix yet: it appears once a vocabulary has been evaluated.")
    if shown_of:
        fig.update_layout(title=dict(text=_t(f"{title}: the {len(matrix)} most confused of {shown_of} symbols")))
    tokens, symbols = [_t(t) for t in tokens], [_t(s) for s in symbols]
    z = [[math.log10(v) if report_text.finite(v) and v >= 1 else None for v in row] for row in matrix]
    text = [[(f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}") if report_text.finite(v) else "–" for v in row]
            for row in matrix]
    top = max((v for row in z for v in row if v is not None), default=1.0)
    size = len(matrix)
    labelled = size <= CONFUSION_CELL_TEXT_MAX
    cells = dict(texttemplate="%{text}", textfont=dict(size=13)) if labelled else {}
    fig.add_trace(go.Heatmap(
        z=z, x=symbols, y=tokens, text=text, **cells,
        colorscale="Viridis", zmin=0.0, zmax=max(top, 1.0),
        colorbar=dict(title=dict(text="median rank"), tickvals=list(range(int(max(top, 1.0)) + 1)),
                      ticktext=[f"{10 ** i:,}" for i in range(int(max(top, 1.0)) + 1)]),
        hovertemplate="%{y} on %{x}'s contexts: median rank %{text}<extra></extra>",
    ))
    row_px = CONFUSION_ROW_PX if labelled else max(2, min(CONFUSION_ROW_PX, CONFUSION_MAX_PX // size))
    fig.update_layout(height=max(320, 120 + row_px * size))
    fig.update_xaxes(title_text="Symbol whose testing-positive contexts are ranked", side="bottom",
                     linecolor="#595959")
    fig.update_yaxes(title_text="New token", autorange="reversed", linecolor="#595959")
    return fig


PATTERNS = ["", "/", "x", "."]  # bar fills: each series differs by its pattern too, not by colour alone


def rank_histogram(bins: dict | None, title: str = "Each token's median rank on its own contexts") -> go.Figure:
    """How many symbols' tokens rank in each band on their own testing contexts, before and after
    fine-tuning, side by side (``bins``: ``{"labels", "counts": {phase: [...]}}`` from the service's
    lexicon report). Every bar prints its count, and the phases differ by fill pattern as well as colour."""
    fig = go.Figure()
    fig.update_layout(title=dict(text=_t(title), x=0.01), font=FONT, template="plotly_white", barmode="group",
                      margin=dict(l=60, r=20, t=60, b=60), height=380,
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    counts = (bins or {}).get("counts") or {}
    if not counts:
        return _empty(fig, "No ranks yet: they appear once a vocabulary has been evaluated.")
    labels = [_t(label) for label in bins["labels"]]
    for n, (phase, ys) in enumerate(counts.items()):
        fig.add_trace(go.Bar(x=labels, y=ys, name=_t(f"{phase} fine-tuning"), text=ys, textposition="outside",
                             cliponaxis=False,
                             marker=dict(color=PALETTE[n % len(PALETTE)], line=dict(color="#1a1a1a", width=1),
                                         pattern=dict(shape=PATTERNS[n % len(PATTERNS)])),
                             hovertemplate=f"{_t(phase)} fine-tuning: %{{y}} symbol(s) ranked %{{x}}<extra></extra>"))
    fig.update_xaxes(title_text="median rank of the symbol's own token (1 = the model's first choice)",
                     type="category", linecolor="#595959")
    fig.update_yaxes(title_text="symbols", gridcolor="#d9d9d9", linecolor="#595959", rangemode="tozero")
    return fig
