"""A vocabulary's fine-tuning data-parallel on Ray Train: the ``RayTrain`` backend, and Ray Train's
``TorchTrainer`` around the same Trainer.

``RayTrain`` runs a vocabulary's run (``core.experiment.vocabulary.run``) in this process, one after
another as ``core.execution.in_process`` does, and hands its fine-tuning to ``finetune_tokens_ray``
(``Site.finetune_tokens``); ``connect`` refuses, before a run folder is made, a batch that does not
split over the workers (``batch_size``), Ray Train workers the cluster cannot hold (``ray_workers``),
and a GPU share other than 0 or 1 (``ray_gpus``).

``finetune_tokens_ray`` does what ``core.train.together.finetune_tokens`` does, on ``workers`` Ray
Train workers at once (DDP: gloo on CPUs, NCCL on GPUs): every worker loads the full-precision
model with the tokens from a folder of safetensors written here once, quantizes its own 4-bit copy,
adds the same LoRA (same seed), and trains on its share of each global batch (``batch_size`` sentences
per forward pass over all workers, ``batch_size / workers`` on each, so the optimizer steps see the
batches one process would). DDP averages the gradients before every optimizer step, so the token
rows stay identical on every worker; every worker sends a digest of its token rows after every step
and the result says whether they all matched (``rows_identical``).

Rank 0 alone sends the step events (to the caller's ``on_event``, through an ``EventHub`` actor, as
the comparison's Ray members do), keeps the best evaluation's state, and returns the trained
parameters as a Ray Train checkpoint; the caller puts them into its own 4-bit model, so the
evaluation after fine-tuning and the run store are written here, by one process. A stop asked for
here is read by rank 0 and passed to every worker in the same step (an all-reduce), so they end together.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file, save_file

from core.execution.backend import TRAINING, Choice, Members, run_members
from core.execution.in_process import InProcessTransport
from core.execution.ray_tasks import EventHub, address_of, check_node_room, join, place_words
from core.jsonsafe import jsonable
from core.spec.errors import fail
from core.train.finetune import FinetuneConfig, FinetuneResult, record_turn
from core.train.together import Sentences, TrainedTokens

STATE_FILE = "trained.safetensors"  # the trained parameters; the result beside it as JSON
RESULT_FILE = "result.json"


def rows_digest(model, token_ids: list[int]) -> str:
    """A digest of every token's input and output rows, bit for bit."""
    from core.train.qlora import token_rows

    h = hashlib.sha256()
    for i in token_ids:
        for row in token_rows(model, i):
            h.update(row.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def check_workers(config: FinetuneConfig, workers: int) -> None:
    if config.batch_size % workers:
        low = max(workers, config.batch_size // workers * workers)
        raise fail("batch_size", f"is {config.batch_size}, not a multiple of the {workers} Ray Train workers",
                   f"use {low} or {low + workers} (each worker takes batch_size / workers sentences of every batch)")


def finetune_tokens_ray(model, tokenizer, token_ids: list[int], tokens: list[str], sentences: Sentences,
                        config: FinetuneConfig | None = None, *, workers: int = 2, cpus_per_worker: int = 1,
                        use_gpu: bool = False, on_event: Callable[[dict], Any] | None = None,
                        should_stop: Callable[[], bool] | None = None) -> tuple[TrainedTokens, dict]:
    """QLoRA of every token on ``workers`` Ray Train workers (Ray must be running: ``ray.init`` or
    ``join``); returns the trained model here and what the workers reported (``rows_identical``, the
    per-step digests of every rank, the workers' loss curve)."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from core.train.qlora import token_rows

    config = config or FinetuneConfig()
    config.check_data(len(sentences.fine_tuning_sentences), len(sentences.validation_sentences))
    check_workers(config, workers)
    emit = on_event or (lambda event: None)
    scratch = Path(tempfile.mkdtemp(prefix="glosslab-ddp-"))
    hub = ray.remote(num_cpus=0)(EventHub).remote()
    try:
        model.save_pretrained(scratch / "base", safe_serialization=True)
        tokenizer.save_pretrained(scratch / "base")
        rows_before = [token_rows(model, i) for i in token_ids]
        emit({"type": "phase", "phase": "train", "message": f"Fine-tuning {len(token_ids)} tokens together on "
              f"{workers} Ray Train workers", "max_steps": config.epochs * config.steps_per_epoch(
                  len(sentences.fine_tuning_sentences))})
        trainer = TorchTrainer(
            _train_loop, train_loop_config={
                "folder": str(scratch / "base"), "token_ids": list(token_ids), "sentences": sentences,
                "config": config, "hub": hub, "threads": cpus_per_worker},
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu,
                                         resources_per_worker={"CPU": cpus_per_worker}),
            torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
            run_config=RunConfig(name=f"glosslab-vocab-{int(time.time())}", storage_path=str(scratch / "ray")))
        result, digests, curve = _fit_and_relay(trainer, hub, emit, should_stop)
        with result.checkpoint.as_directory() as folder:
            state = {"trainable": load_file(str(Path(folder) / STATE_FILE)),
                     "result": json.loads((Path(folder) / RESULT_FILE).read_text(encoding="utf-8"))}
        trained = _trained_here(model, tokenizer, list(token_ids), list(tokens), config, state, rows_before)
        return trained, _report(digests, curve, workers, use_gpu)
    finally:
        ray.kill(hub)
        shutil.rmtree(scratch, ignore_errors=True)


def _fit_and_relay(trainer, hub, emit, should_stop) -> tuple[Any, dict[int, dict[int, str]], list[dict]]:
    """Fit on a thread; meanwhile pass rank 0's events on, collect every rank's row digests, and
    send a stop asked for here. Returns Ray Train's result, the digests and rank 0's step events."""
    import ray

    done: dict = {}
    thread = threading.Thread(target=lambda: done.update(result=_fit(trainer)), daemon=True)
    thread.start()
    digests: dict[int, dict[int, str]] = {}
    curve: list[dict] = []
    stop_sent = False
    while True:
        alive = thread.is_alive()
        for rank, event in ray.get(hub.take.remote()):
            if event.get("type") == "rows":
                digests.setdefault(event["rank"], {})[event["step"]] = event["digest"]
            elif rank == 0:
                if event.get("type") == "step":
                    curve.append(event)
                emit(event)
        if not alive:
            break
        if should_stop is not None and not stop_sent and should_stop():
            hub.set_stop.remote()
            stop_sent = True
        thread.join(timeout=0.2)
    result = done.get("result")
    if isinstance(result, BaseException):
        raise result
    return result, digests, curve


def _trained_here(model, tokenizer, token_ids: list[int], tokens: list[str], config: FinetuneConfig, state: dict,
                  rows_before: list) -> TrainedTokens:
    """The workers' trained parameters put into this process's own 4-bit model with the same LoRA."""
    from core.train.qlora import prepare, token_rows

    peft_model = prepare(model, token_ids, config)
    missing = set(state["trainable"]) - {n for n, p in peft_model.named_parameters() if p.requires_grad}
    if missing:
        raise RuntimeError(f"the workers trained parameters this model lacks: {sorted(missing)[:3]}")
    with torch.no_grad():
        params = dict(peft_model.named_parameters())
        for name, value in state["trainable"].items():
            params[name].copy_(value.to(params[name].device, params[name].dtype))
    peft_model.eval()
    rows_after = [token_rows(peft_model, i) for i in token_ids]
    finetuned = FinetuneResult(**state["result"])
    # As in one process, the cosines compare with the full-precision model's rows.
    record_turn(finetuned, rows_before, rows_after)
    return TrainedTokens(peft_model, tokenizer, token_ids, tokens, finetuned, rows_before, rows_after, config)


def _report(digests: dict[int, dict[int, str]], curve: list[dict], workers: int, use_gpu: bool) -> dict:
    steps = sorted(set().union(*(d.keys() for d in digests.values()))) if digests else []
    identical = bool(steps) and len(digests) == workers and all(
        len({digests[r].get(s) for r in digests}) == 1 for s in steps)
    return {"workers": workers, "backend": "nccl" if use_gpu else "gloo", "rows_identical": identical,
            "steps_checked": len(steps), "digests": {r: [d[s] for s in sorted(d)] for r, d in digests.items()},
            "losses": [e.get("loss") for e in curve]}


def _fit(trainer):
    try:
        return trainer.fit()
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
        return exc


def _train_loop(cfg: dict) -> None:
    """One Ray Train worker: its own 4-bit copy, its share of every batch, DDP through the Trainer."""
    import ray
    import ray.train
    import torch.distributed as dist
    from ray.train import Checkpoint

    from core.model.loading import load_model
    from core.train.finetune import train
    from core.train.qlora import prepare

    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    torch.set_num_threads(max(1, int(cfg["threads"])))
    hub, ids = cfg["hub"], cfg["token_ids"]
    config: FinetuneConfig = replace(cfg["config"], batch_size=cfg["config"].batch_size // world)
    loaded = load_model(cfg["folder"])
    # Read from the shared folder: under torch.distributed only rank 0 would write the usual copy.
    peft_model = prepare(loaded.model, ids, config, source=cfg["folder"])

    def on_event(event: dict) -> None:
        if event.get("type") == "step":
            hub.put.remote(rank, [{"type": "rows", "rank": rank, "step": event["step"],
                                   "digest": rows_digest(peft_model, ids)}])
        if rank == 0:
            hub.put.remote(0, [event])

    def should_stop() -> bool:
        """Rank 0 reads the stop flag; every rank learns it in the same step."""
        flag = torch.zeros(1)
        if rank == 0:
            flag[0] = float(ray.get(hub.stopped.remote()))
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag[0])

    result = train(peft_model, loaded.tokenizer, ids, cfg["sentences"], config, on_event=on_event,
                   should_stop=should_stop, eval_groups=cfg["sentences"].validation_by)
    ray.get(hub.put.remote(rank, []))  # this rank's events are in before the run ends
    metrics = {"steps": result.steps, "best_step": result.best_step, "best_eval_loss": result.best_eval_loss}
    if rank == 0:
        folder = tempfile.mkdtemp(prefix="glosslab-ddp-state-")
        # safetensors and JSON, never a pickle: nothing the app reads back can run code.
        save_file({n: p.detach().cpu().contiguous().clone() for n, p in peft_model.named_parameters()
                   if p.requires_grad}, str(Path(folder) / STATE_FILE))
        (Path(folder) / RESULT_FILE).write_text(json.dumps(jsonable(result.to_dict())), encoding="utf-8")
        ray.train.report(metrics, checkpoint=Checkpoint.from_directory(folder))
    else:
        ray.train.report(metrics)


# -- the backend ------------------------------------------------------------------------------------------

@dataclass
class RayTrain:
    """A vocabulary's runs here, each one's fine-tuning data-parallel on Ray Train (see the module docstring)."""

    address: str = ""
    workers: int = 2
    cpus: int = 1
    gpus: float = 0.0
    settings: dict = field(default_factory=dict)
    where: str = ""

    def __post_init__(self) -> None:
        if self.gpus not in (0.0, 1.0):
            raise fail("ray_gpus", f"is {self.gpus:g}", "give 0 (CPUs) or 1 (one GPU per Ray Train worker)")

    @classmethod
    def from_config(cls, config) -> "RayTrain":
        return cls(address=address_of(config.ray_address), workers=config.ray_workers, cpus=config.ray_cpus,
                   gpus=config.ray_gpus)

    @property
    def label(self) -> str:
        return self.where or "ray train"

    def connect(self, finetune: FinetuneConfig | None = None) -> "RayTrain":
        """Check that ``finetune``'s batches split over the workers, join Ray, and check it holds them."""
        import ray

        if finetune is not None:
            check_workers(finetune, self.workers)
        join(self.address)
        check_node_room(self.cpus, self.gpus)
        room = ray.cluster_resources()
        need = {"CPU": self.workers * self.cpus, "GPU": self.workers * self.gpus}
        for key, name, value in (("CPU", "ray_cpus", self.cpus), ("GPU", "ray_gpus", self.gpus)):
            if need[key] > room.get(key, 0):
                raise fail("ray_workers", f"is {self.workers}: {need[key]:g} {key}s in all with {name} {value:g}, "
                           f"but the Ray cluster has {room.get(key, 0):g}",
                           "use fewer workers, or join a bigger cluster with ray_address")
        self.where = (f"ray train: {self.workers} workers × {self.cpus} CPU{' + 1 GPU' if self.gpus else ''} on "
                      + place_words(self.address))
        return self

    def place(self, n_tasks: int, base) -> tuple[int, str]:
        if not self.where:
            self.connect()
        return 1, self.where

    def run(self, members: Members, base, **kw) -> bool:
        if not self.where:
            self.connect()
        finetune = partial(finetune_tokens_ray, workers=self.workers, cpus_per_worker=self.cpus,
                           use_gpu=bool(self.gpus))
        return run_members(lambda scratch: InProcessTransport(members, base, scratch, finetune_tokens=finetune),
                           members, **kw)


CHOICES = (Choice("ray", TRAINING, RayTrain.from_config),)

__all__ = ["CHOICES", "RESULT_FILE", "RayTrain", "STATE_FILE", "check_workers", "finetune_tokens_ray", "rows_digest"]
