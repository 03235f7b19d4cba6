"""A comparison's verdict on two axes: which strategy is best, which are tied with it, where the
axes disagree, and what a raw number hides.

The axes and their metrics are declared in the results schema (``results.AXES``, each metric's
``axis``): **fit** (the validation loss) and **meaning** (the MRR on the testing-positive contexts,
then the median rank on the testing-negative ones, after fine-tuning). On one axis, strategy A
*beats* B when, over the seeds they share, the paired 95 % interval of A − B on the axis's first
metric excludes 0 in A's favour; when that interval contains 0 the next metric of the axis may
decide, and when none separates them they are *tied* on that axis (one seed gives no interval, so
it separates nothing).

``judge(rows, members)`` reads the per-seed rows of every member and the per-strategy rows that
``summarize`` made, adds to each strategy row

* ``axes``: per axis its ``rank`` (by the axis's first metric's mean; equal means share the place),
  its ``outcome`` (``win``: the axis's winner, the best-ranked strategy that nothing beats on the
  axis and that beats another; ``loss``: beaten on the axis; ``tie``: neither), ``beats`` and
  ``beaten_by``, and ``vs_best``: the paired difference to the axis's best-ranked strategy;
* ``outcome`` over both axes: ``win`` for the winner, ``loss`` when another strategy beats it on an
  axis and it beats that one on neither, ``tie`` otherwise; ``tied_with_best`` (not a loss);
* ``diff_vs_best``: the paired difference of the primary metric to the best-ranked on it;
* ``flags``,

and returns the verdict:

    {"metric", "winner" (a strategy or None), "tied_with_winner", "flags": [{"strategy", "flag",
     "detail"}], "sentence", "seeds_to_separate", "axes": {axis: {"label", "metric", "metrics",
     "best", "winner"}}, "disagreements": [{axis: the strategy that axis favours, …}]}

The **winner** is a strategy that no other beats on either axis and that beats at least one (the
one that beats the most, then the best ranked on fit, then on meaning). When no strategy is
unbeaten although some are separated, the axes disagree (one strategy fits better, another's token
means its gloss better) and the verdict says so rather than choosing; when nothing is separated,
it says that too, and about how many seeds would likely separate the best from the runner-up.
The sentence says on which axis each strategy is separated, with each one's mean and 95 % interval.

Flags:

* ``leaks_into_negatives``: the median over seeds of the token's median rank on the testing-negative
  contexts after fine-tuning is ``leak_rank`` (default 10) or better: the model predicts the token
  where it does not belong;
* ``not_converged``: in most seeds the best step lies in the last 10 % of the steps, so the loss
  was still falling: train longer;
* ``unstable``: the spread over seeds (standard deviation) of the primary metric is larger than the
  gap to the neighbouring strategy in the ranking.

A flagged winner is never announced without its flags in the same sentence.
"""

from __future__ import annotations

import statistics

from core.experiment.analysis import results, stats
from core.jsonsafe import finite

LEAK_RANK = 10
LATE_FRACTION = 0.9  # a best step at or after 90 % of the steps counts as "at the end"

FLAG_TEXT = {
    "leaks_into_negatives": "leaks into the negative contexts",
    "not_converged": "had not converged",
    "unstable": "is unstable across seeds",
}


def _per_seed(members: list[dict], strategy: str, key: str) -> dict:
    return {m["seed"]: m.get(key) for m in members if m["strategy"] == strategy}


