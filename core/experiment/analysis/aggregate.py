"""A comparison over several symbols: each symbol is one data point.

Every symbol gets its own comparison and verdict on two axes, fit and meaning
(``core.experiment.analysis.verdict``). Across symbols, ``aggregate(symbols)`` makes one row per
strategy:

* ``axes``: per axis (``results.AXES``) the strategy's ``ranks`` on each symbol by the axis's first
  metric's mean over seeds (1 = best; equal means share the average of their places), their
  ``mean_rank``, and its ``wins`` / ``ties`` / ``losses`` on that axis from each symbol's verdict:
  the axis's winner there, neither, or beaten there on that axis;
* ``ranks`` / ``mean_rank``: the fit axis's (the primary metric's), by which the rows are ordered;
* ``wins`` / ``ties`` / ``losses`` over both axes: on how many symbols it was the verdict's winner,
  was not beaten (tied with the winner, or nothing separated the strategies, or the axes disagreed
  about it), or lost (another strategy beat it on an axis and it beat that one on neither);
* every metric of the results schema as the mean over symbols of the per-symbol means, with the
  standard deviation and the 95 % t-interval over symbols (``<key>_mean`` / ``_std`` / ``_ci95``):
  a symbol counts once however many seeds it ran;
* ``flags``: the flags the strategy earned on any symbol.

The overall verdict names a winner only when one strategy never loses and wins somewhere: the
one with the best mean rank on fit, then on meaning, among those that never lose; the others that
never lose are tied with it. Otherwise nothing separates them across these symbols, and the
sentence gives both mean ranks and records, and says when the axes lead to different strategies.
A flagged winner is named with its flags, per symbol, in the same sentence.
"""

from __future__ import annotations

import statistics

from core.experiment.analysis import results, stats
from core.experiment.analysis.verdict import FLAG_TEXT


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def outcome_on(symbol: dict, strategy: str, axis: str | None = None) -> str | None:
    """'win', 'tie' or 'loss' for one strategy on one symbol's result, over both axes or on ``axis``
    (None if it did not finish there)."""
    row = next((r for r in symbol.get("rows", []) if r.get("strategy") == strategy), None)
    if row is None:
        return None
    return row.get("outcome") if axis is None else (row.get("axes") or {}).get(axis, {}).get("outcome")


def _axis_places(symbols: list[dict], axis: str) -> dict[str, dict[str, float]]:
    """{symbol: {strategy: place}} on one axis, by the axis's first metric with numbers there."""
    out = {}
    for s in symbols:
        rows = s.get("rows", [])
        lead = next((m for m in results.axis_metrics(axis)
                     if any(isinstance(r.get(m.judged_key), (int, float)) for r in rows)), None)
        scored = {r["strategy"]: r[lead.judged_key] for r in rows if lead and isinstance(r.get(lead.judged_key), (int, float))}
        out[s["spec"]] = stats.places(scored, lower_is_better=lead is not None and lead.higher_is_better is False)
    return out


def _counts(outcomes: list[str | None]) -> dict:
    return {"wins": outcomes.count("win"), "ties": outcomes.count("tie"), "losses": outcomes.count("loss")}


def aggregate(symbols: list[dict]) -> tuple[list[dict], dict]:
    """Rows per strategy across ``symbols`` (each a one-symbol result dict with ``spec``, ``rows``
    and ``verdict``) and the overall verdict."""
    strategies = list(dict.fromkeys(r["strategy"] for s in symbols for r in s.get("rows", [])))
    places = {a.key: _axis_places(symbols, a.key) for a in results.AXES}
    primary = next(a.key for a in results.AXES if results.PRIMARY in [m.key for m in results.axis_metrics(a.key)])
    rows = []
    for strategy in strategies:
        mine = [(s, next(r for r in s["rows"] if r["strategy"] == strategy)) for s in symbols
                if any(r["strategy"] == strategy for r in s.get("rows", []))]
        first = mine[0][1]
        axes = {}
        for a in results.AXES:
            ranks = {s["spec"]: places[a.key][s["spec"]].get(strategy) for s, _ in mine}
            known = [v for v in ranks.values() if v is not None]
            axes[a.key] = {"ranks": ranks, "mean_rank": _round(statistics.fmean(known)) if known else None,
                           **_counts([outcome_on(s, strategy, a.key) for s, _ in mine])}
        row = {"strategy": strategy, "label": first.get("label", strategy),
               "calculated_output": first.get("calculated_output"), "symbols": len(mine),
               "seeds": first.get("seeds"), "stopped": any(r.get("stopped") for _, r in mine),
               "ranks": axes[primary]["ranks"], "mean_rank": axes[primary]["mean_rank"],
               **_counts([outcome_on(s, strategy) for s, _ in mine]), "axes": axes,
               "flags": sorted({f for _, r in mine for f in r.get("flags", [])})}
        for key in results.numeric_keys():
            s = stats.summary([r.get(key) for _, r in mine])
            row[key] = row[f"{key}_mean"] = _round(s["mean"])
            row[f"{key}_std"] = _round(s["std"])
            row[f"{key}_ci95"] = [_round(v) for v in s["ci95"]] if s["ci95"] else None
        rows.append(row)
    rows.sort(key=lambda r: (r["mean_rank"] if r["mean_rank"] is not None else float("inf"), r["losses"]))
    return rows, judge_across(rows, symbols)


SINGULAR = {"wins": "win", "ties": "tie", "losses": "loss"}


