"""core/execution/ray_train.py: a tiny vocabulary fine-tuned on 2 Ray Train workers (DDP, gloo on CPU) keeps the
token rows identical on both after every step and follows the loss curve of one process with the same
global batch; a batch that does not split evenly is refused by name.

The test starts its own local Ray instance with 2 CPUs and ends it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from core.model.tokens import add_tokens
from core.execution.ray_train import check_workers, finetune_tokens_ray, rows_digest
from core.spec.errors import InputError
from core.spec.gloss import check_spec
from core.train.finetune import FinetuneConfig
from core.train.together import Sentences, finetune_tokens
from tests.core.experiment.vocab_fixtures import three_dicts, three_specs

ROOT = Path(__file__).resolve().parents[3]
# Loss tolerance between 2 workers and one process. Every global batch holds the same sentences
# (the first step's loss is equal to 1e-7) and DDP averages the two halves' gradients, but each
# worker sums its half in its own order, so the gradients differ in float32 rounding; AdamW divides
# by the gradients' running size, which turns a rounding difference on a component whose gradient
# is near zero into a difference of up to a learning rate in that weight. So the training losses
# agree to rounding after the first update and drift apart slowly after: 1e-4 at steps 1 and 2, then
# relative 1e-3 (measured over 6 steps at learning rate 2e-2 with these 3 symbols: 1.3e-7 at steps
# 1 and 2, 5.5e-6 at most; up to 2.6e-4 in other runs while the training code changed).
EARLY_TOLERANCE = 1e-4
LOSS_TOLERANCE = 1e-3
# The validation loss is another matter: the Trainer splits the validation sentences between the
# workers and averages the two halves' token-weighted losses by sentence count, where one process
# weighs every token alike. With halves of unequal token counts that differs by up to a few percent
# (1.4e-2 relative measured with 4 built-in symbols; 1.8e-6 with these 3); each symbol's ``eval_loss_by`` is computed
# on the whole set in every worker and agrees to rounding.
EVAL_TOLERANCE = 3e-2


def _vocab(tiny):
    model, tokenizer = tiny
    specs = [check_spec(spec, tokenizer) for spec in three_specs()]
    d = model.config.hidden_size
    g = torch.Generator().manual_seed(0)
    ids = add_tokens(model, tokenizer, [s.new_token for s in specs], torch.randn(len(specs), d, generator=g) * 0.05,
                     torch.randn(len(specs), d, generator=g) * 0.05)
    sentences = Sentences.of(specs)
    sentences.fine_tuning_sentences = sentences.fine_tuning_sentences[:12]
    return model, tokenizer, ids, [s.new_token for s in specs], sentences


def test_two_ddp_workers_keep_identical_rows_and_the_loss_curve_of_one_process(tiny):
    ray = pytest.importorskip("ray")
    model, tokenizer, ids, tokens, sentences = _vocab(tiny)
    # No dropout: its random draws would differ between one process and two workers.
    config = FinetuneConfig(epochs=2, batch_size=4, grad_accum=1, learning_rate=2e-2, warmup_ratio=0.0,
                            lora_dropout=0.0, restore_best=False, seed=3)
    one = finetune_tokens(model, tokenizer, ids, tokens, sentences, config)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}})
    try:
        events: list[dict] = []
        two, report = finetune_tokens_ray(model, tokenizer, ids, tokens, sentences, config, workers=2,
                                          on_event=events.append)
    finally:
        ray.shutdown()
    steps = config.epochs * config.steps_per_epoch(len(sentences.fine_tuning_sentences))
    assert report["rows_identical"] and report["steps_checked"] == steps + 1  # step 0 (before training) too
    assert set(report["digests"]) == {0, 1} and report["digests"][0] == report["digests"][1]
    assert len(set(report["digests"][0])) > 1  # the rows did move from step to step
    # Rank 0's events alone reached the caller: one per step.
    assert [e["step"] for e in events if e["type"] == "step"] == list(range(steps + 1))
    curve_one = [(e["step"], e["loss"], e["eval_loss"]) for e in one.result.history]
    curve_two = [(e["step"], e["loss"], e["eval_loss"]) for e in two.result.history]
    assert [s for s, *_ in curve_one] == [s for s, *_ in curve_two]
    gaps = {(step, kind): abs(a - b) / abs(a) for (step, *x), (_, *y) in zip(curve_one, curve_two)
            for kind, a, b in zip(("loss", "eval_loss"), x, y) if a is not None}
    rows_gap = max(float((a - b).abs().max()) for one_rows, two_rows in zip(one.rows_after, two.rows_after)
                   for a, b in zip(one_rows, two_rows))
    print(f"DDP vs one process over {steps} steps: largest relative gap of the training loss "
          f"{max(g for (s, k), g in gaps.items() if k == 'loss'):.2e} (steps 1-2: "
          f"{max(g for (s, k), g in gaps.items() if k == 'loss' and s <= 2):.2e}), of the validation loss "
          f"{max(g for (s, k), g in gaps.items() if k == 'eval_loss'):.2e}; largest token-row gap "
          f"{rows_gap:.2e}; train losses one {[round(x[1], 5) for x in curve_one if x[1] is not None]}, "
          f"two {[round(x[1], 5) for x in curve_two if x[1] is not None]}")
    train_gaps = {s: g for (s, kind), g in gaps.items() if kind == "loss"}
    assert train_gaps[1] < 1e-6  # the same sentences in the first global batch: equal but for rounding
    assert max(g for s, g in train_gaps.items() if s <= 2) < EARLY_TOLERANCE
    assert max(train_gaps.values()) < LOSS_TOLERANCE
    assert max(g for (s, kind), g in gaps.items() if kind == "eval_loss") < EVAL_TOLERANCE
    by_one = [e["eval_loss_by"] for e in one.result.history if e.get("eval_loss_by")]
    by_two = [e["eval_loss_by"] for e in two.result.history if e.get("eval_loss_by")]
    assert len(by_one) == len(by_two) and all(
        math.isclose(a[k], b[k], rel_tol=LOSS_TOLERANCE) for a, b in zip(by_one, by_two) for k in a)
    # The trained rows came back into this process's model, as the workers had them.
    assert rows_digest(two.model, ids) == report["digests"][0][-1]
    assert rows_gap < steps * config.learning_rate  # at most a learning rate a step apart (see above)


def test_a_batch_that_does_not_split_over_the_workers_is_refused():
    with pytest.raises(InputError) as err:
        check_workers(FinetuneConfig(batch_size=5), 2)
    assert err.value.problems[0].field == "batch_size" and "4 or 6" in err.value.problems[0].fix
    check_workers(FinetuneConfig(batch_size=4), 2)


def test_vocab_finetune_on_ray_from_the_command_line(capsys, tmp_path):
    """``vocab finetune --backend ray``: a local Ray instance sized to this machine, 2 DDP workers, one
    adapter in the run store written here; a batch that does not split is refused first (exit 2)."""
    import json

    pytest.importorskip("ray")
    from core.runs.store import RunStore
    from tests.core.cli.conftest import run

    runs = tmp_path / "runs"
    vocab = tmp_path / "three.jsonl"
    vocab.write_text("".join(json.dumps(d) + "\n" for d in three_dicts()), encoding="utf-8")
    common = ["vocab", "finetune", vocab, "--model", "tiny-random", "--no-progress", "--runs", runs,
              "--epochs", "1", "--grad-accum", "1", "--lr", "0.02", "--max-new-tokens", "2", "--backend", "ray"]
    code, out, err = run(capsys, *common, "--batch-size", "5", "--ray-workers", "2")
    assert code == 2 and "batch_size" in err and not (runs.exists() and any(runs.iterdir())), err
    code, out, err = run(capsys, *common, "--batch-size", "4", "--ray-workers", "2", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["status"] == "done" and data["finetune"]["steps"] >= 1
    result = RunStore(runs).result(data["run_id"])
    assert result["data_parallel"]["rows_identical"] and result["data_parallel"]["workers"] == 2
    assert result["where"].startswith("ray train: 2 workers")
    assert (runs / data["run_id"] / "adapter").is_dir()
    import ray

    assert not ray.is_initialized()  # the command ended the instance it started
