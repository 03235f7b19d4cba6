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
