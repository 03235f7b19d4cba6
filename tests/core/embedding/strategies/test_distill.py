"""``distill`` through the registry: the same row as ``core.embedding.distill`` on the same settings,
progress as optimization epochs, seeded, and bad settings named before any work."""

from __future__ import annotations

import pytest
import torch

from core.embedding.distill import distill
from core.embedding.strategies import InitConfig, check_strategies, depends_on_seed, initial_rows
from core.spec.errors import InputError

SMALL = dict(distill_snippets=4, distill_length=12, distill_epochs=2, distill_lr=1e-2)


def test_the_row_is_the_distillation_and_progress_comes_as_epochs(tiny, tiny_spec):
    model, tokenizer = tiny
    seen = []
    rows = initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="distill", seed=1, **SMALL),
                        on_epoch=seen.append)
    direct = distill(model, tokenizer, tiny_spec, snippets=4, length=12, epochs=2, lr=1e-2, seed=1)
    torch.testing.assert_close(rows.input_row, direct.vector)
    assert rows.output_fit is not None  # the output row is calculated
    assert seen and seen[-1]["epoch"] == 2 and all(e["val_loss"] is None and e["train_loss"] > 0 for e in seen)
    assert rows.details["snippets_built"] > 4 and rows.details["cosine_to_start"] < 1
    assert depends_on_seed(InitConfig(strategy="distill"))


def test_bad_settings_name_their_field(tiny, tiny_spec):
    model, tokenizer = tiny
    with pytest.raises(InputError) as err:
        InitConfig(strategy="distill", distill_snippets=0, distill_length=-3)
    assert {p.field for p in err.value.problems} == {"distill_snippets", "distill_length"}
    with pytest.raises(InputError) as err:
        initial_rows(model, tokenizer, tiny_spec, InitConfig(strategy="distill", distill_layer=99, **SMALL))
    assert err.value.problems[0].field == "distill_layer"
    problems = check_strategies([tiny_spec], ["distill"], InitConfig(distill_length=3), tokenizer)
    assert [p.field for p in problems] == ["distill_length"]
    assert [p.field for p in check_strategies([tiny_spec], ["distill"], InitConfig(distill_layer=0))] == \
        ["distill_layer"]
