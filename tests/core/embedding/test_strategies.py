"""Input-embedding strategies against hand computation from the embedding matrix (numpy), and the config."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from core.spec.errors import InputError
from core.embedding.strategies import (RESEARCH_STRATEGIES, STRATEGIES, InitConfig, initial_rows, input_vectors,
                             mean_resizing_parameters)


def _gloss_matrices(model, tokenizer, spec) -> list[np.ndarray]:
    """Per gloss, its sub-tokens' input embeddings, read straight from the matrix."""
    weight = model.get_input_embeddings().weight.detach().double().numpy()
    out = []
    for gloss in spec.glosses:
        ids = tokenizer.encode(" " + gloss, add_special_tokens=False)
        out.append(weight[ids])
    return out


def _input(model, tokenizer, spec, strategy, **kwargs) -> np.ndarray:
    rows = initial_rows(model, tokenizer, spec, InitConfig(strategy=strategy, **kwargs))
    return rows.input_row.double().numpy()


def test_glosses_have_several_sub_tokens(tiny, tiny_spec):
    model, tokenizer = tiny
    assert all(len(m) >= 2 for m in _gloss_matrices(model, tokenizer, tiny_spec))


def test_average(tiny, tiny_spec):
    model, tokenizer = tiny
    expected = np.mean([m.mean(axis=0) for m in _gloss_matrices(model, tokenizer, tiny_spec)], axis=0)
    np.testing.assert_allclose(_input(model, tokenizer, tiny_spec, "average"), expected, atol=1e-6)


def test_last_and_first_token(tiny, tiny_spec):
    model, tokenizer = tiny
    mats = _gloss_matrices(model, tokenizer, tiny_spec)
    np.testing.assert_allclose(_input(model, tokenizer, tiny_spec, "last_token"),
                               np.mean([m[-1] for m in mats], axis=0), atol=1e-6)
    np.testing.assert_allclose(_input(model, tokenizer, tiny_spec, "first_token"),
                               np.mean([m[0] for m in mats], axis=0), atol=1e-6)


def test_single_gloss_last_token_is_exactly_its_row(tiny, tiny_spec):
    model, tokenizer = tiny
    tiny_spec.glosses = ["wool shop"]
    ids = tokenizer.encode(" wool shop", add_special_tokens=False)
    row = model.get_input_embeddings().weight[ids[-1]].detach()
    got = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="last_token")).input_row
    assert torch.equal(got, row)


def test_pca(tiny, tiny_spec):
    model, tokenizer = tiny
    expected = []
    for m in _gloss_matrices(model, tokenizer, tiny_spec):
        _, _, vt = np.linalg.svd(m, full_matrices=False)
        direction = vt[0] if vt[0] @ m.mean(axis=0) > 0 else -vt[0]
        expected.append(direction * np.linalg.norm(m.mean(axis=0)))
    np.testing.assert_allclose(_input(model, tokenizer, tiny_spec, "pca"), np.mean(expected, axis=0), atol=1e-5)


def test_attention(tiny, tiny_spec):
    model, tokenizer = tiny
    expected = []
    for m in _gloss_matrices(model, tokenizer, tiny_spec):
        scores = m @ m.mean(axis=0)
        weights = np.exp(scores - scores.max())
        weights /= weights.sum()
        expected.append(weights @ m)
    np.testing.assert_allclose(_input(model, tokenizer, tiny_spec, "attention"), np.mean(expected, axis=0), atol=1e-5)


def test_random_matched_is_seeded_and_matches_the_matrix_statistics(tiny, tiny_spec):
    model, tokenizer = tiny
    weight = model.get_input_embeddings().weight.detach().double().numpy()
    mean, std = weight.mean(axis=0), weight.std(axis=0, ddof=1)
    first = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random", seed=5))
    again = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random", seed=5))
    other = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random", seed=6))
    assert torch.equal(first.input_row, again.input_row)
    assert not torch.equal(first.input_row, other.input_row)
    assert first.details["input_random"]["scale"] == "matched"
    # Standardized by the matrix's own statistics, the draws look like N(0, 1).
    z = np.concatenate([(_input(model, tokenizer, tiny_spec, "random", seed=s) - mean) / std for s in range(8)])
    assert abs(z.mean()) < 0.15 and 0.85 < z.std() < 1.15
    # The global random state plays no part.
    torch.manual_seed(123)
    assert torch.equal(initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random", seed=5)).input_row,
                       first.input_row)


def test_random_unit_is_standard_normal(tiny, tiny_spec):
    model, tokenizer = tiny
    z = np.concatenate([_input(model, tokenizer, tiny_spec, "random", seed=s, random_scale="unit") for s in range(8)])
    assert abs(z.mean()) < 0.15 and 0.85 < z.std() < 1.15
    rows = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random", random_scale="unit"))
    assert rows.details["input_random"]["scale"] == "unit"


