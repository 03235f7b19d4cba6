"""The one schema of every number a fine-tuning run and a comparison row report, and the one way
every number is read.

Each ``Metric`` is declared once, here: its key, its label (the same on the page, in the Markdown,
in the CSV header's companion table and in the run viewer), how to format it, whether higher is
better, a one-line meaning, and how to read it (``value``). A metric with ``phases`` is measured
before and after fine-tuning and becomes two keys (``mrr_positive_before``, ``mrr_positive_after``),
shown together as "before → after".

**One row protocol.** A metric reads a ``SymbolRecord``: one symbol of one finished member. A
member that trained one symbol gives one (``Member.record()``), a vocabulary run gives one per
symbol (``vocabulary_records``), and both are measured by the same ``row_of``. So a metric
declared here shows in a single symbol's row, in each symbol's row of a vocabulary comparison, in
the vocabulary table of the page and the CLI, and in every report. A metric marked ``shared`` is a
number of the training run rather than of the symbol (the best epoch, say): every symbol trained
together in one run has the same value, so the vocabulary table shows it once, under the table.

**Two axes.** A comparison is judged on two axes (``AXES``), each declared here by the metrics
that carry its name in ``axis``: *fit* (how well the fine-tuned model predicts the validation
sentences: the validation loss) and *meaning* (whether the token is predicted where its gloss
belongs and not elsewhere: the MRR on the testing-positive contexts, then the median rank on the
testing-negative ones, both after fine-tuning). An axis lists its metrics in declaration order; the
first one ranks the strategies on that axis, and when it does not separate two strategies the next
one may (``core.experiment.analysis.verdict``). A new measure joins an axis by naming it.

Everything that shows results is generated from ``METRICS``: a member's row (``row_of``), the
numbers averaged over seeds (``numeric_keys``), and in ``core.report.tables`` the research-style
Markdown table, the CSV, the page's comparison and vocabulary tables and the run viewer's table.
Adding a metric is one ``Metric(...)`` in ``METRICS`` plus, if the number is new, its computation
where the member's evaluation is made (and its field on ``SymbolRecord``).

This module imports nothing heavy (no torch), so the page can format results with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from core.jsonsafe import finite

PHASES = ("before", "after")
PRIMARY = "eval_loss"  # the metric a comparison's rows are ordered by (lower is better): the fit axis's


@dataclass
class SymbolRecord:
    """One symbol of one finished member, as every metric reads it: the same for a member that
    trained one symbol and for one symbol of a vocabulary run.

    ``training`` holds the fine-tuning's numbers (``FinetuneResult.to_dict()`` without the
    history), shared by every symbol trained in the same run; the other fields are the symbol's own.
    """

    token: str
    training: dict = field(default_factory=dict)
    eval_loss: float | None = None             # the symbol's validation loss at the run's best step
    initial_eval_loss: float | None = None     # the same before the first step
    cos_input_before_after: float | None = None
    cos_output_before_after: float | None = None
    quality: dict = field(default_factory=dict)    # {"before": {...}, "after": {...}} (evaluate's "quality")
    agreement: dict = field(default_factory=dict)  # {"before": float, "after": float} (generation agreement)
    init_seconds: float | None = None

    def quality_of(self, phase: str | None, name: str) -> Any:
        return (self.quality.get(phase) or {}).get(name)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    meaning: str
    value: Callable[[SymbolRecord, str | None], Any]  # (record, phase or None) -> number or None
    digits: int = 4                # decimals; ranks and counts use ``kind``
    kind: str = "number"           # "number" | "rank" (1,204 or 47.5)
    higher_is_better: bool | None = None
    phases: bool = False           # measured before and after fine-tuning
    wide: bool = True              # a column of the comparison tables (else: CSV, JSON and run viewer only)
    shared: bool = False           # a number of the training run, the same for every symbol trained in it
    axis: str | None = None        # the verdict's axis this metric judges on (``AXES``), in declaration order

    def keys(self) -> list[str]:
        return [f"{self.key}_{p}" for p in PHASES] if self.phases else [self.key]

    @property
    def judged_key(self) -> str:
        """The key an axis judges by: the value after fine-tuning for a phased metric."""
        return self.keys()[-1]

    @property
    def heading(self) -> str:
        return f"{self.label} (before → after)" if self.phases else self.label

    @property
    def phrase(self) -> str:
        """The label inside a sentence: "validation loss", "MRR, testing-positive"."""
        return self.label[0].lower() + self.label[1:] if self.label[1:2].islower() else self.label

    def text(self, value: Any) -> str:
        """One number as every table and sentence writes it ("–" when missing): ``digits`` decimals,
        or a rank (1,204 or 47.5)."""
        if not finite(value):
            return "–"
        if self.kind == "rank":
            return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
        return f"{value:,.{self.digits}f}"


@dataclass(frozen=True)
class Axis:
    key: str
    label: str       # as a sentence names it: "fit", "meaning"
    question: str    # what the axis asks, in a linguist's words
    better: str      # what goes better with the strategy that wins the axis ("with A, …")


AXES: list[Axis] = [
    Axis("fit", "fit", "How well does the fine-tuned model predict the validation sentences that use the token?",
         "the model fits the validation sentences better"),
    Axis("meaning", "meaning", "Does the token come up where its gloss belongs, and stay away where it does not?",
         "the token means its gloss better"),
]


def _training(name: str) -> Callable[[SymbolRecord, str | None], Any]:
    return lambda r, _phase: r.training.get(name)


def _own(name: str) -> Callable[[SymbolRecord, str | None], Any]:
    return lambda r, _phase: getattr(r, name)


def _quality(name: str) -> Callable[[SymbolRecord, str | None], Any]:
    return lambda r, phase: r.quality_of(phase, name)


METRICS: list[Metric] = [
    Metric("best_epoch", "Best epoch", "Epoch of the step with the lowest validation loss.", _training("best_epoch"),
           digits=2, shared=True),
    Metric("eval_loss", "Validation loss", "Loss on the validation sentences at the best step.",
           _own("eval_loss"), higher_is_better=False, axis="fit"),
    Metric("train_loss", "Training loss", "Training loss at the best step.", _training("train_loss_at_best"),
           higher_is_better=False, shared=True),
    Metric("cos_input_before_after", "Cosine before/after: input",
           "How much fine-tuning turned the token's input row (1 = not at all).", _own("cos_input_before_after")),
    Metric("cos_output_before_after", "Cosine before/after: output",
           "How much fine-tuning turned the token's output row (1 = not at all).", _own("cos_output_before_after")),
    Metric("mrr_positive", "MRR, testing-positive",
           "Mean reciprocal rank of the new token after the testing-positive contexts.", _quality("mrr_positive"),
           digits=3, higher_is_better=True, phases=True, axis="meaning"),
    Metric("median_rank_negative", "Median rank, testing-negative",
           "Median rank of the new token after the testing-negative contexts (high: it stays out of place).",
           _quality("median_rank_negative"), kind="rank", higher_is_better=True, phases=True, axis="meaning"),
    Metric("hidden_mse", "Hidden-state MSE, held out",
           "How differently the model reads the token than the gloss: the mean squared distance of last-layer "
           "hidden states at and after the gloss, on held-out snippets and the testing-positive contexts "
           "(0 = the same reading).", _quality("hidden_mse"), digits=4, higher_is_better=False, phases=True),
    Metric("gen_agreement", "Generation agreement",
           "How readily the token leads to the gloss's own continuation (1 = as readily as the gloss).",
           lambda r, phase: r.agreement.get(phase), digits=3, higher_is_better=True, phases=True),
    Metric("time_per_epoch_s", "Time per epoch (s)", "Wall-clock seconds per fine-tuning epoch.",
           _training("time_per_epoch_s"), digits=2, higher_is_better=False, shared=True),
    Metric("best_step", "Best step", "Optimizer step with the lowest validation loss.", _training("best_step"),
           digits=0, wide=False, shared=True),
    Metric("initial_eval_loss", "Validation loss before fine-tuning",
           "Loss on the validation sentences with the initialized rows.", _own("initial_eval_loss"),
           higher_is_better=False, wide=False),
    Metric("init_seconds", "Initialization time (s)", "Seconds to compute the token's starting rows.",
           lambda r, _phase: None if r.init_seconds is None else round(r.init_seconds, 3), digits=2,
           higher_is_better=False, wide=False, shared=True),
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


def measure(record: SymbolRecord) -> dict:
    """Every metric of one symbol of a finished member (one seed of a row), by key."""
    out = {}
    for m in METRICS:
        if m.phases:
            for phase in PHASES:
                out[f"{m.key}_{phase}"] = m.value(record, phase)
        else:
            out[m.key] = m.value(record, None)
    return out


def row_of(record: SymbolRecord) -> dict:
    """A member's row for one symbol: every metric, then how its training ended."""
    t = record.training
    return {**measure(record), "steps": t.get("max_steps"), "early_stopped": bool(t.get("early_stopped")),
            "stopped": bool(t.get("stopped"))}


