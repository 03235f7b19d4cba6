"""What the engine tests share: the tiny random model as a base (once per module) and a job runner with
its own run store (stopped after each test), and a local Ray instance of 2 CPUs shared by a module's tests (``ray2``).
The experiment tests override ``base`` with a fresh one per test."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture(scope="module")
def _ray_module():
    """Ray, ended after the last test of a module that started it."""
    ray = pytest.importorskip("ray")
    yield ray
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def ray2(_ray_module):
    """A local Ray instance with 2 CPUs, started by the first test of a module that asks for it and
    kept for the module's next ones (started again if a test ended it): its worker processes, which
    import ``core`` and ``tests`` from the repository offline, stay warm from one test to the next."""
    ray = _ray_module
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[2]),
                                           "HF_HUB_OFFLINE": "1"}})
    yield ray
