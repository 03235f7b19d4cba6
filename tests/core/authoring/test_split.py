"""The seeded split: no sentence in two sets, the research's proportions, limits, and what thin material needs."""

from __future__ import annotations

import pytest

from core.authoring import split as sp
from core.spec import limits
from core.spec.errors import InputError


def _material(n: int, m: int):
    return [(f"context {i}", f"sentence {i} [T]") for i in range(n)], [f"negative {j}" for j in range(m)]


def test_proportions_are_the_research_ones():
    assert sp.positive_sizes(87) == {"train": 63, "validation": 12, "testing": 12}
    assert sp.negative_sizes(55) == {"train": 45, "testing": 10}
    assert sp.positive_sizes(40) == {"train": 28, "validation": 6, "testing": 6}


def test_no_item_in_two_sets_and_seeded():
    pos, neg = _material(40, 15)
    a = sp.split(pos, neg, seed=1)
    assert a.sets == sp.split(pos, neg, seed=1).sets
    assert a.sets != sp.split(pos, neg, seed=2).sets
    s = a.sets
    groups = [s["positive_contexts"], s["validation_contexts"], s["testing_positive_contexts"]]
    assert sum(map(len, groups)) == 40 and len(set().union(*map(set, groups))) == 40
    # a sentence travels with its context: context i and sentence i are in the same set
    index = {c: i for i, (c, _) in enumerate(pos)}
    assert [index[c] for c in s["positive_contexts"]] == [int(x.split()[1]) for x in s["fine_tuning_sentences"]]
    assert [index[c] for c in s["validation_contexts"]] == [int(x.split()[1]) for x in s["validation_sentences"]]
    assert not set(s["negative_contexts"]) & set(s["testing_negative_contexts"])
    assert len(s["negative_contexts"]) + len(s["testing_negative_contexts"]) == 15


def test_more_training_sentences_join_fine_tuning_only_once():
    pos, neg = _material(10, 3)
    s = sp.split(pos, neg, 0, more_training=["extra [T]", "extra [T]", pos[0][1]]).sets
    assert s["fine_tuning_sentences"].count("extra [T]") == 1
    assert s["fine_tuning_sentences"].count(pos[0][1]) + s["validation_sentences"].count(pos[0][1]) == 1


def test_sets_stay_within_the_limits(monkeypatch):
    monkeypatch.setitem(limits.COUNTS, "positive_contexts", (3, 10))
    pos, neg = _material(40, 5)
    out = sp.split(pos, neg, 0)
    assert len(out.sets["positive_contexts"]) == 10
    assert len(out.over_limit) == 18 and all(o["set"] == "positive_contexts" for o in out.over_limit)


def test_thin_material_says_how_many_more_of_what():
    assert sp.minimum_positives() == 5 and sp.minimum_negatives() == 2
    pos, neg = _material(3, 1)
    with pytest.raises(InputError) as err:
        sp.split(pos, neg, 0)
    problems = {p.field: p for p in err.value.problems}
    assert "3 usable sentences" in problems["sentences"].problem
    assert "add at least 2 more sentences" in problems["sentences"].fix
    assert "add at least 1 more negative sentence or context" in problems["negatives"].fix
    sp.check_enough(5, 2)  # enough: nothing raised
