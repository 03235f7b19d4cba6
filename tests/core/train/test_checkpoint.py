"""Checkpoints of a fine-tuning: a training cut off after a checkpoint and resumed from it ends exactly as
the one never cut off; checkpoints are published whole, at the interval; a damaged one, or another run's,
is refused naming ``checkpoint``."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from core.model.tokens import add_tokens
from core.spec.errors import InputError
from core.spec.gloss import check_spec
from core.train import checkpoint as ckpt
from core.train.checkpoint import CheckpointConfig, Checkpoints, inspect
from core.train.finetune import FinetuneConfig
from core.train.together import Sentences, finetune_tokens
from tests.core.experiment.vocab_fixtures import three_specs

IDENTITY = {"run_id": "run-a", "fingerprint": "f1"}
# 12 sentences in batches of 4: 3 steps an epoch, 6 in all; dropout on, a warm-up, a best step to keep.
CONFIG = FinetuneConfig(epochs=2, batch_size=4, grad_accum=1, learning_rate=2e-2, warmup_ratio=0.2)


class Killed(Exception):
    """Stands for SIGKILL inside one process: the training ends at once, nothing after it runs."""


def _train(checkpoints: Checkpoints | None = None, kill_after: int | None = None, config: FinetuneConfig = CONFIG):
    from core.model.tiny import tiny_model

    model, tokenizer = tiny_model()
    specs = [check_spec(s, tokenizer) for s in three_specs()]
    g = torch.Generator().manual_seed(0)
    d = model.config.hidden_size
    ids = add_tokens(model, tokenizer, [s.new_token for s in specs], torch.randn(3, d, generator=g) * 0.05,
                     torch.randn(3, d, generator=g) * 0.05)
    sentences = Sentences.of(specs)
    sentences.fine_tuning_sentences = sentences.fine_tuning_sentences[:12]
    events = []

    def on_event(event: dict) -> None:
        events.append(event)
        if kill_after is not None and event.get("type") == "step" and event["step"] == kill_after:
            raise Killed()

    trained = finetune_tokens(model, tokenizer, ids, [s.new_token for s in specs], sentences, config,
                              on_event=on_event, checkpoints=checkpoints)
    return trained, events


def _trainable(trained) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in trained.model.named_parameters() if p.requires_grad}


@pytest.fixture(scope="module")
def uninterrupted():
    return _train()


@pytest.mark.parametrize("every, kill_after", [(2, 3), (3, 5)], ids=["mid-epoch", "epoch-boundary"])
def test_a_resumed_training_ends_as_the_uninterrupted_one(tmp_path, uninterrupted, every, kill_after):
    folder = tmp_path / "run" / "checkpoint"
    config = CheckpointConfig(checkpoint_steps=every, checkpoint_minutes=0)
    with pytest.raises(Killed):
        _train(Checkpoints(folder, config, IDENTITY), kill_after=kill_after)
    manifest = inspect(folder, IDENTITY)
    assert manifest["step"] == every and [e["step"] for e in manifest["recorder"]["history"]] == list(range(every + 1))
    resumed, events = _train(Checkpoints(folder, config, IDENTITY, resume=True))
    # Only the steps after the checkpoint were done again, and the training ends as if never cut off.
    assert [e["step"] for e in events if e.get("type") == "step"] == list(range(every + 1, 7))
    expected, _ = uninterrupted
    for key in ("best_step", "best_eval_loss", "train_loss_at_best", "initial_eval_loss", "final_eval_loss",
                "steps", "max_steps", "restored_best", "cos_input_before_after", "cos_output_before_after"):
        assert getattr(resumed.result, key) == getattr(expected.result, key), key
    numbers = ("step", "loss", "eval_loss", "learning_rate", "grad_norm", "best_step", "eval_loss_by")
    assert [{k: e[k] for k in numbers if k in e} for e in resumed.result.history] == \
        [{k: e[k] for k in numbers if k in e} for e in expected.result.history]
    after, before = _trainable(resumed), _trainable(expected)
    assert after.keys() == before.keys()
    for name in after:
        torch.testing.assert_close(after[name], before[name], rtol=1e-6, atol=1e-7)
    assert resumed.result.best_step != resumed.result.steps  # the best step's weights came back from the checkpoint


def test_checkpoints_are_published_whole_at_the_interval(tmp_path):
    folder = tmp_path / "run" / "checkpoint"
    _train(Checkpoints(folder, CheckpointConfig(checkpoint_steps=4, checkpoint_minutes=0), IDENTITY))
    manifest = json.loads((folder / ckpt.MANIFEST).read_text())
    assert manifest["step"] == 4 and manifest["identity"] == IDENTITY
    names = {p.name for p in folder.iterdir()}
    assert names == set(manifest["files"]) | {ckpt.MANIFEST}
    assert {"adapter_model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json",
            ckpt.BEST_STATE} <= names
    assert [p.name for p in folder.parent.iterdir()] == ["checkpoint"]  # no scratch or temporary folder left


def test_the_time_interval_saves_when_the_minutes_have_passed(tmp_path, monkeypatch):
    clock = {"now": 0.0}

    def tick() -> float:  # a clock that moves 40 s each time it is read
        clock["now"] += 40.0
        return clock["now"]

    monkeypatch.setattr(ckpt.time, "monotonic", tick)
    folder = tmp_path / "a" / "checkpoint"
    _train(Checkpoints(folder, CheckpointConfig(checkpoint_steps=0, checkpoint_minutes=1.0), IDENTITY))
    assert inspect(folder, IDENTITY)["step"] == 6  # 80 s between two reads at each step: every step saves
    monkeypatch.setattr(ckpt.time, "monotonic", lambda: 0.0)  # time stands still: never
    other = tmp_path / "b" / "checkpoint"
    _train(Checkpoints(other, CheckpointConfig(checkpoint_steps=0, checkpoint_minutes=1.0), IDENTITY))
    assert not other.exists()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved") / "checkpoint"
    _train(Checkpoints(folder, CheckpointConfig(checkpoint_steps=3, checkpoint_minutes=0), IDENTITY),
           config=FinetuneConfig(epochs=1, batch_size=4, grad_accum=1))
    return folder


def _copy(saved, tmp_path):
    folder = tmp_path / "checkpoint"
    shutil.copytree(saved, folder)
    return folder


def test_a_damaged_checkpoint_is_refused(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    data = bytearray((folder / "optimizer.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "optimizer.pt").write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        inspect(folder, IDENTITY)
    assert err.value.fields == ["checkpoint"] and "optimizer.pt is not the file that was written" in str(err.value)
    (folder / "optimizer.pt").unlink()
    with pytest.raises(InputError, match="optimizer.pt is missing"):
        inspect(folder, IDENTITY)
    (folder / ckpt.MANIFEST).write_text('{"files": ')
    with pytest.raises(InputError, match="its manifest cannot be read"):
        inspect(folder, IDENTITY)
    (folder / ckpt.MANIFEST).unlink()
    with pytest.raises(InputError, match="there is no checkpoint"):
        inspect(folder, IDENTITY)


def test_another_runs_checkpoint_is_refused(saved, tmp_path):
    folder = _copy(saved, tmp_path)
    with pytest.raises(InputError) as err:
        inspect(folder, {**IDENTITY, "run_id": "run-b"})
    assert err.value.fields == ["checkpoint"] and "belongs to run 'run-a', not 'run-b'" in str(err.value)
    with pytest.raises(InputError, match="other settings or data"):
        inspect(folder, {**IDENTITY, "fingerprint": "f2"})
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(InputError):  # and training refuses it before any step
        _train(Checkpoints(folder, CheckpointConfig(), {**IDENTITY, "run_id": "run-b"}, resume=True))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_settings_are_checked():
    with pytest.raises(InputError) as err:
        CheckpointConfig(checkpoint_steps=-1, checkpoint_minutes=-2.0)
    assert set(err.value.fields) == {"checkpoint_steps", "checkpoint_minutes"}
    assert CheckpointConfig().to_dict() == {"checkpoint_steps": 50, "checkpoint_minutes": 10.0}
    assert not CheckpointConfig(checkpoint_steps=0, checkpoint_minutes=0).enabled