def _flags(row: dict, mine: list[dict], neighbour_gap: float | None, leak_rank: float) -> list[dict]:
    out = []
    leak = [m.get("median_rank_negative_after") for m in mine]
    leak = [v for v in leak if isinstance(v, (int, float))]
    if leak and statistics.median(leak) <= leak_rank:
        out.append({"flag": "leaks_into_negatives",
                    "detail": f"median rank {statistics.median(leak):g} on the testing-negative contexts after "
                              f"fine-tuning (threshold {leak_rank:g}): the model predicts the token where it "
                              "does not belong"})
    # A member ended by early stopping had converged by definition.
    late = [m for m in mine if m.get("best_step") is not None and m.get("steps") and not m.get("early_stopped")
            and m["best_step"] >= LATE_FRACTION * m["steps"]]
    if mine and len(late) * 2 > len(mine):
        out.append({"flag": "not_converged",
                    "detail": f"the best step lies in the last 10 % of training for {len(late)} of {len(mine)} "
                              "seed(s): the loss was still falling; train longer (more epochs, or until "
                              "converged)"})
    spread = row.get(f"{results.PRIMARY}_std")
    if spread is not None and neighbour_gap is not None and spread > neighbour_gap:
        out.append({"flag": "unstable",
                    "detail": f"the spread over seeds ({spread:.4f}) is larger than the gap to the neighbouring "
                              f"strategy ({neighbour_gap:.4f})"})
    return out


def _all_flags(rows: list[dict], members: list[dict], leak_rank: float) -> list[dict]:
    """Every row's flags (set on the row too), the ``unstable`` gap taken along the primary metric."""
    metric = results.PRIMARY
    ranked = sorted([r for r in rows if finite(r.get(metric))], key=lambda r: r[metric],
                    reverse=results.metric(metric).higher_is_better is not False)
    gaps = {}
    for i, r in enumerate(ranked):
        near = [abs(r[metric] - o[metric]) for o in (ranked[i - 1:i] + ranked[i + 1:i + 2])]
        gaps[r["strategy"]] = min(near) if near else None
    flags = []
    for r in rows:
        found = _flags(r, [m for m in members if m["strategy"] == r["strategy"]], gaps.get(r["strategy"]), leak_rank)
        r["flags"] = [f["flag"] for f in found]
        flags += [{"strategy": r["strategy"], **f} for f in found]
    return flags


# -- one axis --------------------------------------------------------------------------------------------

def decide(members: list[dict], a: str, b: str, metrics: list[results.Metric]) -> tuple[int | None, str | None, dict]:
    """Whether ``a`` beats ``b`` on an axis's ``metrics``: (+1 a beats b, −1 b beats a, 0 tied, None no
    paired numbers), the key that decided (or the first with paired numbers), and its paired
    difference a − b ({"n", "mean", "std", "ci95"})."""
    first: tuple[str, dict] | None = None
    for m in metrics:
        key = m.judged_key
        diff = stats.paired_difference(_per_seed(members, a, key), _per_seed(members, b, key))
        if diff["n"] == 0:
            continue
        first = first or (key, diff)
        if not stats.contains_zero(diff["ci95"]):
            return (1 if (diff["mean"] > 0) == bool(m.higher_is_better) else -1), key, diff
    return (None, None, {}) if first is None else (0, first[0], first[1])


def _better(m: results.Metric, a: float, b: float) -> bool:
    return a > b if m.higher_is_better else a < b


