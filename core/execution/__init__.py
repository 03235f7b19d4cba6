"""Running members somewhere: in this process, in worker processes side by side, as Ray tasks, or a
vocabulary's fine-tuning data-parallel on Ray Train; one protocol, one message loop, one declaration
of the settings that choose among them.

Every module of this package but ``backend`` is one backend and offers itself in ``CHOICES``: a
value of the ``backend`` setting for a use (``members``: a comparison's members side by side;
``training``: one vocabulary run, its fine-tuning where the backend puts it), and how to make it
from ``BackendConfig``. They are found when the package loads, so adding a backend is adding its
module. ``backend_for(config, use)`` makes the one the settings ask for; the runs layer and the
command line choose, and the experiments only receive it.

Owns: the ``Backend`` protocol, what a member's work is given where it runs, and the one message
loop (``backend``); one module per backend: ``in_process``, ``processes`` (worker processes and the
scheduling of their cores), ``ray_tasks`` (Ray tasks on a local instance or a cluster, and joining
Ray), ``ray_train`` (a vocabulary's data-parallel fine-tuning); the registry and ``BackendConfig``
(this module).

May import: every room below it (``core.spec`` … ``core.report``) and ``core.atomic``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from core.execution.backend import MEMBERS, TRAINING, Backend, Choice
from core.spec import limits, settings
from core.spec.errors import fail
from core.spec.settings import setting


def _discover() -> dict[tuple[str, str], Choice]:
    """Every backend module's ``CHOICES``, by (setting value, use); each module is imported by its own
    name inside this package only."""
    found: dict[tuple[str, str], Choice] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name == "backend" or info.name.startswith("_"):
            continue
        for choice in importlib.import_module(f"{__name__}.{info.name}").CHOICES:
            key = (choice.name, choice.use)
            if key in found:
                raise ImportError(f"two backends are {choice.name!r} for {choice.use}: {info.name} and another")
            found[key] = choice
    return found


CHOICES: dict[tuple[str, str], Choice] = _discover()
NAMES = tuple(sorted({name for name, _ in CHOICES}, key=lambda n: (n != "local", n)))


@dataclass
class BackendConfig(settings.Config):
    """Where members run: the one declaration for ``compare``, ``vocab compare``, ``vocab finetune``
    and ``vocab draft`` (each reads the settings of its use: ``FOR_MEMBERS``, ``FOR_TRAINING``, or
    ``FOR_DRAFTING``: a drafting run's batches run as members, in this process or as Ray tasks)."""

    WHAT = "backend settings"
    FOR_MEMBERS = ("workers", "backend", "ray_address", "ray_cpus", "ray_gpus")
    FOR_TRAINING = ("backend", "ray_address", "ray_workers", "ray_cpus", "ray_gpus")
    FOR_DRAFTING = ("backend", "ray_address", "ray_cpus", "ray_gpus")

    workers: int = setting(0, label="Members at once", range=limits.WORKERS, advanced=True,
                           help="Members trained side by side in worker processes, the CPU cores shared among "
                                "them; 0 = automatic (one per core on a CPU, at most 4; one on a GPU or for a "
                                "tiny model), 1 = one after another in this process.")
    backend: str = setting("local", label="Run members on", choices=NAMES, advanced=True,
                           help="local = in this process or its worker processes (Members at once); ray = as "
                                "Ray tasks (a vocabulary's fine-tuning: data-parallel on Ray Train workers; vocab "
                                "draft: one task per batch of symbols), on a local Ray instance sized to this "
                                "machine or on the cluster at Ray address (see 'Running on Ray').")
    ray_address: str = setting("", label="Ray address", advanced=True,
                               help="host:port of a running Ray cluster's head (ray start --head) to join; empty = "
                                    "$GLOSSLAB_RAY_ADDRESS, or start a local Ray instance. An address implies "
                                    "backend ray.")
    ray_workers: int = setting(2, label="Ray Train workers", range=limits.RAY_WORKERS, advanced=True,
                               help="Data-parallel workers of a vocabulary's fine-tuning on Ray Train; batch_size "
                                    "must be a multiple of it.")
    ray_cpus: int = setting(1, label="CPUs per member (Ray)", range=limits.RAY_CPUS, advanced=True,
                            help="CPU cores each member's Ray task (or each Ray Train worker) asks for, and the "
                                 "threads it uses.")
    ray_gpus: float = setting(0.0, label="GPUs per member (Ray)", range=limits.RAY_GPUS, advanced=True,
                              help="GPUs each member's Ray task asks for; a fraction lets members share a GPU. A "
                                   "Ray Train worker takes 0 (CPUs, gloo) or 1 (one GPU each, NCCL).")

    def __post_init__(self) -> None:
        if isinstance(self.ray_address, str):
            self.ray_address = self.ray_address.strip()
            if self.ray_address:
                self.backend = "ray"
        settings.validate(self)

    def subset(self, use: str) -> dict:
        """The settings ``use`` reads, by name, in their order (as runs store them)."""
        names = self.FOR_MEMBERS if use == MEMBERS else self.FOR_TRAINING
        return {name: getattr(self, name) for name in names}


def backend_for(config: BackendConfig | None = None, use: str = MEMBERS) -> Backend:
    """The backend ``config`` names for ``use`` (``MEMBERS`` or ``TRAINING``), holding the settings it
    was made from; nothing of Ray is imported for ``local``."""
    config = config or BackendConfig()
    choice = CHOICES.get((config.backend, use))
    if choice is None:
        offered = ", ".join(name for name, u in CHOICES if u == use)
        raise fail("backend", f"{config.backend!r} cannot run {use}", f"choose one of {offered}")
    backend = choice.make(config)
    backend.settings = config.subset(use)
    return backend


__all__ = ["BackendConfig", "CHOICES", "MEMBERS", "NAMES", "TRAINING", "backend_for"]