def vocabulary_records(data: dict) -> list[SymbolRecord]:
    """Every symbol of a vocabulary run's result (``VocabRun.to_dict()``, as stored), as the metrics
    read it; the symbols share the run's training numbers and its initialization time."""
    training = {k: v for k, v in (data.get("finetune") or {}).items() if k != "history"}
    seconds = (data.get("init") or {}).get("seconds")
    return [SymbolRecord(token=s["token"], training=training, eval_loss=s.get("eval_loss_at_best"),
                         initial_eval_loss=s.get("initial_eval_loss"),
                         cos_input_before_after=s.get("cos_input_before_after"),
                         cos_output_before_after=s.get("cos_output_before_after"),
                         quality={"before": s.get("quality_before") or {}, "after": s.get("quality_after") or {}},
                         init_seconds=seconds)
            for s in data.get("symbols") or []]


def describe() -> list[dict]:
    """The schema as data (for the page, the CLI and documentation)."""
    return [{"key": m.key, "keys": m.keys(), "label": m.label, "heading": m.heading, "meaning": m.meaning,
             "digits": m.digits,
             "kind": m.kind, "higher_is_better": m.higher_is_better, "phases": m.phases, "wide": m.wide,
             "shared": m.shared, "axis": m.axis} for m in METRICS]


def metric_of_key(key: str) -> Metric:
    """The metric a row's key belongs to (``mrr_positive_after`` → ``mrr_positive``)."""
    return next(m for m in METRICS if key in m.keys())


def with_interval(key: str, row: dict) -> str:
    """A row's mean under ``key`` with its 95 % interval over seeds in brackets, as the verdict and
    the axes' table write it: "0.718 [0.690, 0.746]" ("0.718" without an interval, "–" without a value)."""
    m = metric_of_key(key)
    ci = row.get(f"{key}_ci95")
    interval = f" [{m.text(ci[0])}, {m.text(ci[1])}]" if finite(row.get(key)) and ci and all(finite(v) for v in ci) else ""
    return m.text(row.get(key)) + interval


def axis_metrics(axis: str) -> list[Metric]:
    """The metrics an axis judges on, in declaration order (the first ranks the strategies)."""
    return [m for m in METRICS if m.axis == axis]


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
