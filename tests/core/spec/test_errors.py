"""core/spec/errors.py: Problem, InputError, fail and Collector."""

from __future__ import annotations

import json

import pytest

from core.spec.errors import Collector, InputError, Problem, fail


def test_problem_text_and_dict():
    p = Problem("batch_size", "is 50, larger than the 4 sentences", "use at most 4")
    assert str(p) == "batch_size: is 50, larger than the 4 sentences — use at most 4"
    assert p.to_dict() == {"field": "batch_size", "problem": "is 50, larger than the 4 sentences",
                           "fix": "use at most 4"}
    bare = Problem("spec", "is empty")
    assert str(bare) == "spec: is empty" and "—" not in str(bare)
    assert bare.to_dict() == {"field": "spec", "problem": "is empty", "fix": ""}
    with pytest.raises(Exception):  # frozen: a reported problem cannot be rewritten afterwards
        p.field = "other"  # type: ignore[misc]
    assert Problem("a", "b", "c") == Problem("a", "b", "c") and hash(Problem("a", "b")) == hash(Problem("a", "b"))


def test_input_error_holds_every_problem():
    problems = [Problem("epochs", "is 0", "give 1 to 200"), Problem("learning_rate", "is nan", "give 3e-4"),
                Problem("epochs", "is not a number")]
    err = InputError(problems)
    assert isinstance(err, ValueError)
    assert err.problems == problems and err.problems is not problems  # a copy of the caller's list
    assert err.fields == ["epochs", "learning_rate", "epochs"]
    assert str(err).splitlines() == [str(p) for p in problems]
    data = err.to_dict()
    assert data["error"] == "invalid input" and data["problems"] == [p.to_dict() for p in problems]
    assert json.loads(json.dumps(data)) == data


def test_input_error_from_one_problem_and_refuses_none():
    one = Problem("model", "is missing", "give --model")
    err = InputError(one)
    assert err.problems == [one] and str(err) == str(one)
    with pytest.raises(ValueError) as info:
        InputError([])
    assert not isinstance(info.value, InputError)


def test_fail_is_a_single_problem_error():
    err = fail("run_id", "no such run", "choose one from the list")
    assert isinstance(err, InputError)
    assert err.problems == [Problem("run_id", "no such run", "choose one from the list")]
    with pytest.raises(InputError, match="^run_id: no such run — choose one from the list$"):
        raise err
    assert fail("x", "y").problems[0].fix == ""


def test_collector_raises_all_at_once_or_not_at_all():
    c = Collector()
    assert not c and c.problems == []
    c.raise_if_any()  # nothing collected: no error
    c.add("glosses", "is empty", "add a gloss")
    c.add("seeds", "is 0")
    assert c and len(c.problems) == 2
    with pytest.raises(InputError) as info:
        c.raise_if_any()
    assert info.value.fields == ["glosses", "seeds"]
    assert info.value.problems == [Problem("glosses", "is empty", "add a gloss"), Problem("seeds", "is 0")]


def test_details_travel_with_the_error_and_into_its_json():
    items = [{"kind": "positive", "status": "dropped", "reason": "context shorter than 40 characters"}]
    err = InputError(Problem("sentences", "too few contexts", "lower the shortest context"), details={"items": items})
    assert err.details == {"items": items}
    assert err.to_dict()["details"] == {"items": items}
    assert "details" not in fail("x", "y").to_dict() and fail("x", "y").details == {}
