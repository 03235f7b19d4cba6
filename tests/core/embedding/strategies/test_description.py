"""``description`` through the registry: the mean row of the description's tokens; seeded noise when
asked; a spec without a description is refused naming the field, before any work."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.embedding.strategies import InitConfig, check_strategies, depends_on_seed
from core.spec.errors import InputError
from tests.core.embedding.strategies.rows import input_of

TEXT = "building where wool and yarn are sold"


def test_the_mean_of_the_descriptions_tokens(tiny, tiny_spec):
    model, tokenizer = tiny
    spec = dataclasses.replace(tiny_spec, description=TEXT)
    ids = tokenizer.encode(TEXT, add_special_tokens=False)
    expected = model.get_input_embeddings().weight.detach().double().numpy()[ids].mean(axis=0)
    np.testing.assert_allclose(input_of(model, tokenizer, spec, "description"), expected, atol=1e-6)
    assert not depends_on_seed(InitConfig(strategy="description"))


def test_noise_is_seeded(tiny, tiny_spec):
    model, tokenizer = tiny
    spec = dataclasses.replace(tiny_spec, description=TEXT)
    plain = input_of(model, tokenizer, spec, "description")
    a = input_of(model, tokenizer, spec, "description", description_noise=True, seed=3)
    b = input_of(model, tokenizer, spec, "description", description_noise=True, seed=3)
    c = input_of(model, tokenizer, spec, "description", description_noise=True, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c) and 0 < np.linalg.norm(a - plain) < 3
    assert depends_on_seed(InitConfig(strategy="description", description_noise=True))


def test_a_spec_without_a_description_is_refused_naming_the_field(tiny, tiny_spec):
    model, tokenizer = tiny
    with pytest.raises(InputError) as err:
        input_of(model, tokenizer, tiny_spec, "description")
    assert [p.field for p in err.value.problems] == ["description"]
    problems = check_strategies([tiny_spec], ["average", "description"], InitConfig())
    assert [p.field for p in problems] == ["description"] and "choose another strategy" in problems[0].fix
