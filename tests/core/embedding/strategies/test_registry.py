"""The registry: found from the modules, every strategy's rows finite, the config built from the
shared settings and every strategy's own, and named problems."""

from __future__ import annotations

import dataclasses

import json
import math
from pathlib import Path

import pytest
import torch

from core.embedding import strategies as registry
from core.embedding.strategies import (RESEARCH_STRATEGIES, STRATEGIES, InitConfig, group, initial_rows,
                                       input_vectors)
from core.spec.errors import InputError
from core.spec.settings import settings_of


def test_every_module_is_one_registered_strategy_in_order():
    modules = sorted(p.stem for p in Path(registry.__file__).parent.glob("*.py")
                     if p.stem not in ("__init__", "base") and not p.stem.startswith("_"))
    assert sorted(STRATEGIES) == modules
    assert list(STRATEGIES)[:5] == list(RESEARCH_STRATEGIES)
    assert set(STRATEGIES) >= {"optimized", "average", "last_token", "random", "random_both", "first_token",
                               "pca", "attention", "mean_resizing"}
    assert all(info.label and info.help for info in STRATEGIES.values())


def test_groups_come_from_the_strategies():
    assert RESEARCH_STRATEGIES == ("optimized", "average", "last_token", "random", "random_both")
    assert group("baseline") == ("average", "last_token", "random")


def test_the_config_holds_every_strategys_own_settings_after_the_shared_ones():
    names = list(settings_of(InitConfig))
    assert names[:4] == ["strategy", "seed", "random_scale", "negative_logit"]
    assert names[-2:] == ["precision", "contrast_negatives"]  # the advanced ones last
    own = [n for s in STRATEGIES.values() for n in s.settings]
    assert names[4:-2] == own and "opt_lr" in own
    assert settings_of(InitConfig)["strategy"].choices == tuple(STRATEGIES)


def test_every_strategy_gives_finite_rows_and_json_details(tiny, tiny_spec):
    model, tokenizer = tiny
    d = model.config.hidden_size
    spec = dataclasses.replace(tiny_spec, description="a shop that sells wool")  # for ``description``
    for name in STRATEGIES:
        rows = initial_rows(model, tokenizer, spec, InitConfig(strategy=name, opt_epochs=2, distill_snippets=2,
                                                               distill_length=10))
        assert rows.input_row.shape == (d,) and rows.output_row.shape == (d,), name
        assert torch.isfinite(rows.input_row).all() and torch.isfinite(rows.output_row).all(), name
        assert rows.details["strategy"] == name
        json.dumps(rows.details)


def test_input_vectors_names_every_requested_strategy(tiny, tiny_spec):
    model, tokenizer = tiny
    config = InitConfig(opt_epochs=1)
    vectors = input_vectors(model, tokenizer, tiny_spec, list(RESEARCH_STRATEGIES), config)
    assert list(vectors) == list(RESEARCH_STRATEGIES)
    average = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="average")).input_row
    assert torch.equal(vectors["average"], average)


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


def test_config_round_trips_through_a_dict_and_a_pickle():
    import pickle

    config = InitConfig(strategy="optimized", seed=3, opt_lr=0.05)
    assert InitConfig(**json.loads(json.dumps(config.to_dict()))) == config
    assert pickle.loads(pickle.dumps(config)) == config  # worker processes receive configs
