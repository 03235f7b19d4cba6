"""Figures for the README's "Reliability" section, recorded by the tests that produce them.

Tests call ``record(group, case, ok, detail)`` or ``figure(name, value)``; at the end of the session
``tests/conftest.py`` writes everything to ``.reports/reliability.json`` and prints a summary, so
the README's numbers come from a test run, not from prose. With several test workers
(pytest-xdist), each worker sends what it recorded to the controller, which merges it.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

REPORT = Path(__file__).resolve().parent.parent / ".reports" / "reliability.json"
_lock = threading.Lock()
_cases: dict[str, dict[str, dict]] = {}
_figures: dict[str, object] = {}


def record(group: str, case: str, ok: bool, detail: str = "") -> None:
    with _lock:
        _cases.setdefault(group, {})[case] = {"ok": bool(ok), "detail": detail[:300]}


def figure(name: str, value: object) -> None:
    with _lock:
        _figures[name] = value


def export() -> dict:
    """What this process recorded (a test worker sends it to the session's controller)."""
    with _lock:
        return {"cases": json.loads(json.dumps(_cases, default=str)), "figures": json.loads(json.dumps(_figures, default=str))}


def merge(data: dict) -> None:
    """Add what a test worker recorded (``export``) to this process's records."""
    with _lock:
        for group, cases in (data.get("cases") or {}).items():
            _cases.setdefault(group, {}).update(cases)
        _figures.update(data.get("figures") or {})


def summary() -> list[str]:
    lines = []
    for group, cases in sorted(_cases.items()):
        ok = sum(1 for c in cases.values() if c["ok"])
        lines.append(f"bad inputs ({group}): {len(cases)} tried, {ok} got a clear error naming the field and the fix")
    for name, value in sorted(_figures.items()):
        lines.append(f"{name}: {value}")
    return lines


def write() -> Path | None:
    if not _cases and not _figures:
        return None
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    data = {"summary": summary(), "cases": _cases, "figures": _figures}
    REPORT.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return REPORT
