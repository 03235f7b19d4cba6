"""A comparison over several symbols: each symbol is one data point.

Every symbol gets its own comparison and verdict (``core.experiment.analysis.verdict``). Across symbols,
``aggregate(symbols)`` makes one row per strategy:

* ``ranks``: the strategy's rank on each symbol by the primary metric's mean over seeds (1 = best;
  equal means share the average of their places), and ``mean_rank`` over the symbols;
* ``wins`` / ``ties`` / ``losses``: on how many symbols it was the winner, was not separated from
  the best (tied with it, or the best where nothing separated the strategies), or was separated
  from the best (its paired 95 % interval against the best excludes 0);
* every metric of the results schema as the mean over symbols of the per-symbol means, with the
  standard deviation and the 95 % t-interval over symbols (``<key>_mean`` / ``_std`` / ``_ci95``):
  a symbol counts once however many seeds it ran;
* ``flags``: the flags the strategy earned on any symbol.

The overall verdict names a winner only when one strategy never loses and wins somewhere: the
one with the best mean rank among those that never lose; the others that never lose are tied
with it. Otherwise nothing separates them across these symbols, and the sentence gives the mean
ranks and records. A flagged winner is named with its flags, per symbol, in the same sentence.
"""

from __future__ import annotations

import statistics

from core.experiment.analysis import results, stats
from core.experiment.analysis.verdict import FLAG_TEXT


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _places(values: dict[str, float], lower_is_better: bool) -> dict[str, float]:
    """Rank 1 for the best; equal values share the average of their places."""
    ordered = sorted(values.items(), key=lambda kv: kv[1], reverse=not lower_is_better)
    out: dict[str, float] = {}
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1][1] == ordered[i][1]:
            j += 1
        for k in range(i, j + 1):
            out[ordered[k][0]] = (i + j) / 2 + 1
        i = j + 1
    return out


def outcome_on(symbol: dict, strategy: str) -> str | None:
    """'win', 'tie' or 'loss' for one strategy on one symbol's result (None if it did not finish there)."""
    verdict = symbol.get("verdict") or {}
    row = next((r for r in symbol.get("rows", []) if r.get("strategy") == strategy), None)
    if row is None or not isinstance(row.get(results.PRIMARY), (int, float)):
        return None
    if verdict.get("winner") == strategy:
        return "win"
    if verdict.get("winner") is None or row.get("tied_with_best"):
        return "tie"
    return "loss"


def aggregate(symbols: list[dict]) -> tuple[list[dict], dict]:
    """Rows per strategy across ``symbols`` (each a one-symbol result dict with ``spec``, ``rows``
    and ``verdict``) and the overall verdict."""
    metric = results.PRIMARY
    lower = results.metric(metric).higher_is_better is False
    strategies = list(dict.fromkeys(r["strategy"] for s in symbols for r in s.get("rows", [])))
    places: dict[str, dict[str, float]] = {}
    for s in symbols:
        scored = {r["strategy"]: r[metric] for r in s.get("rows", []) if isinstance(r.get(metric), (int, float))}
        places[s["spec"]] = _places(scored, lower)
    rows = []
    for strategy in strategies:
        mine = [(s, next(r for r in s["rows"] if r["strategy"] == strategy)) for s in symbols
                if any(r["strategy"] == strategy for r in s.get("rows", []))]
        first = mine[0][1]
        ranks = {s["spec"]: places[s["spec"]].get(strategy) for s, _ in mine}
        known = [v for v in ranks.values() if v is not None]
        outcomes = [outcome_on(s, strategy) for s, _ in mine]
        row = {"strategy": strategy, "label": first.get("label", strategy),
               "calculated_output": first.get("calculated_output"), "symbols": len(mine),
               "seeds": first.get("seeds"), "stopped": any(r.get("stopped") for _, r in mine),
               "ranks": ranks, "mean_rank": _round(statistics.fmean(known)) if known else None,
               "wins": outcomes.count("win"), "ties": outcomes.count("tie"), "losses": outcomes.count("loss"),
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


def _record(row: dict) -> str:
    parts = [f"{row[k]} {SINGULAR[k] if row[k] == 1 else k}" for k in ("wins", "ties", "losses") if row[k]]
    rank = f"mean rank {row['mean_rank']:.1f}" if row["mean_rank"] is not None else "no rank"
    return f"{rank}; {', '.join(parts) or 'no result'}"


def _grouped(flags: list[dict], n: int) -> dict[str, str]:
    """Each flag with where it was raised: 'every symbol', or the symbols by name."""
    out: dict[str, list[str]] = {}
    for f in flags:
        out.setdefault(f["flag"], []).append(f["symbol"])
    return {flag: (f"all {n} symbols" if len(set(where)) == n and n > 1 else ", ".join(dict.fromkeys(where)))
            for flag, where in out.items()}


def judge_across(rows: list[dict], symbols: list[dict]) -> dict:
    """The overall verdict over symbols (see the module docstring)."""
    metric = results.PRIMARY
    label = {r["strategy"]: r.get("label") or r["strategy"] for r in rows}
    flags = [{**f, "symbol": s["spec"], "detail": f"on {s['spec']}: {f['detail']}"}
             for s in symbols for f in (s.get("verdict") or {}).get("flags", [])]
    n = len(symbols)
    of = max((len(s.get("rows", [])) for s in symbols), default=0)
    ranked = [r for r in rows if r["mean_rank"] is not None]
    if not ranked:
        return {"metric": metric, "winner": None, "tied_with_winner": [], "flags": flags, "symbols": n,
                "sentence": "No strategy finished on any symbol, so there is nothing to compare."}
    unbeaten = [r for r in ranked if r["losses"] == 0 and r["symbols"] == n]
    winners = [r for r in unbeaten if r["wins"] > 0]
    head = f"Across {n} symbol{'s' if n != 1 else ''} ({of} strategies, ranked by {results.metric(metric).label.lower()})"
    if winners:
        best = min(winners, key=lambda r: r["mean_rank"])
        tied = [r["strategy"] for r in unbeaten if r is not best]
        sentence = (f"{head}, {label[best['strategy']]} is best: it never loses ({_record(best)} of {of})")
        sentence += f"; tied with {', '.join(label[s] for s in tied)}." if tied else \
            "; every other strategy loses on at least one symbol."
        winner = best["strategy"]
    else:
        best = min(ranked, key=lambda r: r["mean_rank"])
        others = sorted((r for r in ranked if r is not best), key=lambda r: r["mean_rank"])[:2]
        why = "every strategy loses on at least one symbol" if not unbeaten else \
            "no strategy wins on any symbol: the seeds do not separate them"
        sentence = f"{head}, nothing is best on every symbol ({why}): {label[best['strategy']]} has the best " \
                   f"mean rank ({_record(best)})"
        sentence += "".join(f", {label[r['strategy']]} {_record(r)}" for r in others)
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
    return {"metric": metric, "winner": winner, "tied_with_winner": tied, "flags": flags, "symbols": n,
            "sentence": sentence}