def judge_axis(axis: results.Axis, rows: list[dict], members: list[dict]) -> dict:
    """One axis: ranks, who beats whom, the winner; sets ``row["axes"][axis.key]`` on every row.
    Returns {"key", "label", "metric", "metrics", "best", "winner", "pairs": {(a, b): (sign, key, diff)}}."""
    metrics = results.axis_metrics(axis.key)
    lead = next((m for m in metrics if any(finite(r.get(m.judged_key)) for r in rows)), None)
    names = [r["strategy"] for r in rows]
    pairs: dict[tuple[str, str], tuple] = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            sign, key, diff = decide(members, a, b, metrics)
            pairs[(a, b)] = (sign, key, diff)
            pairs[(b, a)] = (None if sign is None else -sign, key,
                             {**diff, "mean": -diff["mean"], "ci95": [-diff["ci95"][1], -diff["ci95"][0]]
                              if diff.get("ci95") else None} if diff else {})
    beats = {a: [b for b in names if b != a and pairs[(a, b)][0] == 1] for a in names}
    beaten_by = {a: [b for b in names if b != a and pairs[(b, a)][0] == 1] for a in names}
    scored = {r["strategy"]: r[lead.judged_key] for r in rows if lead and finite(r.get(lead.judged_key))}
    place = stats.places(scored, lower_is_better=lead is not None and lead.higher_is_better is False)
    ranked = sorted(scored, key=lambda s: place[s])
    best = ranked[0] if ranked else None
    winner = next((s for s in ranked if beats[s] and not beaten_by[s]), None)
    for r in rows:
        s = r["strategy"]
        known = s in scored or any(pairs[(s, o)][0] is not None for o in names if o != s)
        outcome = "win" if s == winner else "loss" if beaten_by[s] else "tie" if known else None
        vs = pairs.get((s, best), (None, None, {}))
        r.setdefault("axes", {})[axis.key] = {
            "rank": place.get(s), "outcome": outcome, "beats": beats[s], "beaten_by": beaten_by[s],
            "vs_best": {"metric": vs[1], "mean": vs[2].get("mean"), "ci95": vs[2].get("ci95")} if vs[1] else None}
    return {"key": axis.key, "label": axis.label, "better": axis.better, "metric": lead.judged_key if lead else None,
            "metrics": [m.judged_key for m in metrics], "best": best, "winner": winner, "pairs": pairs}


# -- both axes -------------------------------------------------------------------------------------------

def _overall(rows: list[dict], axes: dict[str, dict]) -> tuple[str | None, list[dict]]:
    """The winner over both axes and the pairs the axes disagree on; sets ``outcome`` and
    ``tied_with_best`` on every row (see the module docstring)."""
    names = [r["strategy"] for r in rows]
    beats = {a: {b for ax in axes.values() for b in names if b != a and ax["pairs"][(a, b)][0] == 1} for a in names}
    finished = [r["strategy"] for r in rows if any(r["axes"][k]["outcome"] for k in axes)]
    candidates = [s for s in finished if beats[s] and not any(s in beats[o] for o in names)]
    inf = float("inf")
    order = {r["strategy"]: (-len(beats[r["strategy"]]), *[r["axes"][k]["rank"] or inf for k in axes]) for r in rows}
    winner = min(candidates, key=order.get) if candidates else None
    disagreements = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if b in beats[a] and a in beats[b]:
                sides = {k: (a if ax["pairs"][(a, b)][0] == 1 else b) for k, ax in axes.items()
                         if ax["pairs"][(a, b)][0] in (1, -1)}
                disagreements.append(sides)
    ranks = {r["strategy"]: r["axes"] for r in rows}
    disagreements.sort(key=lambda d: sum(ranks[s][k]["rank"] or inf for k, s in d.items()))
    for r in rows:
        s = r["strategy"]
        lost = any(s in beats[o] and o not in beats[s] for o in names)
        r["outcome"] = None if s not in finished else "win" if s == winner else "loss" if lost else "tie"
        r["tied_with_best"] = r["outcome"] in ("win", "tie")
    return winner, disagreements


def _name(key: str) -> str:
    """A key's metric as a sentence names it: "validation loss", "MRR, testing-positive"."""
    return results.metric_of_key(key).phrase


def _names(strategies: list[str], label: dict[str, str]) -> str:
    return ", ".join(label[s] for s in strategies)


