"""A vocabulary's tokens fine-tuned data-parallel: Ray Train's ``TorchTrainer`` around the same Trainer.

``finetune_tokens_ray`` does what ``core.train.together.finetune_tokens`` does, on ``workers`` Ray
Train workers at once (DDP: gloo on CPUs, NCCL on GPUs): every worker loads the full-precision
model with the tokens from a folder of safetensors written here once, quantizes its own 4-bit copy,
adds the same LoRA (same seed), and trains on its share of each global batch (``batch_size`` sentences
per forward pass over all workers, ``batch_size / workers`` on each, so the optimizer steps see the
batches one process would). DDP averages the gradients before every optimizer step, so the token
rows stay identical on every worker; every worker sends a digest of its token rows after every step
and the result says whether they all matched (``rows_identical``).

Rank 0 alone sends the step events (to the caller's ``on_event``, through a small actor, as the
comparison's Ray members do), keeps the best evaluation's state, and returns the trained parameters
as a Ray Train checkpoint; the caller puts them into its own 4-bit model, so the evaluation after
fine-tuning and the run store are written here, by one process. A stop asked for here is read by
rank 0 and passed to every worker in the same step (an all-reduce), so they end together.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors.torch import load_file, save_file

from core.jsonsafe import jsonable
from core.spec import limits, settings
from core.spec.errors import fail
from core.spec.settings import setting
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
    ``RayBackend.connect``); returns the trained model here and what the workers reported
    (``rows_identical``, the per-step digests of every rank, the workers' loss curve)."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from core.execution.ray_tasks import _Hub
    from core.train.qlora import prepare, token_rows

    config = config or FinetuneConfig()
    config.check_data(len(sentences.fine_tuning_sentences), len(sentences.validation_sentences))
    check_workers(config, workers)
    emit = on_event or (lambda event: None)
    scratch = Path(tempfile.mkdtemp(prefix="glosslab-ddp-"))
    hub = ray.remote(num_cpus=0)(_Hub).remote()
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
        with result.checkpoint.as_directory() as folder:
            state = {"trainable": load_file(str(Path(folder) / STATE_FILE)),
                     "result": json.loads((Path(folder) / RESULT_FILE).read_text(encoding="utf-8"))}
        peft_model = prepare(model, list(token_ids), config)
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
        trained = TrainedTokens(peft_model, tokenizer, list(token_ids), list(tokens), finetuned, rows_before,
                                rows_after, config)
        steps = sorted(set().union(*(d.keys() for d in digests.values()))) if digests else []
        identical = bool(steps) and len(digests) == workers and all(
            len({digests[r].get(s) for r in digests}) == 1 for s in steps)
        report = {"workers": workers, "backend": "nccl" if use_gpu else "gloo", "rows_identical": identical,
                  "steps_checked": len(steps), "digests": {r: [d[s] for s in sorted(d)] for r, d in digests.items()},
                  "losses": [e.get("loss") for e in curve]}
        return trained, report
    finally:
        ray.kill(hub)
        shutil.rmtree(scratch, ignore_errors=True)


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


# -- a vocabulary job fine-tuned data-parallel ---------------------------------------------------------

@dataclass
class DataParallelConfig(settings.Config):
    """Where a vocabulary's fine-tuning runs: in this process, or data-parallel on Ray Train."""

    WHAT = "data-parallel settings"

    backend: str = setting("local", label="Fine-tune on", choices=("local", "ray"),
                           help="local = in this process; ray = data-parallel on Ray Train workers (DDP), on a "
                                "local Ray instance or on the cluster at Ray address.")
    ray_address: str = setting("", label="Ray address",
                               help="host:port of a running Ray cluster's head to join; empty = "
                                    "$GLOSSLAB_RAY_ADDRESS, or a local Ray instance. An address implies backend ray.")
    ray_workers: int = setting(2, label="Ray Train workers", range=limits.RAY_WORKERS,
                               help="Data-parallel workers; batch_size must be a multiple of it.")
    ray_cpus: int = setting(1, label="CPUs per worker (Ray)", range=limits.RAY_CPUS,
                            help="CPU cores each Ray Train worker asks for (and the threads it uses).")
    ray_gpus: float = setting(0.0, label="GPU per worker (Ray)", range=(0.0, 1.0),
                              help="0 = CPUs (gloo); 1 = one GPU per worker (NCCL).")

    def __post_init__(self) -> None:
        if isinstance(self.ray_address, str):
            self.ray_address = self.ray_address.strip()
            if self.ray_address:
                self.backend = "ray"
        settings.validate(self)
        if self.ray_gpus not in (0.0, 1.0):
            raise fail("ray_gpus", f"is {self.ray_gpus:g}", "give 0 (CPUs) or 1 (one GPU per worker)")


