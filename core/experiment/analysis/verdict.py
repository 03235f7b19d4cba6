"""A comparison's verdict: which strategy is best, which are tied with it, and what a raw loss hides.

``judge(rows, members)`` reads the per-seed rows of every member and the per-strategy rows that
``summarize`` made, adds to each strategy row its paired difference to the best one on the primary
metric (``diff_vs_best``), whether that difference's 95 % interval contains 0 (``tied_with_best``)
and its ``flags``, and returns the verdict:

    {"metric", "winner" (a strategy or None), "tied_with_winner", "flags": [{"strategy", "flag",
     "detail"}], "sentence", "seeds_to_separate"}

The winner is the strategy with the best mean when at least one other strategy is separated from
it; when every other one is tied with it (or there is one seed, or one strategy), nothing separates
them and the winner is None: the sentence says so, and about how many seeds would separate the
best from the runner-up. Flags:

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

LEAK_RANK = 10
LATE_FRACTION = 0.9  # a best step at or after 90 % of the steps counts as "at the end"

FLAG_TEXT = {
    "leaks_into_negatives": "leaks into the negative contexts",
    "not_converged": "had not converged",
    "unstable": "is unstable across seeds",
}


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


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


def judge(rows: list[dict], members: list[dict], *, leak_rank: float = LEAK_RANK) -> dict:
    """The verdict (see the module docstring); adds ``diff_vs_best``, ``tied_with_best`` and
    ``flags`` to every row in place. ``members`` are the per-seed rows (``Member.row()``)."""
    metric = results.PRIMARY
    lower = results.metric(metric).higher_is_better is False
    label = {r["strategy"]: r.get("label") or r["strategy"] for r in rows}
    scored = [r for r in rows if isinstance(r.get(metric), (int, float))]
    ranked = sorted(scored, key=lambda r: r[metric], reverse=not lower)
    gaps = {}
    for i, r in enumerate(ranked):
        near = [abs(r[metric] - o[metric]) for o in (ranked[i - 1:i] + ranked[i + 1:i + 2])]
        gaps[r["strategy"]] = min(near) if near else None
    flags = []
    for r in rows:
        mine = [m for m in members if m["strategy"] == r["strategy"]]
        found = _flags(r, mine, gaps.get(r["strategy"]), leak_rank)
        r["flags"] = [f["flag"] for f in found]
        flags += [{"strategy": r["strategy"], **f} for f in found]
    if not ranked:
        return {"metric": metric, "winner": None, "tied_with_winner": [], "flags": flags,
                "sentence": "No strategy finished, so there is nothing to compare.", "seeds_to_separate": None}

    best = ranked[0]
    best_seeds = _per_seed(members, best["strategy"], metric)
    tied, separated = [], []
    for r in rows:
        if r is best:
            r["diff_vs_best"], r["tied_with_best"] = {"mean": 0.0, "ci95": [0.0, 0.0]}, True
            continue
        diff = stats.paired_difference(_per_seed(members, r["strategy"], metric), best_seeds)
        r["diff_vs_best"] = {"mean": diff["mean"], "ci95": diff["ci95"]}
        r["tied_with_best"] = stats.contains_zero(diff["ci95"])
        (tied if r["tied_with_best"] else separated).append(r["strategy"])

    n_seeds = best.get("seeds", 1)
    runner_up = ranked[1] if len(ranked) > 1 else None
    needed = None
    if runner_up is not None:
        needed = stats.seeds_to_separate(stats.paired_difference(_per_seed(members, runner_up["strategy"], metric),
                                                                 best_seeds))
    what = results.metric(metric).label.lower()
    best_text = f"{label[best['strategy']]} has the best {what} ({_fmt(best.get(metric))}"
    if best.get(f"{metric}_ci95"):
        lo, hi = best[f"{metric}_ci95"]
        best_text += f", 95 % interval {_fmt(lo)} to {_fmt(hi)}"
    best_text += f", {n_seeds} seed{'s' if n_seeds != 1 else ''})"
    best_flags = [f for f in flags if f["strategy"] == best["strategy"]]

    if len(ranked) == 1:
        winner, sentence = None, f"Only {label[best['strategy']]} finished, so there is nothing to compare."
    elif not separated:
        winner = None
        why = "one seed cannot separate strategies" if n_seeds < 2 else \
            "every other strategy's paired 95 % interval contains no difference"
        more = f"; about {needed} seeds would likely separate it from {label[runner_up['strategy']]}" \
            if needed else ""
        sentence = f"Nothing separates the strategies: {best_text}, but {why}{more}."
        if n_seeds < 2:
            sentence = sentence[:-1] + " (run at least 3 seeds with --seeds)."
    else:
        winner = best["strategy"]
        sentence = f"{best_text} and is better than {', '.join(label[s] for s in separated)}"
        sentence += f"; tied with {', '.join(label[s] for s in tied)}." if tied else "."
    if best_flags:
        sentence = sentence[:-1] + "; but " + label[best["strategy"]] + " " + \
            " and ".join(FLAG_TEXT[f["flag"]] for f in best_flags) + \
            " (" + "; ".join(f["detail"] for f in best_flags) + ")."
    others = [f for f in flags if f["strategy"] != best["strategy"]]
    if others:
        sentence += " Flags: " + "; ".join(f"{label[f['strategy']]} {FLAG_TEXT[f['flag']]}" for f in others) + "."
    return {"metric": metric, "winner": winner, "tied_with_winner": tied if winner else [], "flags": flags,
            "sentence": sentence, "seeds_to_separate": needed}