def test_random_keeps_the_calculated_output_and_random_both_does_not(tiny, tiny_spec):
    model, tokenizer = tiny
    calculated = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random", seed=2))
    both = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random_both", seed=2))
    again = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="random_both", seed=2))
    assert calculated.output_fit is not None
    assert torch.equal(calculated.output_row, calculated.output_fit.vector)
    assert both.output_fit is None and not STRATEGIES["random_both"].calculated_output
    assert torch.equal(both.input_row, calculated.input_row)  # same seed, same input draw
    assert not torch.allclose(both.output_row, calculated.output_row)
    assert torch.equal(both.output_row, again.output_row)
    assert not torch.equal(both.output_row, both.input_row)
    out = model.get_output_embeddings().weight.detach().double().numpy()
    z = (both.output_row.double().numpy() - out.mean(axis=0)) / out.std(axis=0, ddof=1)
    assert abs(z.mean()) < 0.4 and 0.6 < z.std() < 1.4
    assert both.details["output_random"]["scale"] == "matched"


def test_mean_resizing_draws_what_transformers_draws(tiny, tiny_spec):
    model, tokenizer = tiny
    old = model.get_input_embeddings()
    n, d = old.weight.shape
    new = torch.nn.Embedding(n + 1, d)
    torch.manual_seed(11)
    model._init_added_embeddings_weights_with_mean(old, new, n, 1)
    ours = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="mean_resizing", seed=11)).input_row
    torch.testing.assert_close(ours, new.weight.detach()[-1], atol=1e-7, rtol=0)


def test_mean_resizing_parameters_against_numpy(tiny):
    model, _ = tiny
    weight = model.get_input_embeddings().weight.detach()
    mean, factor = mean_resizing_parameters(weight)
    w = weight.double().numpy()
    centered = w - w.mean(axis=0)
    np.testing.assert_allclose(mean.numpy(), w.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose((factor @ factor.T).double().numpy(), 1e-9 * centered.T @ centered / len(w),
                               rtol=1e-3, atol=1e-15)


def test_every_strategy_gives_finite_rows_and_json_details(tiny, tiny_spec):
    model, tokenizer = tiny
    d = model.config.hidden_size
    for name in STRATEGIES:
        rows = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy=name, opt_epochs=2))
        assert rows.input_row.shape == (d,) and rows.output_row.shape == (d,), name
        assert torch.isfinite(rows.input_row).all() and torch.isfinite(rows.output_row).all(), name
        assert rows.details["strategy"] == name
        json.dumps(rows.details)


def test_optimized_strategy_reports_epochs_and_starts_from_the_average(tiny, tiny_spec):
    model, tokenizer = tiny
    seen = []
    rows = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="optimized", opt_epochs=3, opt_lr=0.01),
                        on_epoch=seen.append)
    assert [e["epoch"] for e in seen] == [1, 2, 3]
    assert rows.details["init"] == "average" and len(rows.details["history"]) == 3
    average = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="average")).input_row
    # Three small steps from the average: still close to it, but moved.
    cos = torch.nn.functional.cosine_similarity(rows.input_row, average, dim=0)
    assert rows.details["best_epoch"] > 0
    assert 0.5 < cos < 1.0 - 1e-6


def test_input_vectors_names_every_requested_strategy(tiny, tiny_spec):
    model, tokenizer = tiny
    config = InitConfig(opt_epochs=1)
    vectors = input_vectors(model, tokenizer, tiny_spec, list(RESEARCH_STRATEGIES), config)
    assert list(vectors) == list(RESEARCH_STRATEGIES)
    average = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="average")).input_row
    assert torch.equal(vectors["average"], average)


def test_research_strategies_are_registered():
    assert set(RESEARCH_STRATEGIES) <= set(STRATEGIES)
    assert set(STRATEGIES) == {"optimized", "average", "last_token", "random", "random_both", "first_token",
                               "pca", "attention", "mean_resizing"}
    assert all(info.label and info.help for info in STRATEGIES.values())


@pytest.mark.parametrize("kwargs, field", [
    ({"strategy": "nope"}, "strategy"),
    ({"opt_lr": 0.0}, "opt_lr"),
    ({"opt_lr": -1.0}, "opt_lr"),
    ({"opt_lr": math.nan}, "opt_lr"),
    ({"opt_epochs": 0}, "opt_epochs"),
    ({"opt_epochs": 2.5}, "opt_epochs"),
    ({"seed": -1}, "seed"),
    ({"seed": True}, "seed"),
    ({"random_scale": "huge"}, "random_scale"),
    ({"opt_init": "zeros"}, "opt_init"),
    ({"opt_batch_size": 0}, "opt_batch_size"),
    ({"negative_logit": math.inf}, "negative_logit"),
    ({"precision": "float16"}, "precision"),
])
def test_config_names_the_bad_field(kwargs, field):
    with pytest.raises(InputError) as info:
        InitConfig(**kwargs)
    assert info.value.fields == [field]


def test_config_reports_every_problem_at_once():
    with pytest.raises(InputError) as info:
        InitConfig(strategy="nope", opt_lr=math.nan, opt_epochs=0)
    assert set(info.value.fields) == {"strategy", "opt_lr", "opt_epochs"}
    assert "average" in str(info.value)  # the fix lists the strategies


def test_config_round_trips_through_a_dict():
    config = InitConfig(strategy="optimized", seed=3, opt_lr=0.05)
    assert InitConfig(**json.loads(json.dumps(config.to_dict()))) == config
