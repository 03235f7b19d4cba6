"""The base model part: a failed load is readable and keeps the previous model."""


from __future__ import annotations


import pytest

from core.service import Service



@pytest.fixture(scope="module")
def service(tmp_path_factory):
    svc = Service(tiny=True, runs_dir=tmp_path_factory.mktemp("runs"))
    assert svc.models.load(wait=True)["state"] == "ready"
    return svc


def test_a_model_that_is_not_there_fails_readably_and_the_previous_one_stays(service, tmp_path):
    status = service.models.load(str(tmp_path / "nowhere"), wait=True)
    assert status["state"] == "failed"
    assert status["problems"][0]["field"] == "model" and "does not exist" in status["problems"][0]["problem"]
    assert service.models.get().name == "tiny-random"
    status = service.models.load("", wait=True)   # back to the default (tiny here)
    assert status["state"] == "ready" and status["info"]["hidden_size"] == 64
