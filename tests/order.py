"""The order the suite's files run in: the longest first, from the seconds each file took in a
measured run (``tests/durations.json``), so that two workers that each take whole files end
together instead of one waiting while the other runs a long browser or Ray file at the end.

``pytest --store-durations`` measures a run and writes the file again (commit it when files
were added or have grown); a file not listed counts as the median of those that are. Run with
``--no-loadscope-reorder`` (the Makefile does), else pytest-xdist puts the files with the most
tests first whatever their length.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

DURATIONS = Path(__file__).resolve().parent / "durations.json"
_measured: dict[str, float] = defaultdict(float)


def pytest_addoption(parser):
    parser.addoption("--store-durations", action="store_true", default=False,
                     help=f"write the seconds each test file took to {DURATIONS.name} (longest first)")


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def known_durations() -> dict[str, float]:
    try:
        return {str(k): float(v) for k, v in json.loads(DURATIONS.read_text(encoding="utf-8")).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def longest_first(nodeids: list[str], durations: dict[str, float]) -> list[int]:
    """Indexes of ``nodeids`` with each file's tests together, in their order, the files longest first."""
    default = statistics.median(durations.values()) if durations else 0.0
    first_seen: dict[str, int] = {}
    for i, nodeid in enumerate(nodeids):
        first_seen.setdefault(_file(nodeid), i)
    return sorted(range(len(nodeids)), key=lambda i: (-durations.get(_file(nodeids[i]), default),
                                                       first_seen[_file(nodeids[i])], i))


def pytest_collection_modifyitems(session, config, items):
    durations = known_durations()
    if durations:
        order = longest_first([item.nodeid for item in items], durations)
        items[:] = [items[i] for i in order]


def pytest_runtest_logreport(report):
    _measured[_file(report.nodeid)] += report.duration


def pytest_sessionfinish(session):
    config = session.config
    if config.getoption("store_durations") and not hasattr(config, "workerinput") and _measured:
        ordered = dict(sorted(((k, round(v, 1)) for k, v in _measured.items()), key=lambda kv: -kv[1]))
        DURATIONS.write_text(json.dumps(ordered, indent=1) + "\n", encoding="utf-8")
