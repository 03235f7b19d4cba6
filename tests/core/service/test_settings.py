"""Settings, strategies and configs described as plain data; configs from widget values."""


from __future__ import annotations

import json

import pytest

from core.spec.errors import InputError
from core.service import Service



def test_strategies_and_defaults_are_plain_data():
    svc = Service(tiny=True)
    names = [s["name"] for s in svc.settings.strategies()]
    assert {"optimized", "average", "last_token", "random", "random_both"} <= set(names)
    assert [s["name"] for s in svc.settings.strategies() if "research" in s["groups"]] == \
        ["optimized", "average", "last_token", "random", "random_both"]
    json.dumps(svc.settings.strategies())
    assert svc.settings.init_defaults()["strategy"] == "average"


def test_init_config_accepts_whole_floats_and_names_wrong_fields():
    svc = Service(tiny=True)
    cfg = svc.settings.init_config(svc.settings.init_defaults() | {"seed": 3.0, "opt_epochs": 5.0})
    assert cfg.seed == 3 and isinstance(cfg.seed, int) and cfg.opt_epochs == 5
    with pytest.raises(InputError) as err:
        svc.settings.init_config(svc.settings.init_defaults() | {"seed": 2.5, "opt_lr": -1.0, "strategy": "nope"})
    assert set(err.value.fields) == {"seed", "opt_lr", "strategy"}


def test_the_compare_settings_include_where_its_members_run():
    """The Compare tab's widgets: the comparison's own settings, then where its members run
    (``core.execution.BackendConfig``); the values split back into the two configs."""
    svc = Service(tiny=True)
    assert [d["name"] for d in svc.settings.describe("compare")] == [
        "strategies", "seeds", "leak_rank", "max_new_tokens", "workers", "backend", "ray_address", "ray_cpus",
        "ray_gpus"]
    values = {"strategies": ["average"], "seeds": 2.0, "workers": 2.0, "ray_address": " 10.0.0.5:6379 "}
    config, where = svc.settings.compare_config(values), svc.settings.backend_config(values)
    assert (config.strategies, config.seeds) == (["average"], 2)
    assert (where.workers, where.backend, where.ray_address) == (2, "ray", "10.0.0.5:6379")
    assert svc.settings.labels()["ray_cpus"] == "CPUs per member (Ray)"
    with pytest.raises(InputError) as err:
        svc.settings.compare_config({"seeds": 2, "nope": 1})
    assert err.value.fields == ["nope"]


def test_a_vocabulary_draft_s_settings_are_the_many_config_s_then_the_screening_that_applies():
    from core.authoring.draft import DraftConfig
    from core.authoring.many import NOT_SCREENING, ManyConfig
    from core.spec.settings import settings_of

    svc = Service(tiny=True)
    names = [d["name"] for d in svc.settings.describe("vocab_draft")]
    assert names == [*settings_of(ManyConfig), *(n for n in settings_of(DraftConfig)
                                                  if n not in NOT_SCREENING or n == "seed")]
    generate = next(d for d in svc.settings.describe("vocab_draft") if d["name"] == "generate")
    assert generate["label"] == settings_of(ManyConfig)["generate"].label
    many, draft = svc.settings.vocab_draft_configs({"generate": 3.0, "seed": 7, "positive_rank": 10})
    assert (many.generate, draft.seed, draft.positive_rank, draft.generate) == (3, 7, 10, 0)
    with pytest.raises(InputError) as err:
        svc.settings.vocab_draft_configs({"batch_symbols": 0, "negative_rank": -1})
    assert sorted(err.value.fields) == ["batch_symbols", "negative_rank"]
