"""The calculated output embedding: targets, minimum-norm least squares against numpy, and the fit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.embedding.contexts import last_hidden
from core.embedding.output import output_embedding, solve_min_norm
from core.model.tokens import add_token


def _model_logits(model, tokenizer, text):
    ids = torch.tensor([tokenizer.encode(text, add_special_tokens=False)])
    with torch.no_grad():
        return model(input_ids=ids).logits[0, -1]


def test_targets_are_best_target_logit_and_negative_logit(tiny, tiny_spec):
    model, tokenizer = tiny
    fit = output_embedding(model, tokenizer, tiny_spec, negative_logit=-7.5)
    target_ids = [tokenizer.encode(" " + w, add_special_tokens=False)[0] for w in tiny_spec.target_tokens]
    expected = [float(_model_logits(model, tokenizer, c)[target_ids].max()) for c in tiny_spec.positive_contexts]
    expected += [-7.5] * len(tiny_spec.negative_contexts)
    np.testing.assert_allclose(fit.targets.numpy(), expected, atol=1e-4)
    assert (fit.n_positive, fit.n_negative) == (len(tiny_spec.positive_contexts), len(tiny_spec.negative_contexts))


def test_least_squares_matches_numpy_minimum_norm_solution(tiny, tiny_spec):
    model, tokenizer = tiny
    fit = output_embedding(model, tokenizer, tiny_spec)
    contexts = tiny_spec.positive_contexts + tiny_spec.negative_contexts
    hidden = last_hidden(model, tokenizer, contexts).double().numpy()
    expected, *_ = np.linalg.lstsq(hidden, fit.targets.double().numpy(), rcond=None)
    np.testing.assert_allclose(fit.vector.double().numpy(), expected, rtol=1e-5, atol=1e-6)
    # N (8) < D (64): the minimum-norm solution reproduces every target exactly.
    assert len(contexts) < model.config.hidden_size
    np.testing.assert_allclose(hidden @ fit.vector.double().numpy(), fit.targets.numpy(), atol=1e-4)
    assert fit.residual < 1e-4 and fit.max_abs_error < 1e-4


def test_new_token_gets_the_fitted_logit_in_the_model(tiny, tiny_spec):
    model, tokenizer = tiny
    fit = output_embedding(model, tokenizer, tiny_spec)
    token_id = add_token(model, tokenizer, tiny_spec.new_token, output_row=fit.vector)
    contexts = tiny_spec.positive_contexts + tiny_spec.negative_contexts
    logits = torch.stack([_model_logits(model, tokenizer, c)[token_id] for c in contexts])
    torch.testing.assert_close(logits, fit.targets, atol=1e-3, rtol=0)


@pytest.mark.parametrize("rows, cols, rank", [(100, 20, 20), (12, 30, 12), (40, 25, 10)])
def test_solver_matches_numpy_over_under_determined_and_rank_deficient(rows, cols, rank):
    rng = np.random.default_rng(rows + cols)
    matrix = rng.normal(size=(rows, rank)) @ rng.normal(size=(rank, cols))
    targets = rng.normal(size=rows)
    got = solve_min_norm(torch.tensor(matrix, dtype=torch.float32), torch.tensor(targets, dtype=torch.float32))
    assert got.dtype == torch.float64
    # The input is float32, so compare with numpy's solution on the same float32-rounded data.
    expected, *_ = np.linalg.lstsq(matrix.astype(np.float32).astype(np.float64), targets.astype(np.float32), rcond=None)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-8)


def test_residual_is_reported_when_the_fit_cannot_be_exact(tiny, tiny_spec):
    model, tokenizer = tiny
    # Two copies of one context with different targets: no w fits both, the residual shows it.
    spec = tiny_spec
    spec.negative_contexts = [spec.positive_contexts[0]]
    fit = output_embedding(model, tokenizer, spec, negative_logit=-10.0)
    gap = float(fit.targets[0] - fit.targets[-1])
    assert fit.max_abs_error == pytest.approx(abs(gap) / 2, rel=1e-4)
    assert fit.residual > 0.1


def test_to_dict_is_json_and_has_no_tensors(tiny, tiny_spec):
    model, tokenizer = tiny
    data = output_embedding(model, tokenizer, tiny_spec).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert {"residual", "max_abs_error", "n_positive", "n_negative", "negative_logit", "targets"} <= set(data)


def _builtin_specs(tokenizer):
    from core.spec.gloss import check_spec
    from tests.core.experiment.vocab_fixtures import three_specs

    return [check_spec(s, tokenizer) for s in three_specs()]


def test_many_specs_from_one_pass_equal_each_fit_alone_and_numpy(tiny):
    """``output_embeddings``: each spec's own targets and rows, the same numbers as one spec at a time,
    checked again against numpy's minimum-norm solution from per-context full forward passes."""
    from core.embedding.output import output_embeddings

    model, tokenizer = tiny
    specs = _builtin_specs(tokenizer)
    fits = output_embeddings(model, tokenizer, specs, negative_logit=-6.0)
    assert len(fits) == len(specs) >= 3
    for spec, fit in zip(specs, fits):
        alone = output_embedding(model, tokenizer, spec, negative_logit=-6.0)
        torch.testing.assert_close(fit.targets, alone.targets, atol=1e-4, rtol=1e-5)
        torch.testing.assert_close(fit.vector, alone.vector, atol=1e-4, rtol=1e-4)
        assert (fit.n_positive, fit.n_negative) == (alone.n_positive, alone.n_negative)
    # Independent: hidden states one context at a time from the full model, numpy's lstsq.
    spec, fit = specs[1], fits[1]
    ids = [tokenizer.encode(" " + w, add_special_tokens=False)[0] for w in spec.target_tokens]
    rows, targets = [], []
    for c in spec.positive_contexts + spec.negative_contexts:
        with torch.no_grad():
            out = model(input_ids=torch.tensor([tokenizer.encode(c, add_special_tokens=False)]),
                        output_hidden_states=True)
        rows.append(out.hidden_states[-1][0, -1].double().numpy())
        targets.append(float(out.logits[0, -1, ids].max()) if c in spec.positive_contexts else -6.0)
    expected, *_ = np.linalg.lstsq(np.stack(rows), np.array(targets), rcond=None)
    np.testing.assert_allclose(fit.vector.double().numpy(), expected, rtol=1e-3, atol=1e-4)


def test_extra_negatives_join_the_system_with_the_negative_target(tiny):
    from core.embedding.output import output_embeddings

    model, tokenizer = tiny
    specs = _builtin_specs(tokenizer)[:2]
    extra = [specs[1].positive_contexts[:4], []]
    fits = output_embeddings(model, tokenizer, specs, extra_negatives=extra)
    assert fits[0].n_negative == len(specs[0].negative_contexts) + 4
    assert fits[0].targets[-4:].tolist() == [-10.0] * 4
    contexts = specs[0].positive_contexts + specs[0].negative_contexts + extra[0]
    hidden = last_hidden(model, tokenizer, contexts).double().numpy()
    expected, *_ = np.linalg.lstsq(hidden, fits[0].targets.double().numpy(), rcond=None)
    np.testing.assert_allclose(fits[0].vector.double().numpy(), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        output_embeddings(model, tokenizer, specs, extra_negatives=[[]])