def _record(counts: dict) -> str:
    parts = [f"{counts[k]} {SINGULAR[k] if counts[k] == 1 else k}" for k in ("wins", "ties", "losses") if counts[k]]
    return ", ".join(parts) or "no result"


def _axes_record(row: dict) -> str:
    """Each axis's mean rank and record: "fit: mean rank 1.3, 2 wins, 1 tie; meaning: …"."""
    out = []
    for a in results.AXES:
        ax = row["axes"][a.key]
        rank = f"mean rank {ax['mean_rank']:.1f}" if ax["mean_rank"] is not None else "no rank"
        out.append(f"{a.label}: {rank}, {_record(ax)}")
    return "; ".join(out)


def _order(row: dict) -> tuple:
    """Best first: by the mean rank of each axis in turn (fit, then meaning)."""
    return tuple(row["axes"][a.key]["mean_rank"] if row["axes"][a.key]["mean_rank"] is not None else float("inf")
                 for a in results.AXES)


def _grouped(flags: list[dict], n: int) -> dict[str, str]:
    """Each flag with where it was raised: 'every symbol', or the symbols by name."""
    out: dict[str, list[str]] = {}
    for f in flags:
        out.setdefault(f["flag"], []).append(f["symbol"])
    return {flag: (f"all {n} symbols" if len(set(where)) == n and n > 1 else ", ".join(dict.fromkeys(where)))
            for flag, where in out.items()}


def _leaders(rows: list[dict]) -> dict[str, str | None]:
    """Per axis the strategy with the best mean rank (None where no strategy has one)."""
    out = {}
    for a in results.AXES:
        ranked = [r for r in rows if r["axes"][a.key]["mean_rank"] is not None]
        out[a.key] = min(ranked, key=lambda r: r["axes"][a.key]["mean_rank"])["strategy"] if ranked else None
    return out


def judge_across(rows: list[dict], symbols: list[dict]) -> dict:
    """The overall verdict over symbols (see the module docstring)."""
    metric = results.PRIMARY
    label = {r["strategy"]: r.get("label") or r["strategy"] for r in rows}
    flags = [{**f, "symbol": s["spec"], "detail": f"on {s['spec']}: {f['detail']}"}
             for s in symbols for f in (s.get("verdict") or {}).get("flags", [])]
    n = len(symbols)
    of = max((len(s.get("rows", [])) for s in symbols), default=0)
    ranked = [r for r in rows if any(r["axes"][a.key]["mean_rank"] is not None for a in results.AXES)]
    leaders = _leaders(rows)
    axes = {a.key: {"label": a.label, "leader": leaders[a.key]} for a in results.AXES}
    if not ranked:
        return {"metric": metric, "winner": None, "tied_with_winner": [], "flags": flags, "symbols": n, "axes": axes,
                "sentence": "No strategy finished on any symbol, so there is nothing to compare."}
    unbeaten = [r for r in ranked if r["losses"] == 0 and r["symbols"] == n]
    winners = [r for r in unbeaten if r["wins"] > 0]
    judged = " and on ".join(a.label for a in results.AXES)
    head = f"Across {n} symbol{'s' if n != 1 else ''} ({of} strategies, judged on {judged})"
    if winners:
        best = min(winners, key=_order)
        tied = [r["strategy"] for r in unbeaten if r is not best]
        sentence = (f"{head}, {label[best['strategy']]} is best: it never loses ({_record(best)} of {n}; "
                    f"{_axes_record(best)})")
        sentence += f"; tied with {', '.join(label[s] for s in tied)}." if tied else \
            "; every other strategy loses on at least one symbol."
        winner = best["strategy"]
    else:
        best = min(ranked, key=_order)
        others = sorted((r for r in ranked if r is not best), key=_order)[:2]
        why = "every strategy loses on at least one symbol" if not unbeaten else \
            "no strategy wins on any symbol: the seeds do not separate them"
        sentence = f"{head}, nothing is best on every symbol ({why}): " + "; ".join(
            f"{label[r['strategy']]} ({_record(r)}; {_axes_record(r)})" for r in [best, *others])
        if len(set(leaders.values())) > 1 and None not in leaders.values():
            sentence += "; the axes lead to different strategies: " + ", ".join(
                f"{label[s]} has the best mean rank on {axes[k]['label']}" for k, s in leaders.items())
        sentence += ". Each symbol is one data point: more symbols or more seeds would tell them apart."
        winner, tied = None, []
    mine = [f for f in flags if f["strategy"] == best["strategy"]]
    if mine:
        sentence = sentence[:-1] + "; but " + label[best["strategy"]] + " " + " and ".join(
            f"{FLAG_TEXT[flag]} on {where}" for flag, where in _grouped(mine, n).items()) + "."
    others = [f for f in flags if f["strategy"] != best["strategy"]]
    if others:
        parts = []
        for flag in FLAG_TEXT:
            who = {}
            for f in others:
                if f["flag"] == flag:
                    who.setdefault(f["strategy"], []).append(f)
            if who:
                parts.append(f"{FLAG_TEXT[flag]}: " + ", ".join(
                    f"{label.get(s, s)} (on {_grouped(fs, n)[flag]})" for s, fs in who.items()))
        sentence += " Other flags (" + "; ".join(parts) + ")."
    return {"metric": metric, "winner": winner, "tied_with_winner": tied, "flags": flags, "symbols": n, "axes": axes,
            "sentence": sentence}
