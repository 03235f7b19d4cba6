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


def test_sentences_without_a_kept_context_join_training_and_validation_once_each():
    pos, neg = _material(10, 3)
    more = [(f"short {i}", f"extra {i} [T]") for i in range(25)] + [("short 0", "extra 0 [T]"), ("x", pos[0][1])]
    out = sp.split(pos, neg, 0, more_sentences=more)
    s = out.sets
    extra_ft = [x for x in s["fine_tuning_sentences"] if x.startswith("extra")]
    extra_val = [x for x in s["validation_sentences"] if x.startswith("extra")]
    # 25 distinct extra sentences, each once, split 63 : 12 (4 of 25 to validation)
    assert len(extra_ft) + len(extra_val) == 25 and len(set(extra_ft + extra_val)) == 25
    assert len(extra_val) == round(25 * 12 / 75) == 4
    assert not set(extra_ft) & set(extra_val)
    # a sentence already in a set (with its kept context) is not added again
    assert s["fine_tuning_sentences"].count(pos[0][1]) + s["validation_sentences"].count(pos[0][1]) <= 1
    # nothing goes to a testing set, and the draw is seeded
    assert sp.split(pos, neg, 0, more_sentences=more).sets == s


def test_a_sentence_whose_context_is_held_out_is_not_trained_on():
    pos, neg = _material(10, 3)
    out = sp.split(pos, neg, 3).sets
    held = out["testing_positive_contexts"][0]
    more = [(held, "same context, other sentence [T]"), (out["positive_contexts"][0], "trained context [T]")]
    s = sp.split(pos, neg, 3, more_sentences=more).sets
    assert "same context, other sentence [T]" not in s["fine_tuning_sentences"] + s["validation_sentences"]
    assert "trained context [T]" in s["fine_tuning_sentences"] + s["validation_sentences"]


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
    assert "3 positive contexts kept" in problems["sentences"].problem
    assert "add at least 2 more sentences" in problems["sentences"].fix
    assert "add at least 1 more negative sentence or context" in problems["negatives"].fix
    sp.check_enough(5, 2)  # enough: nothing raised
