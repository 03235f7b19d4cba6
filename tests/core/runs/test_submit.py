"""core/runs/submit.py: everything is checked before a job is queued; a fine-tuning stores its
adapter and result; a comparison stores one adapter per member under adapters/<strategy>-s<seed>.

The queueing, stopping and reloading of real fine-tuning jobs is in tests/core/runs/test_jobs.py, the
comparison's numbers in tests/core/experiment/test_compare.py; this file checks what submit adds."""

from __future__ import annotations

import json

import pytest

from core.embedding.strategies import InitConfig
from core.experiment.single.compare import CompareConfig
from core.runs.submit import submit_comparison, submit_finetune
from core.spec.errors import InputError
from core.train.finetune import FinetuneConfig
from tests.conftest import TOKEN, tiny_spec_dict

# The quick settings of tests/core/runs/test_jobs.py and tests/core/experiment/test_compare.py: 4 sentences, 2 per step.
QUICK = dict(epochs=1, batch_size=2, grad_accum=1, learning_rate=1e-2)


def _nothing_queued(runner) -> None:
    assert runner.list() == []
    assert runner.store.list() == []
    assert list(runner.store.root.iterdir()) == []  # not even a half-made run folder


@pytest.mark.parametrize("bad", [0, 201, -4, 2.5, "4", True])
def test_bad_max_new_tokens_is_refused_before_anything_is_queued(runner, base, tiny_spec, bad):
    with pytest.raises(InputError) as err:
        submit_finetune(runner, tiny_spec, base, InitConfig(), FinetuneConfig(**QUICK), max_new_tokens=bad)
    assert err.value.fields == ["max_new_tokens"]
    _nothing_queued(runner)


def test_a_batch_larger_than_the_data_is_refused_before_anything_is_queued(runner, base, tiny_spec):
    n = len(tiny_spec.fine_tuning_sentences)
    config = FinetuneConfig(**{**QUICK, "batch_size": n + 1})
    with pytest.raises(InputError) as err:
        submit_finetune(runner, tiny_spec, base, InitConfig(), config, max_new_tokens=4)
    assert err.value.fields == ["batch_size"] and f"use at most {n}" in str(err.value)
    with pytest.raises(InputError) as err:
        submit_comparison(runner, tiny_spec, base, CompareConfig(strategies=["average"], finetune=config,
                                                                 max_new_tokens=4))
    assert err.value.fields == ["batch_size"]
    _nothing_queued(runner)


def test_a_spec_that_does_not_suit_the_tokenizer_is_refused_before_anything_is_queued(runner, base):
    data = tiny_spec_dict()
    data["target_tokens"] = ["wool", "qzxqvjk"]  # several tokens for this tokenizer
    for submit in (lambda: submit_finetune(runner, data, base, InitConfig(), FinetuneConfig(**QUICK), 4),
                   lambda: submit_comparison(runner, data, base, CompareConfig(strategies=["average"],
                                                                               finetune=FinetuneConfig(**QUICK)))):
        with pytest.raises(InputError) as err:
            submit()
        assert any(f.startswith("target_tokens") for f in err.value.fields)
    _nothing_queued(runner)


def test_a_tiny_finetune_stores_its_settings_adapter_and_result(runner, base, tiny_spec):
    from transformers import AutoTokenizer

    from core.runs.export import read_adapter_metadata

    config = FinetuneConfig(**QUICK)
    ticket = submit_finetune(runner, tiny_spec, base, InitConfig(strategy="last_token", seed=2), config,
                             max_new_tokens=3)
    # The run exists (with its settings) as soon as it is queued.
    stored = runner.store.config(ticket.job_id)
    assert stored["kind"] == "finetune" and stored["model"] == "tiny-random" and stored["max_new_tokens"] == 3
    assert stored["finetune"] == json.loads(json.dumps(config.to_dict()))
    assert stored["init"]["strategy"] == "last_token" and stored["init"]["seed"] == 2
    assert runner.store.spec(ticket.job_id)["new_token"] == TOKEN
    assert runner.store.status(ticket.job_id)["kind"] == "finetune"

    assert runner.wait(ticket.job_id, 120)["status"] == "done"
    result = runner.store.result(ticket.job_id)
    assert result["kind"] == "finetune" and result["model"] == "tiny-random"
    assert result["row"]["strategy"] == "last_token" and result["row"]["seed"] == 2
    assert result["finetune"]["steps"] == config.steps_per_epoch(len(tiny_spec.fine_tuning_sentences))
    assert runner.store.adapters(ticket.job_id) == [""]
    folder = runner.store.adapter_path(ticket.job_id)
    meta = read_adapter_metadata(folder)
    assert (meta["token"], meta["base_model"], meta["strategy"], meta["seed"]) == (TOKEN, "tiny-random",
                                                                                    "last_token", 2)
    assert AutoTokenizer.from_pretrained(str(folder)).convert_tokens_to_ids(TOKEN) == meta["token_id"]
    phases = [e.get("phase") for e in runner.events(ticket.job_id) if e["type"] == "phase"]
    assert "save" in phases
    assert not [p for p in runner.store.path(ticket.job_id).rglob(".*tmp*")]  # no leftovers


def test_a_given_initialization_decides_the_recorded_strategy(base, tiny_spec):
    """With an ``init_result`` the job trains from it, and the settings say so (not ``init_config``)."""
    from core.experiment.single.pipeline import initialize

    init = initialize(tiny_spec, InitConfig(strategy="last_token"), base, evaluate_after=False, compare_with=())
    calls = []

    class Recorder:
        def submit(self, fn, **kwargs):
            calls.append(kwargs)
            return "ticket"

    assert submit_finetune(Recorder(), tiny_spec, base, InitConfig(strategy="average"), FinetuneConfig(**QUICK),
                           4, init_result=init) == "ticket"
    (call,) = calls
    assert call["kind"] == "finetune" and call["config"]["init"]["strategy"] == "last_token"
    assert call["title"].endswith(": last_token") and call["spec"]["new_token"] == TOKEN


def test_a_comparison_stores_one_adapter_per_member(runner, base, tiny_spec):
    from core.runs.export import read_adapter_metadata

    config = CompareConfig(strategies=["average", "random_both"], seeds=1, finetune=FinetuneConfig(**QUICK),
                           max_new_tokens=3)
    ticket = submit_comparison(runner, tiny_spec, base, config)
    stored = runner.store.config(ticket.job_id)
    assert stored["kind"] == "compare" and stored["strategies"] == ["average", "random_both"]
    assert stored["seeds"] == 1 and stored["max_new_tokens"] == 3 and stored["finetune"]["batch_size"] == 2
    assert runner.wait(ticket.job_id, 180)["status"] == "done"
    store = runner.store
    assert store.adapters(ticket.job_id) == ["average-s0", "random_both-s0"]  # and no adapter of its own
    for name in ("average", "random_both"):
        folder = store.path(ticket.job_id) / "adapters" / f"{name}-s0"
        assert folder == store.adapter_path(ticket.job_id, f"{name}-s0")
        meta = read_adapter_metadata(folder)
        assert (meta["strategy"], meta["seed"], meta["token"]) == (name, 0, TOKEN)
    result = store.result(ticket.job_id)
    assert [r["strategy"] for r in result["rows"]] == ["average", "random_both"]
