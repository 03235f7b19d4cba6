"""What the service's parts share: problems as the page shows them, collecting the problems of
several checks into one error, and the folder of files offered for download."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from core.spec.errors import InputError, Problem


def problems_of(exc: InputError) -> list[dict]:
    return [p.to_dict() for p in exc.problems]


def collect(*checks: Callable[[], object]) -> list[Problem]:
    """Run checks (config constructors, validations), collecting every InputError's problems
    instead of stopping at the first."""
    problems: list[Problem] = []
    for check in checks:
        try:
            check()
        except InputError as exc:
            problems += exc.problems
    return problems


def raise_all(*checks: Callable[[], object]) -> None:
    """Run every check and raise one InputError with all their problems (nothing if all pass)."""
    problems = collect(*checks)
    if problems:
        raise InputError(problems)


class Downloads:
    """Files offered for download live under the system temp dir, where Gradio may serve them;
    each download gets a fresh folder of its own."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="glosslab-downloads-"))

    def folder(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.root))
