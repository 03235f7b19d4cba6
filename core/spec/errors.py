"""Errors a user can act on: each names the field, what is wrong, and the fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: which field, what is wrong, and how to fix it."""

    field: str
    problem: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.field}: {self.problem}"
        return f"{text} — {self.fix}" if self.fix else text

    def to_dict(self) -> dict:
        return {"field": self.field, "problem": self.problem, "fix": self.fix}


class InputError(ValueError):
    """Raised once with every problem found, so a user can fix them all in one go."""

    def __init__(self, problems: list[Problem] | Problem, details: dict | None = None):
        if isinstance(problems, Problem):
            problems = [problems]
        if not problems:
            raise ValueError("InputError needs at least one problem")
        self.problems: list[Problem] = list(problems)
        # What the caller may show beside the problems (plain data), e.g. a failed draft's items
        # with their ranks, so that a person can choose what to keep anyway.
        self.details: dict = dict(details or {})
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def fields(self) -> list[str]:
        return [p.field for p in self.problems]

    def to_dict(self) -> dict:
        out = {"error": "invalid input", "problems": [p.to_dict() for p in self.problems]}
        return out | ({"details": self.details} if self.details else {})


def fail(field: str, problem: str, fix: str = "") -> InputError:
    """Shorthand for an InputError with a single problem (``raise fail(...)``)."""
    return InputError([Problem(field, problem, fix)])


class Collector:
    """Collects problems while validating; ``raise_if_any`` raises them all at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, field: str, problem: str, fix: str = "") -> None:
        self.problems.append(Problem(field, problem, fix))

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self, details: dict | None = None) -> None:
        if self.problems:
            raise InputError(self.problems, details)
