"""What the experiment tests share: the tiny random model as a loaded base (a fresh one per test)."""

from __future__ import annotations

import pytest

from core.model.loading import LoadedModel


@pytest.fixture
def base(tiny):
    model, tokenizer = tiny
    return LoadedModel(model=model, tokenizer=tokenizer, name="tiny-random", source="tiny-random")
