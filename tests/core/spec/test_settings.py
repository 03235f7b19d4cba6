"""Settings declared once: validation, the page's descriptions, CLI flags and the README come from them."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.embedding.strategies import STRATEGIES, InitConfig
from core.experiment.single.compare import CompareConfig
from core.spec import limits, settings
from core.spec.errors import Collector, InputError
from core.spec.settings import setting
from core.train.finetune import FinetuneConfig
from core.train.qlora import LORA_TARGETS

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Extended(FinetuneConfig):
    """The fine-tuning settings plus one more, declared the way every setting is."""

    label_smoothing: float = setting(0.0, label="Label smoothing", range=(0.0, 0.5),
                                     help="Share of the probability spread over the other tokens.")


def test_one_declared_setting_reaches_validation_flags_page_and_docs():
    assert Extended().label_smoothing == 0.0
    with pytest.raises(InputError) as err:
        Extended(label_smoothing=0.7, epochs=0)
    assert set(err.value.fields) == {"label_smoothing", "epochs"}
    assert "from 0 to 0.5" in str(err.value)

    described = {d["name"]: d for d in settings.describe(Extended)}["label_smoothing"]
    assert described == {"name": "label_smoothing", "kind": "float", "default": 0.0, "choices": None, "min": 0.0,
                         "max": 0.5, "label": "Label smoothing",
                         "help": "Share of the probability spread over the other tokens.", "advanced": False}

    parser = argparse.ArgumentParser()
    settings.add_arguments(parser, Extended)
    args = parser.parse_args(["--label-smoothing", "0.1", "--lr", "0.001", "--no-use-rslora"])
    config = settings.from_args(Extended, args, seed=3)
    assert (config.label_smoothing, config.learning_rate, config.use_rslora, config.seed) == (0.1, 0.001, False, 3)
    assert config.epochs == FinetuneConfig().epochs  # unset flags keep the declared default
    help_text = parser.format_help()
    assert "--label-smoothing" in help_text and "default 0; 0 to 0.5" in " ".join(help_text.split())

    table = settings.markdown(Extended)
    assert "| Label smoothing | `--label-smoothing` | `0` | 0 to 0.5 | Share of the probability" in table


def test_whole_floats_become_ints_and_wrong_types_are_named():
    assert FinetuneConfig(epochs=3.0, batch_size=2.0).epochs == 3
    assert InitConfig(seed=5.0).seed == 5
    with pytest.raises(InputError) as err:
        FinetuneConfig(epochs=2.5, use_rslora="yes", lr_scheduler="steep", learning_rate=0.0)
    assert err.value.fields == ["learning_rate", "epochs", "lr_scheduler", "use_rslora"]
    c = Collector()
    assert settings.check_value(c, "x", True, kind="int", range=(0, 5)) is True and c.problems[0].field == "x"


def test_from_values_refuses_unknown_keys_by_name():
    with pytest.raises(InputError) as err:
        InitConfig.from_dict({"strategy": "average", "opt_lrr": 0.1})
    assert err.value.fields == ["opt_lrr"] and "opt_lr" in str(err.value)


def test_choices_match_what_the_engine_runs():
    choices = {d["name"]: d["choices"] for d in settings.describe(InitConfig) if d["choices"]}
    assert choices["strategy"] == list(STRATEGIES)
    ft = {d["name"]: d["choices"] for d in settings.describe(FinetuneConfig) if d["choices"]}
    assert ft["lora_targets"] == list(LORA_TARGETS)


def test_the_generation_length_is_checked_in_one_place():
    assert settings.check_max_new_tokens(None) == settings.MAX_NEW_TOKENS.default
    assert settings.check_max_new_tokens(8.0) == 8
    lo, hi = limits.GENERATION_MAX_NEW_TOKENS
    for bad in (lo - 1, hi + 1, 2.5, "ten", True):
        with pytest.raises(InputError) as err:
            settings.check_max_new_tokens(bad, "tokens to generate")
        assert err.value.fields == ["tokens to generate"]
    with pytest.raises(InputError) as err:
        CompareConfig(max_new_tokens=0, seeds=0)
    assert err.value.fields == ["seeds", "max_new_tokens"]


def test_no_help_repeats_a_default_by_hand():
    for cls in (InitConfig, FinetuneConfig, CompareConfig):
        for name, s in settings.settings_of(cls).items():
            assert "default" not in s.help.lower() or name == "strategies", name


def test_readme_settings_tables_are_the_generated_ones():
    from core.cli.settings import markdown

    text = (ROOT / "README.md").read_text()
    start, end = text.index("<!-- settings:start -->\n"), text.index("<!-- settings:end -->")
    assert text[start + len("<!-- settings:start -->\n"):end] == markdown()
