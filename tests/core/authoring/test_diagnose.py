"""Why a draft failed, counted by reason, and only the changes that would help (checked by applying them)."""

from __future__ import annotations

import pytest

from core.authoring import diagnose
from core.authoring.draft import DraftConfig
from core.authoring.items import item
from core.spec.errors import InputError


def _row(kind, context, why="", best=None, status="dropped", reason=""):
    it = item(kind, "sentences", context + " bakery.", context, f"{context} [T].")
    it.update(why=why, best_rank=best, status=status, reason=reason or why,
              ranks={} if best is None else {"bakery": best})
    return it


def _kept_if(rows, config):
    """An independent count: the rows that a draft with ``config`` would keep (length, then rank)."""
    return sum(1 for r in rows if r["best_rank"] is not None and len(r["context"]) >= config.min_context_chars
               and r["best_rank"] <= config.positive_rank)


def _negatives(n_kept=2):
    return [_row("negative", f"negative {i}", best=5000, status="kept") for i in range(n_kept)]


def test_short_contexts_that_pass_screening_suggest_the_minimum_that_keeps_enough():
    config = DraftConfig()
    lengths_ranks = [(3, 30), (9, 4), (12, 50), (20, 80), (25, 7), (33, 2), (7, 5000), (11, 900)]
    rows = [_row("positive", "w" * n, "short", rank, reason="context shorter than 40 characters")
            for n, rank in lengths_ranks]
    rows += [_row("positive", "long enough context, but the model does not see it coming", "rank", 240)]
    with pytest.raises(InputError) as err:
        diagnose.check_enough(rows, _negatives(), config, {"items": rows})
    (problem,) = err.value.problems
    assert problem.field == "sentences" and err.value.details == {"items": rows}
    assert "0 of 9 positive contexts kept" in problem.problem
    assert "8 of 9 contexts are shorter than 40 characters" in problem.problem
    assert "1 of 9 have no target within rank 100" in problem.problem
    assert "lower min_context_chars (shortest positive context) to 9: 5 more contexts pass screening" in problem.fix
    # that change does keep 5 (the minimum); one character more would not
    assert _kept_if(rows, DraftConfig(min_context_chars=9)) == 5 and _kept_if(rows, DraftConfig(min_context_chars=10)) == 4
    assert "raise positive_rank (N) to" not in problem.fix   # only one context fails by rank: N alone cannot help
    assert "widen" not in problem.fix


def test_no_suggestion_that_changes_nothing():
    config = DraftConfig()
    # short contexts that fail screening anyway: lowering the minimum would not help
    rows = [_row("positive", "w" * 5, "short", 20_000) for _ in range(6)]
    fixes = diagnose.positive_fixes(rows, config, 5)
    assert not any("min_context_chars" in f for f in fixes) and not any("positive_rank" in f for f in fixes)
    assert fixes[-1].startswith("add at least 5 more sentences")
    # contexts far beyond N (rank 40,000) are not positive contexts: no wider N suggested
    rows = [_row("positive", f"context number {i} that is long enough for the minimum", "rank", 40_000 + i) for i in range(6)]
    assert not any("positive_rank" in f for f in diagnose.positive_fixes(rows, config, 5))
    rows = [_row("positive", f"context number {i} that is long enough for the minimum", "rank", 150 + i) for i in range(6)]
    fix = next(f for f in diagnose.positive_fixes(rows, config, 5) if "positive_rank" in f)
    assert fix == "raise positive_rank (N) to 154: 5 more contexts kept"
    assert _kept_if(rows, DraftConfig(positive_rank=154)) == 5
    # lengthening suggested only when it is off
    short = [_row("positive", "The", "short", 9)]
    assert any("lengthen_contexts" in f for f in diagnose.positive_fixes(short, DraftConfig(lengthen_contexts=False), 5))
    assert not any("lengthen_contexts" in f for f in diagnose.positive_fixes(short, config, 5))


def test_negatives_suggest_the_narrower_m_that_keeps_enough():
    config = DraftConfig()
    pos = [_row("positive", f"context {i} long enough to keep it", best=3, status="kept") for i in range(5)]
    neg = [_row("negative", f"negative {i}", "rank", r) for i, r in enumerate([12, 700, 480, 950])]
    with pytest.raises(InputError) as err:
        diagnose.check_enough(pos, neg, config, {})
    (problem,) = err.value.problems
    assert problem.field == "negatives" and "0 of 4 negatives kept" in problem.problem
    assert "4 of 4 have a target within rank 1000" in problem.problem
    assert "lower negative_rank (M) to 699: 2 more negatives kept" in problem.fix
    assert sum(1 for r in neg if r["best_rank"] > 699) == 2


def test_enough_raises_nothing():
    pos = [_row("positive", f"context {i}", best=3, status="kept") for i in range(5)]
    diagnose.check_enough(pos, _negatives(), DraftConfig(), {})