def vocab_ddp_job(vocab, base, init_config, config: FinetuneConfig, contrast: bool, max_new_tokens: int,
                  parallel: DataParallelConfig, where: str):
    """A job function: ``core.runs.vocab_jobs.vocab_job`` with the fine-tuning on Ray Train workers;
    the result also holds ``data_parallel`` (workers, ``rows_identical``, the digests) and ``where``."""
    from core.experiment.vocabulary.run import run_vocabulary
    from core.runs.vocab_jobs import save_vocab_adapter

    def fn(ctx) -> dict:
        report: dict = {}

        def finetune_with(*args, **kw):
            trained, got = finetune_tokens_ray(*args, workers=parallel.ray_workers, cpus_per_worker=parallel.ray_cpus,
                                               use_gpu=bool(parallel.ray_gpus), **kw)
            report.update(got)
            return trained

        run = run_vocabulary(vocab, base, init_config, config, contrast=contrast, finetune=True, emit=ctx.emit,
                             should_stop=lambda: ctx.stop_requested, max_new_tokens=max_new_tokens,
                             finetune_with=finetune_with)
        result = {**run.to_dict(), "where": where, "data_parallel": report}
        result["adapter"] = save_vocab_adapter(ctx, run, base)
        return result

    return fn


def submit_vocab_ray(runner, vocab, base, init_config, config: FinetuneConfig, parallel: DataParallelConfig,
                     contrast: bool = False, max_new_tokens: int | None = None):
    """Check everything (the vocabulary, the batch split, the cluster's room), then queue the job."""
    from core.experiment.single.evaluate import DEFAULT_MAX_NEW_TOKENS
    from core.execution.ray_tasks import ADDRESS_ENV, RayBackend
    from core.runs.vocab_jobs import check_vocab_run

    max_new_tokens = check_vocab_run(vocab, base, config, DEFAULT_MAX_NEW_TOKENS if max_new_tokens is None
                                     else max_new_tokens)
    check_workers(config, parallel.ray_workers)
    import os

    backend = RayBackend(address=parallel.ray_address or os.environ.get(ADDRESS_ENV, "").strip(),
                         cpus=parallel.ray_cpus, gpus=parallel.ray_gpus).connect()
    import ray

    room = ray.cluster_resources()
    need = {"CPU": parallel.ray_workers * parallel.ray_cpus, "GPU": parallel.ray_workers * parallel.ray_gpus}
    for key, name in (("CPU", "ray_cpus"), ("GPU", "ray_gpus")):
        if need[key] > room.get(key, 0):
            raise fail("ray_workers", f"is {parallel.ray_workers}: {need[key]:g} {key}s in all with {name} "
                       f"{getattr(parallel, name):g}, but the Ray cluster has {room.get(key, 0):g}",
                       "use fewer workers, or join a bigger cluster with ray_address")
    where = (f"ray train: {parallel.ray_workers} workers × {parallel.ray_cpus} CPU"
             f"{' + 1 GPU' if parallel.ray_gpus else ''} on " + backend.where.split(": ", 1)[1].split(" (")[0])
    settings_ = {"kind": "vocab", "action": "finetune", "model": base.name, "init": init_config.to_dict(),
                 "finetune": config.to_dict(), "contrast": contrast, "max_new_tokens": max_new_tokens,
                 "source": vocab.source, "data_parallel": parallel.to_dict(), "where": where}
    return runner.submit(vocab_ddp_job(vocab, base, init_config, config, contrast, max_new_tokens, parallel, where),
                         kind="vocab", title=f"vocabulary finetune: {vocab.title} ({init_config.strategy}, "
                         f"{parallel.ray_workers} Ray Train workers)", spec=vocab.to_dict(), config=settings_)


__all__ = ["finetune_tokens_ray", "rows_digest", "check_workers", "STATE_FILE", "DataParallelConfig",
           "submit_vocab_ray", "vocab_ddp_job"]
