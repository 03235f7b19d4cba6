"""The one schema of every number a fine-tuning run and a comparison row report.

Each ``Metric`` is declared once, here: its key, its label (the same on the page, in the Markdown,
in the CSV header's companion table and in the run viewer), how to format it, whether higher is
better, a one-line meaning, and how to read it from a finished member (``value``). A metric with
``phases`` is measured before and after fine-tuning and becomes two keys (``mrr_positive_before``,
``mrr_positive_after``), shown together as "before → after".

Everything that shows results is generated from ``METRICS``: a member's row (``measure``), the
numbers averaged over seeds (``numeric_keys``), and in ``core.report.tables`` the research-style
Markdown table, the CSV, the page's comparison table and the run viewer's table. Adding a metric
is one ``Metric(...)`` in ``METRICS`` plus, if the number is new, its computation where the
member's evaluation is made.

This module imports nothing heavy (no torch), so the page can format results with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from core.jsonsafe import finite

PHASES = ("before", "after")
PRIMARY = "eval_loss"  # the metric a comparison is ranked by (lower is better)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    meaning: str
    value: Callable[[Any, str | None], Any]  # (member, phase or None) -> number or None
    digits: int = 4                # decimals; ranks and counts use ``kind``
    kind: str = "number"           # "number" | "rank" (1,204 or 47.5)
    higher_is_better: bool | None = None
    phases: bool = False           # measured before and after fine-tuning
    wide: bool = True              # a column of the comparison tables (else: CSV, JSON and run viewer only)

    def keys(self) -> list[str]:
        return [f"{self.key}_{p}" for p in PHASES] if self.phases else [self.key]

    @property
    def heading(self) -> str:
        return f"{self.label} (before → after)" if self.phases else self.label


def _ft(attr: str) -> Callable[[Any, str | None], Any]:
    return lambda m, _phase: getattr(m.trained.result, attr)


def _quality(name: str) -> Callable[[Any, str | None], Any]:
    def value(m, phase):
        evaluation = m.init.evaluation if phase == "before" else m.evaluation_after
        return (evaluation or {}).get("quality", {}).get(name)
    return value


METRICS: list[Metric] = [
    Metric("best_epoch", "Best epoch", "Epoch of the step with the lowest validation loss.", _ft("best_epoch"),
           digits=2),
    Metric("eval_loss", "Validation loss", "Loss on the validation sentences at the best step.",
           _ft("best_eval_loss"), higher_is_better=False),
    Metric("train_loss", "Training loss", "Training loss at the best step.", _ft("train_loss_at_best"),
           higher_is_better=False),
    Metric("cos_input_before_after", "Cosine before/after: input",
           "How much fine-tuning turned the token's input row (1 = not at all).", _ft("cos_input_before_after")),
    Metric("cos_output_before_after", "Cosine before/after: output",
           "How much fine-tuning turned the token's output row (1 = not at all).", _ft("cos_output_before_after")),
    Metric("mrr_positive", "MRR, testing-positive",
           "Mean reciprocal rank of the new token after the testing-positive contexts.", _quality("mrr_positive"),
           digits=3, higher_is_better=True, phases=True),
    Metric("median_rank_negative", "Median rank, testing-negative",
           "Median rank of the new token after the testing-negative contexts (high: it stays out of place).",
           _quality("median_rank_negative"), kind="rank", higher_is_better=True, phases=True),
    Metric("gen_agreement", "Generation agreement",
           "How readily the token leads to the gloss's own continuation (1 = as readily as the gloss).",
           lambda m, phase: m.agreement_before if phase == "before" else m.agreement_after,
           digits=3, higher_is_better=True, phases=True),
    Metric("time_per_epoch_s", "Time per epoch (s)", "Wall-clock seconds per fine-tuning epoch.",
           _ft("time_per_epoch_s"), digits=2, higher_is_better=False),
    Metric("best_step", "Best step", "Optimizer step with the lowest validation loss.", _ft("best_step"),
           digits=0, wide=False),
    Metric("initial_eval_loss", "Validation loss before fine-tuning",
           "Loss on the validation sentences with the initialized rows.", _ft("initial_eval_loss"),
           higher_is_better=False, wide=False),
    Metric("init_seconds", "Initialization time (s)", "Seconds to compute the token's starting rows.",
           lambda m, _phase: round(m.init.seconds, 3), digits=2, higher_is_better=False, wide=False),
    Metric("median_rank_positive", "Median rank, testing-positive",
           "Median rank of the new token after the testing-positive contexts (low: it comes up where it belongs).",
           _quality("median_rank_positive"), kind="rank", higher_is_better=False, phases=True, wide=False),
    Metric("gen_similarity", "Generation similarity",
           "Word overlap of the greedy text after the token and after the gloss (1 = the same words).",
           _quality("generation_similarity"), digits=3, higher_is_better=True, phases=True, wide=False),
]


def metric(key: str) -> Metric:
    return next(m for m in METRICS if m.key == key)


def numeric_keys() -> list[str]:
    """Every key a row holds a number under (averaged over seeds in a comparison)."""
    return [k for m in METRICS for k in m.keys()]


def measure(member: Any) -> dict:
    """Every metric of one finished member (one seed of a row), by key."""
    out = {}
    for m in METRICS:
        if m.phases:
            for phase in PHASES:
                out[f"{m.key}_{phase}"] = m.value(member, phase)
        else:
            out[m.key] = m.value(member, None)
    return out


def describe() -> list[dict]:
    """The schema as data (for the page, the CLI and documentation)."""
    return [{"key": m.key, "keys": m.keys(), "label": m.label, "meaning": m.meaning, "digits": m.digits,
             "kind": m.kind, "higher_is_better": m.higher_is_better, "phases": m.phases, "wide": m.wide}
            for m in METRICS]


def best_row(rows: list[dict]) -> dict | None:
    """The row with the best primary metric (None for fewer than two rows or no numbers)."""
    scored = [r for r in rows if finite(r.get(PRIMARY))]
    if len(rows) < 2 or not scored:
        return None
    lower = metric(PRIMARY).higher_is_better is False
    return (min if lower else max)(scored, key=lambda r: r[PRIMARY])


def wide_metrics() -> list[Metric]:
    """The metrics that are columns of the comparison tables."""
    return [m for m in METRICS if m.wide]
