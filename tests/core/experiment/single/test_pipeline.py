"""The initialization pipeline on a tiny random Llama: copies, never mutates the base, reports progress."""

from __future__ import annotations

import json

import pytest
import torch

from core.spec.errors import InputError
from core.model.loading import LoadedModel
from core.experiment.single.pipeline import initialize
from core.jsonsafe import jsonable
from core.embedding.strategies import InitConfig
from core.model.tokens import token_rows
from tests.conftest import TOKEN


def _snapshot(base: LoadedModel) -> tuple[dict, dict, int]:
    state = {k: v.detach().clone() for k, v in base.model.state_dict().items()}
    return state, dict(base.tokenizer.get_vocab()), len(base.tokenizer)


def _assert_unchanged(base: LoadedModel, snapshot) -> None:
    state, vocab, size = snapshot
    now = base.model.state_dict()
    assert set(now) == set(state)
    assert all(torch.equal(now[k], v) for k, v in state.items())
    assert base.tokenizer.get_vocab() == vocab and len(base.tokenizer) == size
    assert TOKEN not in base.tokenizer.get_vocab()
    assert base.model.get_input_embeddings().weight.data_ptr() != base.model.get_output_embeddings().weight.data_ptr()


def test_average_on_a_copy_with_rows_events_and_evaluation(base, tiny_spec):
    snapshot = _snapshot(base)
    events = []
    result = initialize(tiny_spec, InitConfig(strategy="average"), base, on_event=events.append, max_new_tokens=4)
    _assert_unchanged(base, snapshot)

    assert result.model is not base.model and result.tokenizer is not base.tokenizer
    assert result.token == TOKEN and result.tokenizer.convert_tokens_to_ids(TOKEN) == result.token_id
    assert result.token_id == len(base.tokenizer)
    # The average by hand: per gloss the mean of its sub-token rows, then the mean across glosses.
    weight = base.model.get_input_embeddings().weight.detach()
    per_gloss = [weight[base.tokenizer.encode(g, add_special_tokens=False)].mean(0) for g in tiny_spec.gloss_texts]
    expected = torch.stack(per_gloss).mean(0)
    inp, out = token_rows(result.model, result.token_id)
    assert torch.allclose(inp, expected, atol=1e-6)
    assert torch.equal(inp, result.rows.input_row) and torch.equal(out, result.rows.output_row)

    stages = [e["stage"] for e in events]
    generating = [e for e in events if e["stage"] == "generate"]
    assert stages == ["validate", "copy", "output_fit", "input_row", "compare", "add_token", "rank",
                      *["generate"] * len(generating), "done"]
    # One event per generation step (the prompts in one batch, at most 4 new tokens), its share rising to 1.
    assert 1 <= len(generating) <= 4 and generating[-1]["message"].startswith("Generating text, step")
    fractions = [e["fraction"] for e in events if "fraction" in e]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and 0.1 < fractions[-1] <= 1.0
    assert all(e["message"] for e in events)
    assert "output_fit_shared" not in result.rows.details     # fitted for this initialization itself

    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    for key in ("strategy", "token", "token_id", "output_fit_residual", "output_fit", "details",
                "testing", "generations", "nearest", "quality", "cosines"):
        assert key in data
    assert data["strategy"] == "average" and data["token_id"] == result.token_id
    assert data["output_fit_residual"] == pytest.approx(result.rows.output_fit.residual)
    assert len(data["testing"]) == 4 and len(data["generations"]) == 2
    assert set(data["cosines"]) == {"average", "last_token", "random"}
    assert data["cosines"]["average"]["average"] == pytest.approx(1.0)


def test_optimized_reports_every_epoch(base, tiny_spec):
    events = []
    config = InitConfig(strategy="optimized", opt_epochs=2)
    result = initialize(tiny_spec, config, base, on_event=events.append, evaluate_after=False, compare_with=())
    epochs = [e for e in events if e["stage"] == "optimize"]
    assert [e["epoch"] for e in epochs] == [1, 2] and all(e["epochs"] == 2 for e in epochs)
    assert all("train_loss" in e and "val_loss" in e for e in epochs)
    assert "compare" not in [e["stage"] for e in events]
    assert result.evaluation == {} and result.to_dict()["testing"] == []


def test_random_both_has_no_output_fit(base, tiny_spec):
    result = initialize(tiny_spec, InitConfig(strategy="random_both"), base, evaluate_after=False)
    data = result.to_dict()
    assert data["output_fit"] is None and data["output_fit_residual"] is None
    assert "random_both" in data["cosines"]


def test_a_spec_invalid_for_this_tokenizer_fails_before_any_work(base, spec_dict):
    snapshot = _snapshot(base)
    spec_dict["target_tokens"] = ["wool", "knitwearzz"]
    events = []
    with pytest.raises(InputError) as err:
        initialize(spec_dict, InitConfig(), base, on_event=events.append)
    assert err.value.fields == ["target_tokens (item 2)"]
    assert [e["stage"] for e in events] == ["validate"]
    _assert_unchanged(base, snapshot)


def test_jsonable_replaces_non_finite_numbers_and_tensors():
    value = {"a": float("nan"), "b": [1.5, float("inf")], "c": torch.tensor([1.0, 2.0]), 3: (True, None)}
    assert jsonable(value) == {"a": None, "b": [1.5, None], "c": [1.0, 2.0], "3": [True, None]}


@pytest.mark.parametrize("value", [0, 10_000, 2.5, True])
def test_generation_length_is_checked_first(base, tiny_spec, value):
    with pytest.raises(InputError) as err:
        initialize(tiny_spec, InitConfig(), base, max_new_tokens=value)
    assert err.value.fields == ["max_new_tokens"]
