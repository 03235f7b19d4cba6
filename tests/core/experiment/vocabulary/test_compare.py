"""Strategies compared on a vocabulary (tiny model): each symbol's rows from the runs' own events,
a verdict per symbol, the strategies across symbols, and a stop."""

from __future__ import annotations

import json
import math
import statistics

import pytest

from core.execution import backend_for
from core.experiment.single.compare import CompareConfig
from core.experiment.vocabulary.compare import compare_vocabulary
from core.experiment.vocabulary.load import load_vocabulary
from core.spec.gloss import builtin_examples
from core.train.finetune import FinetuneConfig


@pytest.fixture
def vocab(base):
    two = [json.loads(builtin_examples()[name].read_text(encoding="utf-8")) for name in ("wool_shop", "to_brush_teeth")]
    return load_vocabulary(two, base.tokenizer)


def _config(**kw) -> CompareConfig:
    return CompareConfig(strategies=["average", "random_both"], seeds=2, max_new_tokens=3,
                         finetune=FinetuneConfig(epochs=1, batch_size=30, grad_accum=1), **kw)


def test_each_symbol_is_judged_and_the_symbols_aggregated(base, vocab):
    events: list[dict] = []
    result = compare_vocabulary(vocab, base, _config(), backend=backend_for(), emit=events.append)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert [s["spec"] for s in data["symbols"]] == [spec.title for spec in vocab.specs]
    assert data["verdict"]["sentence"].startswith("Across 2 symbols")
    # Independently: each member's best evaluation (lowest overall validation loss) in its events,
    # and the symbol's own validation loss there, averaged over the seeds.
    for one, spec in zip(data["symbols"], vocab.specs):
        assert one["verdict"]["sentence"]
        for row in one["rows"]:
            per_seed = []
            for seed in (0, 1):
                evals = [e for e in events if e.get("type") == "step" and e.get("eval_loss_by")
                         and e["strategy"] == row["strategy"] and e["seed"] == seed]
                best = min(evals, key=lambda e: (e["eval_loss"], e["step"]))
                per_seed.append(best["eval_loss_by"][spec.new_token])
            assert math.isclose(row["eval_loss"], statistics.fmean(per_seed), rel_tol=1e-5)
            assert row["seeds"] == 2 and row["mrr_positive_after"] is not None
    assert {r["strategy"] for r in data["rows"]} == {"average", "random_both"}
    assert all(r["wins"] + r["ties"] + r["losses"] == 2 for r in data["rows"])
    assert len(data["members"]) == 4 and all(m["confusion_after"] for m in data["members"])


def test_a_stop_between_members_keeps_what_finished(base, vocab):
    events: list[dict] = []
    result = compare_vocabulary(vocab, base, _config(), backend=backend_for(),
                                emit=events.append,
                                should_stop=lambda: any(e.get("type") == "member" and e["status"] == "done"
                                                        for e in events))
    assert result.stopped and len(result.members) == 1
    assert all(len(s.members) == 1 for s in result.symbols)


def _numbers(value):
    """A result without how long things took."""
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items() if "seconds" not in k and "time" not in k and k != "markdown"}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def test_members_kept_as_they_finish_are_not_run_again(base, vocab):
    kept: dict[str, dict] = {}
    config = CompareConfig(strategies=["average", "random_both"], seeds=1, max_new_tokens=3,
                           finetune=FinetuneConfig(epochs=1, batch_size=30, grad_accum=1))
    whole = compare_vocabulary(vocab, base, config, backend=backend_for(), keep=lambda name, member: kept.__setitem__(name, member))
    assert sorted(kept) == ["average-s0", "random_both-s0"]
    done = {"average-s0": json.loads(json.dumps(kept["average-s0"]))}  # as read back from the run's folder
    events: list[dict] = []
    again = compare_vocabulary(vocab, base, config, backend=backend_for(), emit=events.append, done=done)
    assert [e["strategy"] for e in events if e.get("type") == "member" and e["status"] == "start"] == ["random_both"]
    assert _numbers(json.loads(json.dumps(again.to_dict()))) == _numbers(json.loads(json.dumps(whole.to_dict())))
