"""What the engine tests share: the tiny random model as a base (once per module) and a job runner with
its own run store (stopped after each test). The experiment tests override ``base`` with a fresh one per test."""

from __future__ import annotations

import pytest

from core.runs.jobs import JobRunner
from core.runs.store import RunStore


@pytest.fixture(scope="module")
def base():
    from core.model.loading import load_model

    return load_model("tiny-random")


@pytest.fixture
def runner(tmp_path):
    r = JobRunner(RunStore(tmp_path / "runs"))
    yield r
    r.shutdown()
