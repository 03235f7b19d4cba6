"""The field's heuristic rows: AdaptiVocab and interpolation against numpy, description by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.embedding.field_rows import (adaptivocab_row, adaptivocab_weights, description_row, interpolation_row,
                                       subtoken_mean, vocabulary_mean)
from core.spec.errors import InputError


def _numpy_rows(model, tokenizer, spec, output=False):
    layer = model.get_output_embeddings() if output else model.get_input_embeddings()
    matrix = layer.weight.detach().double().numpy()
    return [matrix[tokenizer.encode(g, add_special_tokens=False)] for g in spec.gloss_texts]


def test_the_tiny_glosses_have_several_sub_tokens(tiny, tiny_spec):
    _, tokenizer = tiny
    assert [len(tokenizer.encode(g, add_special_tokens=False)) for g in tiny_spec.gloss_texts] == [2, 2]


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_adaptivocab_weights_are_normalized_exponentials(k):
    i = np.arange(1, k + 1)
    for output, sign in ((False, 2.0), (True, -2.0)):
        expected = np.exp(sign * i) / np.exp(sign * i).sum()
        np.testing.assert_allclose(adaptivocab_weights(k, output=output).numpy(), expected, rtol=1e-6)
    # Later sub-tokens weigh more in the input row, less in the output row.
    if k > 1:
        assert adaptivocab_weights(k)[-1] > adaptivocab_weights(k)[0]
        assert adaptivocab_weights(k, output=True)[-1] < adaptivocab_weights(k, output=True)[0]


def test_adaptivocab_rows_against_numpy_per_gloss_then_averaged(tiny, tiny_spec):
    model, tokenizer = tiny
    # Make the output matrix differ from the input one, so that the output row reads its own matrix.
    with torch.no_grad():
        model.get_output_embeddings().weight.mul_(-0.5).add_(0.01)
    for output, sign in ((False, 2.0), (True, -2.0)):
        means = []
        for rows in _numpy_rows(model, tokenizer, tiny_spec, output=output):
            w = np.exp(sign * np.arange(1, len(rows) + 1))
            means.append((w / w.sum()) @ rows)
        expected = np.mean(means, axis=0)
        np.testing.assert_allclose(adaptivocab_row(model, tokenizer, tiny_spec, output=output).numpy(), expected,
                                   rtol=1e-5, atol=1e-6)


def test_interpolation_row_against_numpy(tiny, tiny_spec):
    model, tokenizer = tiny
    matrix = model.get_input_embeddings().weight.detach().double().numpy()[: len(tokenizer)]
    everything = matrix.mean(axis=0)
    expected = np.mean([0.5 * everything + 0.5 * rows.mean(axis=0)
                        for rows in _numpy_rows(model, tokenizer, tiny_spec)], axis=0)
    np.testing.assert_allclose(interpolation_row(model, tokenizer, tiny_spec).numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vocabulary_mean(model, tokenizer).numpy(), everything, rtol=1e-5, atol=1e-6)
    # Halfway between the vocabulary's mean and the sub-token mean.
    torch.testing.assert_close(interpolation_row(model, tokenizer, tiny_spec),
                               0.5 * vocabulary_mean(model, tokenizer) + 0.5 * subtoken_mean(model, tokenizer, tiny_spec))


def test_vocabulary_mean_leaves_out_rows_beyond_the_tokenizer(tiny):
    model, tokenizer = tiny
    model.resize_token_embeddings(len(tokenizer) + 5, mean_resizing=False)
    with torch.no_grad():
        model.get_input_embeddings().weight[len(tokenizer):] = 100.0
    assert float(vocabulary_mean(model, tokenizer).abs().max()) < 1.0


def test_description_row_is_the_mean_of_its_tokens(tiny):
    model, tokenizer = tiny
    text = "building where wool is sold"
    ids = tokenizer.encode(text, add_special_tokens=False)
    matrix = model.get_input_embeddings().weight.detach()
    by_hand = sum(matrix[i] for i in ids) / len(ids)
    torch.testing.assert_close(description_row(model, tokenizer, text), by_hand.float())
    # Surrounding spaces are not part of the description.
    torch.testing.assert_close(description_row(model, tokenizer, "  " + text + " "), by_hand.float())


def test_description_noise_is_small_seeded_and_leaves_the_global_state(tiny):
    model, tokenizer = tiny
    text = "building where wool is sold"
    plain = description_row(model, tokenizer, text)
    state = torch.random.get_rng_state()
    a = description_row(model, tokenizer, text, noise=True, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.testing.assert_close(a, description_row(model, tokenizer, text, noise=True, seed=4))
    assert not torch.equal(a, description_row(model, tokenizer, text, noise=True, seed=5))
    noise = a - plain
    dim = plain.shape[0]
    expected = torch.randn(dim, generator=torch.Generator().manual_seed(4)) / math.sqrt(dim)
    torch.testing.assert_close(noise, expected)


@pytest.mark.parametrize("description, problem", [(None, "is missing"), ("", "is empty"), ("   ", "is empty"),
                                                  (3, "is empty")])
def test_a_missing_or_empty_description_is_an_error_naming_the_field(tiny, description, problem):
    model, tokenizer = tiny
    with pytest.raises(InputError) as caught:
        description_row(model, tokenizer, description)
    assert caught.value.fields == ["description"]
    assert problem in str(caught.value)
