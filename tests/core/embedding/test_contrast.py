"""Contrast negatives: all of them for a small vocabulary, a seeded sample of bounded size for a large one,
never one of the symbol's own contexts."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from core.embedding.contrast import contrast_negatives, positive_pool

ROOT = str(Path(__file__).resolve().parents[3])


@dataclass
class Spec:
    positive_contexts: list[str]
    negative_contexts: list[str] = field(default_factory=list)


def _vocab(k: int = 12, n: int = 30) -> list[Spec]:
    """``k`` symbols of ``n`` positives each; symbol 1 shares a positive with symbol 0, and symbol 2 has
    one of symbol 3's positives among its negatives."""
    specs = [Spec([f"context {j} of symbol {i}" for j in range(n)], [f"negative of {i}"]) for i in range(k)]
    specs[1].positive_contexts.append(specs[0].positive_contexts[0])
    if k > 3:
        specs[2].negative_contexts.append(specs[3].positive_contexts[5])
    return specs


def _allowed(specs: list[Spec], k: int) -> list[str]:
    """Written out independently: every other symbol's positives, minus the symbol's own contexts,
    each once, in vocabulary order."""
    own = set(specs[k].positive_contexts) | set(specs[k].negative_contexts)
    out: list[str] = []
    for j, spec in enumerate(specs):
        if j != k:
            out += [c for c in spec.positive_contexts if c not in own and c not in out]
    return out


def test_all_of_them_when_the_count_is_zero_or_covers_the_pool():
    specs = _vocab(5, 8)
    for per_symbol in (0, 1000, len(positive_pool(specs))):
        extra = contrast_negatives(specs, per_symbol, seed=3)
        assert extra == [_allowed(specs, k) for k in range(len(specs))]
    assert specs[3].positive_contexts[5] not in contrast_negatives(specs)[2]
    assert specs[0].positive_contexts[0] not in contrast_negatives(specs)[1]


def test_a_sample_is_bounded_allowed_in_pool_order_and_seeded():
    specs = _vocab()
    pool = positive_pool(specs)
    first = contrast_negatives(specs, 40, seed=7)
    for k, extra in enumerate(first):
        allowed = _allowed(specs, k)
        assert len(extra) == 40 and len(set(extra)) == 40
        assert set(extra) <= set(allowed)
        assert extra == sorted(extra, key=pool.index)
    assert contrast_negatives(specs, 40, seed=7) == first
    other_seed = contrast_negatives(specs, 40, seed=8)
    assert all(len(e) == 40 for e in other_seed) and other_seed != first
    assert first[0] != first[1]  # each symbol draws with its own generator
    # Every allowed context can be drawn: over many seeds, each one turns up.
    drawn = {c for seed in range(60) for c in contrast_negatives(specs[:3], 10, seed)[0]}
    assert drawn == set(_allowed(specs[:3], 0))


def test_fewer_allowed_than_asked_gives_all_allowed():
    specs = _vocab(3, 10)
    # Symbol 0: the others' 21 positives, less the one symbol 1 shares with it.
    extra = contrast_negatives(specs, 25, seed=0)
    assert extra[0] == _allowed(specs, 0) and len(extra[0]) == 20


def test_the_same_draw_in_another_process():
    code = ("from tests.core.embedding.test_contrast import _vocab;"
            "from core.embedding.contrast import contrast_negatives;"
            "print(contrast_negatives(_vocab(), 15, seed=4)[2])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123"}, cwd=ROOT)
    assert out.stdout.strip() == str(contrast_negatives(_vocab(), 15, seed=4)[2])


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError):
        contrast_negatives(_vocab(2, 3), -1)
