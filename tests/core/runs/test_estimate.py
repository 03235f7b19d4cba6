"""core/runs/estimate.py: a comparison's time from stored runs (medians by hand) or from a probe."""

from __future__ import annotations

import math
import statistics

import torch

from core.experiment.single.compare import CompareConfig
from core.runs import estimate
from core.runs.store import RunStore
from core.train.finetune import FinetuneConfig


def _member(train_seconds: float, tokens: int, epochs: float, seconds: float, device: str = "cpu") -> dict:
    return {"seconds": seconds, "finetune": {"train_seconds": train_seconds, "train_tokens_per_epoch": tokens,
                                             "epochs_done": epochs, "device": device}}


def _store(tmp_path, runs: list[tuple[str, dict, str]]) -> RunStore:
    store = RunStore(tmp_path / "runs")
    for kind, result, status in runs:
        run_id = store.create(kind, {}, {})
        store.write_json(run_id, "result.json", result)
        store.set_status(run_id, status)
    return store


def test_rates_from_stored_fine_tunings_are_medians_of_their_members(tmp_path):
    runs = [("finetune", {"kind": "finetune", "model": "m", **_member(100.0, 500, 2.0, 160.0)}, "done"),
            ("finetune", {"kind": "finetune", "model": "m", **_member(30.0, 300, 1.0, 50.0)}, "stopped"),
            ("finetune", {"kind": "finetune", "model": "m", **_member(90.0, 300, 1.0, 95.0)}, "done"),
            ("finetune", {"kind": "finetune", "model": "other", **_member(1.0, 300, 1.0, 2.0)}, "done"),
            ("finetune", {"kind": "finetune", "model": "m", **_member(1.0, 300, 1.0, 2.0, "cuda:0")}, "done"),
            ("finetune", {"kind": "finetune", "model": "m", **_member(1.0, 300, 1.0, 2.0)}, "failed")]
    rates = estimate.stored_rates(_store(tmp_path, runs), "m", "cpu")
    assert rates.basis == "runs" and rates.runs == 3 and rates.side_by_side == 1.0
    assert math.isclose(rates.seconds_per_token, statistics.median([100 / 1000, 30 / 300, 90 / 300]))
    assert math.isclose(rates.overhead, statistics.median([60.0, 20.0, 5.0]))
    assert estimate.stored_rates(_store(tmp_path / "none", []), "m") is None


def test_a_stored_comparison_is_preferred_and_counts_its_members_side_by_side(tmp_path):
    members = [_member(40.0, 200, 2.0, 60.0), _member(60.0, 200, 2.0, 100.0)]
    runs = [("finetune", {"kind": "finetune", "model": "m", **_member(10.0, 1000, 1.0, 11.0)}, "done"),
            ("compare", {"kind": "compare", "model": "m", "members": members, "seconds": 80.0}, "done")]
    rates = estimate.stored_rates(_store(tmp_path, runs), "m", "cpu")
    assert rates.runs == 1 and math.isclose(rates.side_by_side, 160.0 / 80.0)
    assert math.isclose(rates.seconds_per_token, statistics.median([0.1, 0.15]))
    assert math.isclose(rates.overhead, statistics.median([20.0, 40.0]))


def test_a_comparisons_estimate_by_hand(tiny_spec, base):
    rates = estimate.Rates(seconds_per_token=0.01, overhead=30.0, side_by_side=2.0)
    config = CompareConfig(strategies=["average", "random"], seeds=3,
                           finetune=FinetuneConfig(epochs=4, batch_size=2, grad_accum=1))
    out = estimate.comparison(rates, [tiny_spec], base.tokenizer, config, max_new_tokens=8)
    tokens = sum(len(base.tokenizer(s)["input_ids"]) for s in tiny_spec.fine_tuning_sentences)
    per_member = 30.0 + 4 * tokens * 0.01
    assert out["members"] == 6 and math.isclose(out["per_member"], round(per_member, 1))
    assert math.isclose(out["seconds"], round(6 * per_member / 2.0, 1))
    assert out["basis"] == "runs" and out["at_most"] is False


def test_marginal_rates_leave_the_fixed_cost_out():
    per, fixed = estimate._marginal((3.0, 10), (5.0, 30))
    assert math.isclose(per, 0.1) and math.isclose(fixed, 2.0)
    per, fixed = estimate._marginal((3.0, 10), (2.5, 30))   # the difference lost in noise
    assert math.isclose(per, 2.5 / 30) and math.isclose(fixed, 3.0 - 10 * 2.5 / 30)


def test_a_probe_measures_on_a_copy_and_its_estimate_counts_passes_validation_and_generation(tiny_spec, base):
    before = {n: p.detach().clone() for n, p in base.model.named_parameters()}
    size = len(base.tokenizer)
    config = FinetuneConfig(epochs=2, batch_size=2, grad_accum=1, eval_every=1)
    rates = estimate.probe(base, tiny_spec, config)
    assert all(torch.equal(before[n], p) for n, p in base.model.named_parameters()) and len(base.tokenizer) == size
    assert rates.basis == "probe" and rates.runs == 0
    assert rates.seconds_per_token > 0 and rates.overhead > 0 and rates.once > 0 and rates.generation_step > 0
    assert rates.pass_overhead >= 0 and rates.generation_call >= 0
    out = estimate.comparison(rates, [tiny_spec], base.tokenizer, CompareConfig(strategies=["average"], seeds=1,
                                                                                finetune=config), 8)
    tok = base.tokenizer
    n, n_val = len(tiny_spec.fine_tuning_sentences), len(tiny_spec.validation_sentences)
    train = sum(len(tok(s)["input_ids"]) for s in tiny_spec.fine_tuning_sentences)
    val = sum(len(tok(s)["input_ids"]) for s in tiny_spec.validation_sentences)
    passes = 2 * math.ceil(n / 2)
    evaluations = 2 * config.steps_per_epoch(n) + 1
    validation = evaluations * (val * rates.seconds_per_token + math.ceil(n_val / min(64, n_val)) * rates.pass_overhead) / 3
    generation = math.ceil(2 * len(tiny_spec.generation_prompts) / 32) * (rates.generation_call + 8 * rates.generation_step)
    member = rates.overhead + 2 * train * rates.seconds_per_token + passes * rates.pass_overhead + validation + generation
    assert math.isclose(out["seconds"], round(rates.once + member, 1), abs_tol=0.051)
