"""tests/order.py: the suite's files longest first, each file's tests together and in their order."""

from __future__ import annotations

from tests.order import longest_first


def test_files_run_longest_first_with_their_tests_together_and_unknown_files_as_the_median():
    ids = ["a.py::t1", "b.py::t1", "a.py::t2", "c.py::t1", "d.py::t1", "b.py::t2"]
    durations = {"a.py": 5.0, "b.py": 50.0, "c.py": 1.0}   # d.py unknown: the median, 5.0, after a.py
    order = [ids[i] for i in longest_first(ids, durations)]
    assert order == ["b.py::t1", "b.py::t2", "a.py::t1", "a.py::t2", "d.py::t1", "c.py::t1"]
    assert longest_first(ids, {}) == [0, 2, 1, 5, 3, 4]   # no measure: the files in the order collected
