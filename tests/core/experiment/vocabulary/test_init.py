"""Initializing a vocabulary together equals K single-symbol initializations (contrast off), adds
every token in one resize, and with contrast fits the output rows against the other symbols."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.embedding.contexts import last_hidden
from core.embedding.strategies import InitConfig
from core.experiment.single.pipeline import initialize
from core.experiment.vocabulary.init import contrast_negatives, initialize_vocabulary
from core.experiment.vocabulary.load import load_vocabulary
from core.spec.errors import InputError
from tests.core.experiment.vocab_fixtures import three_specs


@pytest.fixture
def vocab(base):
    return load_vocabulary(three_specs(), base.tokenizer)


@pytest.mark.parametrize("config", [InitConfig(strategy="average"), InitConfig(strategy="random", seed=5),
                                    InitConfig(strategy="optimized", opt_epochs=3)],
                         ids=["average", "random", "optimized"])
def test_together_gives_the_rows_of_k_single_initializations(base, vocab, config):
    together = initialize_vocabulary(vocab, config, base)
    assert together.token_ids == [together.tokenizer.convert_tokens_to_ids(t) for t in vocab.tokens]
    for k, spec in enumerate(vocab.specs):
        single_config = InitConfig(**{**config.to_dict(), "seed": config.seed + k})
        single = initialize(spec, single_config, base, evaluate_after=False, compare_with=())
        torch.testing.assert_close(together.rows[k].input_row, single.rows.input_row, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(together.rows[k].output_row, single.rows.output_row, atol=1e-4, rtol=1e-4)
        # And in the model: the token's rows are the ones computed.
        tid = together.token_ids[k]
        torch.testing.assert_close(together.model.get_input_embeddings().weight[tid].detach(),
                                   together.rows[k].input_row)
        torch.testing.assert_close(together.model.get_output_embeddings().weight[tid].detach(),
                                   together.rows[k].output_row)
    # The base is untouched; random draws differ between symbols (seed + k).
    assert base.model.get_input_embeddings().weight.shape[0] == len(base.tokenizer)
    if config.strategy == "random":
        assert not torch.equal(together.rows[0].input_row, together.rows[1].input_row)


def test_every_token_is_added_in_one_resize(base, vocab, monkeypatch):
    calls = []
    cls = type(base.model)
    original = cls.resize_token_embeddings

    def counting(self, *args, **kwargs):
        calls.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "resize_token_embeddings", counting)
    result = initialize_vocabulary(vocab, InitConfig(), base)
    assert len(calls) == 1
    assert result.model.get_input_embeddings().weight.shape[0] == len(base.tokenizer) + len(vocab)
    data = result.to_dict()
    assert [s["token"] for s in data["symbols"]] == vocab.tokens and data["contrast"] is False


def test_contrast_adds_the_other_symbols_positives_as_negatives(base, vocab):
    extra = contrast_negatives(vocab)
    for k, spec in enumerate(vocab.specs):
        others = {c for j, s in enumerate(vocab.specs) if j != k for c in s.positive_contexts}
        assert set(extra[k]) == others - set(spec.positive_contexts) - set(spec.negative_contexts)
    result = initialize_vocabulary(vocab, InitConfig(), base, contrast=True)
    plain = initialize_vocabulary(vocab, InitConfig(), base)
    model, tokenizer = base.model, base.tokenizer
    for k, spec in enumerate(vocab.specs):
        fit = result.rows[k].output_fit
        assert fit.n_negative == len(spec.negative_contexts) + len(extra[k])
        assert result.rows[k].details["contrast_negatives"] == len(extra[k])
        # Independent: numpy's least squares over the same rows and targets.
        hidden = last_hidden(model, tokenizer, spec.positive_contexts + spec.negative_contexts + extra[k])
        targets = np.concatenate([plain.rows[k].output_fit.targets[: len(spec.positive_contexts)].double().numpy(),
                                  np.full(fit.n_negative, -10.0)])
        expected, *_ = np.linalg.lstsq(hidden.double().numpy(), targets, rcond=None)
        np.testing.assert_allclose(fit.vector.double().numpy(), expected, rtol=1e-3, atol=1e-4)
        assert not torch.allclose(fit.vector, plain.rows[k].output_fit.vector)


def test_contrast_fits_against_the_sampled_negatives_of_the_seed(base, vocab):
    config = InitConfig(contrast_negatives=10, seed=4)
    extra = contrast_negatives(vocab, 10, seed=4)
    assert all(len(e) == 10 for e in extra) and extra != contrast_negatives(vocab, 10, seed=5)
    result = initialize_vocabulary(vocab, config, base, contrast=True)
    model, tokenizer = base.model, base.tokenizer
    for k, spec in enumerate(vocab.specs):
        fit = result.rows[k].output_fit
        assert fit.n_negative == len(spec.negative_contexts) + 10 == len(spec.negative_contexts) + \
            result.rows[k].details["contrast_negatives"]
        hidden = last_hidden(model, tokenizer, spec.positive_contexts + spec.negative_contexts + extra[k])
        targets = np.concatenate([fit.targets[: len(spec.positive_contexts)].double().numpy(),
                                  np.full(fit.n_negative, -10.0)])
        expected, *_ = np.linalg.lstsq(hidden.double().numpy(), targets, rcond=None)
        np.testing.assert_allclose(fit.vector.double().numpy(), expected, rtol=1e-3, atol=1e-4)


def test_random_both_draws_both_rows_and_a_bad_vocabulary_stops_before_any_work(base, vocab):
    result = initialize_vocabulary(vocab, InitConfig(strategy="random_both", seed=2), base)
    assert all(r.output_fit is None and "output_random" in r.details for r in result.rows)
    single = initialize(vocab.specs[1], InitConfig(strategy="random_both", seed=3), base, evaluate_after=False,
                        compare_with=())
    torch.testing.assert_close(result.rows[1].output_row, single.rows.output_row)
    vocab.specs[1].new_token = vocab.specs[0].new_token
    with pytest.raises(InputError) as err:
        initialize_vocabulary(vocab, InitConfig(), base)
    assert any("new_token" in f for f in err.value.fields)


@pytest.mark.parametrize("strategy", ["average", "optimized"])
def test_together_in_bfloat16_gives_the_rows_of_k_single_initializations_in_bfloat16(base, vocab, strategy):
    config = InitConfig(strategy=strategy, opt_epochs=3, precision="bfloat16")
    together = initialize_vocabulary(vocab, config, base)
    for k, spec in enumerate(vocab.specs):
        single = initialize(spec, InitConfig(**{**config.to_dict(), "seed": k}), base, evaluate_after=False,
                            compare_with=())
        assert together.rows[k].output_fit.precision == single.rows.output_fit.precision == "bfloat16"
        # The batches differ (one pass over every symbol's contexts, sorted by length, against one
        # symbol's), so the bfloat16 products may round differently: equal to that rounding.
        for mine, theirs in ((together.rows[k].input_row, single.rows.input_row),
                             (together.rows[k].output_row, single.rows.output_row)):
            assert float((mine - theirs).norm() / theirs.norm()) < 2e-2
