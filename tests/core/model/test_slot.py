"""The process-wide model slot: loads in the background, reports its state, keeps the last good model."""

from __future__ import annotations

import pytest

from core.model.slot import ModelSlot
from core.spec.errors import InputError


def test_nothing_loaded_is_a_clear_error_naming_the_model_field():
    slot = ModelSlot()
    assert slot.status()["state"] == "idle"
    with pytest.raises(InputError) as err:
        slot.get()
    assert err.value.fields == ["model"] and "Model tab" in str(err.value)


def test_load_reports_ready_then_a_failed_switch_keeps_the_previous_model(tmp_path):
    slot = ModelSlot()
    status = slot.load("tiny-random", wait=True)
    assert status["state"] == "ready" and status["progress"] == 1.0 and status["info"]["layers"] == 2
    first = slot.get()
    status = slot.load(str(tmp_path / "no-such-model"), wait=True)
    assert status["state"] == "failed" and status["problems"][0]["field"] == "model"
    assert slot.get() is first  # the previous model stays usable
    # The status is a copy: changing it does not change the slot.
    status["state"] = "changed"
    assert slot.status()["state"] == "failed"