def _clause(ax: dict, ref: str, others: list[str], by: dict[str, dict], label: dict[str, str]) -> str:
    """Where ``ref`` stands against ``others`` on one axis, with the numbers that say so."""
    what = ax["label"]
    if ax["metric"] is None:
        return f"{what} not measured"
    sign = {o: ax["pairs"][(ref, o)][0] for o in others}
    sep, tied = [o for o in others if sign[o] == 1], [o for o in others if sign[o] == 0]
    behind = [o for o in others if sign[o] == -1]
    rest = ([f"behind {_names(behind, label)}"] if behind else []) + \
        ([f"tied with {_names(tied, label)}"] if tied and (sep or behind) else [])
    if sep:
        head = ", ".join([f"separated on {what} from {_names(sep, label)}"] + rest)
    elif behind:
        head = f"on {what}, " + ", ".join(rest)
    else:
        head = f"tied on {what}"
    against = [o for o in others if sign[o] is not None]
    lead = ax["metric"]
    numbers = f"{_name(lead)} {results.with_interval(lead, by[ref])}"
    if against:
        numbers += " against " + ", ".join((f"{label[o]} " if len(others) > 1 else "") +
                                           results.with_interval(lead, by[o]) for o in against)
    for o in against:
        key = ax["pairs"][(ref, o)][1]
        if sign[o] in (1, -1) and key != lead:
            numbers += f"; {_pair(ax, ref, o, by, label)}"
    missing = [o for o in others if sign[o] is None]
    if missing:
        numbers += f"; no {what} numbers for {_names(missing, label)}"
    return f"{head} ({numbers})"


def _seeds_text(n: int) -> str:
    return "1 seed: no intervals" if n < 2 else f"{n} seeds; 95 % intervals over seeds in brackets"


def _needed(axes: dict[str, dict], by: dict[str, dict]) -> tuple[int | None, str | None, str | None, str | None]:
    """The fewest seeds that would likely separate an axis's best from its runner-up on the axis's
    first metric, over the axes where they are tied: (seeds, axis label, best, runner-up), or Nones."""
    found = []
    for ax in axes.values():
        ranked = sorted((s for s in by if by[s]["axes"][ax["key"]]["rank"] is not None),
                        key=lambda s: by[s]["axes"][ax["key"]]["rank"])
        if len(ranked) < 2:
            continue
        sign, key, diff = ax["pairs"][(ranked[0], ranked[1])]
        n = stats.seeds_to_separate(diff) if sign == 0 and key == ax["metric"] else None
        if n is not None:
            found.append((n, ax["label"], ranked[0], ranked[1]))
    return min(found) if found else (None, None, None, None)


def _sentence(rows: list[dict], axes: dict[str, dict], winner: str | None, disagreements: list[dict]) -> tuple[str, int | None]:
    """The verdict's sentence (before its flags) and the seeds that would likely separate the best."""
    by = {r["strategy"]: r for r in rows}
    label = {r["strategy"]: r.get("label") or r["strategy"] for r in rows}
    finished = [r["strategy"] for r in rows if r.get("outcome")]
    n = max((r.get("seeds") or 1 for r in rows if r["strategy"] in finished), default=1)
    first = next(iter(axes.values()))
    ref = winner or first["best"] or next((ax["best"] for ax in axes.values() if ax["best"]), finished[0])

    def clauses(who: str) -> str:
        return "; ".join(_clause(ax, who, [o for o in finished if o != who], by, label) for ax in axes.values())

    needed, where, best, runner = _needed(axes, by)
    if winner is not None:
        sentence = f"{label[winner]} is best ({_seeds_text(n)}): {clauses(winner)}."
        for d in disagreements:
            sentence += " The axes disagree on " + " and ".join(label[s] for s in dict.fromkeys(d.values())) + \
                ": " + "; ".join(f"with {label[s]}, {axes[k]['better']}" for k, s in d.items()) + "."
    elif disagreements:
        d = disagreements[0]
        (x, a), (y, b) = list(d.items())[:2]
        ax, ay = axes[x], axes[y]
        sentence = (f"The two axes disagree ({_seeds_text(n)}): with {label[a]}, {ax['better']} "
                    f"({_pair(ax, a, b, by, label)}), but with {label[b]}, {ay['better']} "
                    f"({_pair(ay, b, a, by, label)}); neither is best on both, so choose by what matters more to "
                    "you.")
        if len(finished) > 2:
            sentence += f" {label[first['best'] or a]}: {clauses(first['best'] or a)}."
    elif any(ax["pairs"][(a, b)][0] == 1 for ax in axes.values() for a in finished for b in finished if a != b):
        sentence = f"No strategy is unbeaten on both axes ({_seeds_text(n)}): {label[ref]} is {clauses(ref)}."
    elif n < 2:
        sentence = (f"Nothing separates the strategies: one seed cannot separate strategies, as it gives no interval "
                    f"({label[ref]}: {clauses(ref)}); run at least 3 seeds with --seeds.")
    else:
        more = f"; about {needed} seeds would likely separate {label[best]} from {label[runner]} on {where}" \
            if needed else ""
        sentence = f"Nothing separates the strategies ({_seeds_text(n)}): {label[ref]} is {clauses(ref)}{more}."
    return sentence, needed


def _pair(ax: dict, a: str, b: str, by: dict[str, dict], label: dict[str, str]) -> str:
    """The numbers that decided ``a`` over ``b`` on an axis: "MRR, testing-positive 0.718 [..] against 0.015 [..]"."""
    key = ax["pairs"][(a, b)][1] or ax["metric"]
    return f"{_name(key)} {results.with_interval(key, by[a])} against {label[b]} {results.with_interval(key, by[b])}"


def judge(rows: list[dict], members: list[dict], *, leak_rank: float = LEAK_RANK) -> dict:
    """The verdict (see the module docstring); adds ``axes``, ``outcome``, ``tied_with_best``,
    ``diff_vs_best`` and ``flags`` to every row in place. ``members`` are the per-seed rows
    (``Member.row()``)."""
    flags = _all_flags(rows, members, leak_rank)
    axes = {a.key: judge_axis(a, rows, members) for a in results.AXES}
    winner, disagreements = _overall(rows, axes)
    primary = next(ax for ax in axes.values() if results.PRIMARY in ax["metrics"])
    for r in rows:
        vs = r["axes"][primary["key"]]["vs_best"]
        r["diff_vs_best"] = {"mean": 0.0, "ci95": [0.0, 0.0]} if r["strategy"] == primary["best"] else \
            {"mean": vs["mean"], "ci95": vs["ci95"]} if vs and vs["metric"] == results.PRIMARY else None
    summary = {k: {key: ax[key] for key in ("label", "metric", "metrics", "best", "winner")} for k, ax in axes.items()}
    label = {r["strategy"]: r.get("label") or r["strategy"] for r in rows}
    finished = [r for r in rows if r.get("outcome")]
    base = {"metric": results.PRIMARY, "winner": winner, "tied_with_winner": [], "flags": flags,
            "seeds_to_separate": None, "axes": summary, "disagreements": disagreements}
    if not finished:
        return {**base, "sentence": "No strategy finished, so there is nothing to compare."}
    if len(finished) == 1:
        only = finished[0]["strategy"]
        return {**base, "winner": None, "sentence": f"Only {label[only]} finished, so there is nothing to compare."}
    sentence, needed = _sentence(rows, axes, winner, disagreements)
    ref = winner or primary["best"] or finished[0]["strategy"]
    mine = [f for f in flags if f["strategy"] == ref]
    if mine:
        sentence = sentence[:-1] + "; but " + label[ref] + " " + " and ".join(FLAG_TEXT[f["flag"]] for f in mine) + \
            " (" + "; ".join(f["detail"] for f in mine) + ")."
    others = [f for f in flags if f["strategy"] != ref]
    if others:
        sentence += " Flags: " + "; ".join(f"{label[f['strategy']]} {FLAG_TEXT[f['flag']]}" for f in others) + "."
    tied = [r["strategy"] for r in rows if r.get("outcome") == "tie"] if winner else []
    return {**base, "tied_with_winner": tied, "sentence": sentence, "seeds_to_separate": needed}
