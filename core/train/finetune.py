"""QLoRA fine-tuning of a model that has the new token (method.md, Step 2).

``FinetuneConfig`` holds every hyperparameter with the research's default. ``finetune`` makes the
4-bit copy with LoRA and the token's two trainable rows (``core.train.qlora``), then
``transformers.Trainer`` trains it with dynamic padding (each batch padded to its longest
sentence), evaluates the validation sentences every ``eval_every`` optimizer steps (and once
before the first step), and ``core.train.events.StepRecorder`` records every step in the event log and
honours a cooperative stop. Only the trainable parameters of the best evaluation are kept (in
memory: under a megabyte for the default model, instead of a checkpoint folder per step) and put
back at the end.
"""

from __future__ import annotations

import copy
import math
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal

import torch

from core.spec import limits
from core.spec import settings
from core.spec.errors import Collector, fail
from core.spec.settings import choices_of, setting
from core.train.checkpoint import Checkpoints, restore_recorder, saver
from core.train.events import StepRecorder, StopRequested
from core.quiet import quiet
from core.train.qlora import LoraTargets, compute_dtype, prepare, token_rows

Scheduler = Literal["cosine", "linear", "constant", "constant_with_warmup"]
ComputeDtype = Literal["auto", "float32", "bfloat16"]



@dataclass
class FinetuneConfig(settings.Config):
    """Every hyperparameter of method.md Step 2, with the research's defaults (``core.spec.settings``
    generates the page's widgets, the CLI's flags and the README's table from these declarations)."""

    WHAT = "fine-tuning settings"

    learning_rate: float = setting(3e-4, label="Learning rate", range=limits.LEARNING_RATE, positive=True,
                                   flags=("--lr",),
                                   help="AdamW learning rate for the LoRA weights and the token's two rows.")
    epochs: int = setting(10, label="Epochs", range=limits.EPOCHS, help="Passes over the fine-tuning sentences.")
    batch_size: int = setting(10, label="Batch size", range=limits.BATCH_SIZE, help="Sentences per forward pass.")
    grad_accum: int = setting(3, label="Gradient accumulation", range=limits.GRAD_ACCUM,
                              help="Forward passes whose gradients add up to one optimizer step.")
    lr_scheduler: Scheduler = setting("cosine", label="Learning-rate schedule", choices=choices_of(Scheduler),
                                      advanced=True, flags=("--scheduler",),
                                      help="How the learning rate changes over training (after the warm-up).")
    warmup_ratio: float = setting(0.03, label="Warm-up ratio", range=limits.WARMUP_RATIO,
                                  help="Fraction of the optimizer steps spent warming the learning rate up from 0.")
    weight_decay: float = setting(0.0, label="Weight decay", range=limits.WEIGHT_DECAY, advanced=True,
                                  help="AdamW weight decay.")
    max_grad_norm: float = setting(1.0, label="Gradient clipping norm", range=limits.MAX_GRAD_NORM, positive=True,
                                   advanced=True, help="Gradients are clipped to this norm.")
    eval_every: int = setting(1, label="Validate every N steps", range=limits.EVAL_EVERY,
                              help="Validation loss every this many optimizer steps (1 = every step).")
    restore_best: bool = setting(True, label="Keep the best step", advanced=True, negative_flag="--keep-last",
                                 help="Keep the step with the lowest validation loss, not the last one.")
    lora_r: int = setting(8, label="LoRA rank (r)", range=limits.LORA_RANK, help="LoRA rank.")
    lora_alpha: int = setting(32, label="LoRA alpha", range=limits.LORA_ALPHA, help="LoRA alpha (scaling numerator).")
    lora_dropout: float = setting(0.05, label="LoRA dropout", range=limits.DROPOUT, help="Dropout on the LoRA input.")
    use_rslora: bool = setting(True, label="Rank-stabilized LoRA",
                               help="Rank-stabilized scaling: alpha / sqrt(r) instead of alpha / r.")
    lora_targets: LoraTargets = setting("attention", label="LoRA on", choices=choices_of(LoraTargets),
                                        help="Layers that get LoRA adapters: the attention projections, "
                                             "or those and the MLP.")
    seed: int = setting(0, label="Random seed", range=limits.SEED_VALUE,
                        help="Random seed (LoRA initialization, data order, dropout).")
    compute_dtype: ComputeDtype = setting("auto", label="Compute precision", choices=choices_of(ComputeDtype),
                                          advanced=True,
                                          help="Precision of the 4-bit layers' matrix products: auto = bfloat16 "
                                               "where the hardware does it natively (CUDA, CPUs with AVX512-BF16), "
                                               "else float32.")
    gradient_checkpointing: bool = setting(False, label="Gradient checkpointing", advanced=True,
                                           help="Recompute activations in the backward pass: less memory, slower.")
    pad_to_length: int = setting(0, label="Pad every sentence to N tokens", range=limits.PAD_TO_LENGTH, advanced=True,
                                 help="0 = pad each batch to its longest sentence; N = pad every sentence to N "
                                      "tokens (what the research script did; slower).")
    eval_batch_size: int = setting(0, label="Validation batch size", range=(0, limits.BATCH_SIZE[1]), advanced=True,
                                   help="Validation sentences per forward pass; 0 = up to 64 at once "
                                        "(the research used 1).")
    early_stopping_patience: int = setting(0, label="Stop after N evaluations without improvement",
                                           range=limits.PATIENCE, flags=("--patience",),
                                           help="Train until converged: 0 = every epoch; N = stop once the "
                                                "validation loss has not improved for N evaluations in a row "
                                                "(epochs is then the most it trains).")

    def steps_per_epoch(self, n_sentences: int) -> int:
        """Optimizer steps in one pass (as ``Trainer`` counts them: a short last group still steps)."""
        batches = math.ceil(n_sentences / self.batch_size)
        return max(1, math.ceil(batches / self.grad_accum))

    def check_data(self, n_train: int, n_val: int) -> None:
        """Problems that depend on the data: a batch larger than the fine-tuning set, say."""
        c = Collector()
        if self.batch_size > n_train:
            c.add("batch_size", f"is {self.batch_size}, larger than the {n_train} fine-tuning sentences",
                  f"use at most {n_train}, or add sentences")
        if n_val < 1:
            c.add("validation_sentences", "is empty", "add at least one validation sentence")
        c.raise_if_any()


@dataclass
class FinetuneResult:
    """What one fine-tuning produced, as numbers (JSON-able through ``to_dict``)."""

    best_step: int
    best_epoch: float
    best_eval_loss: float
    train_loss_at_best: float | None
    initial_eval_loss: float
    final_eval_loss: float | None
    steps: int
    max_steps: int
    steps_per_epoch: int
    epochs_done: float
    train_seconds: float
    time_per_epoch_s: float
    stopped: bool
    restored_best: bool
    trainable_parameters: int
    train_tokens_per_epoch: int
    device: str
    compute_dtype: str
    cos_input_before_after: float
    cos_output_before_after: float
    early_stopped: bool = False  # ended by early stopping (the validation loss had stopped improving)
    history: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainedModel:
    """The fine-tuned model (4-bit base + LoRA + trained token rows) and what training reported."""

    model: Any  # peft.PeftModel
    tokenizer: Any
    token_id: int
    token: str
    result: FinetuneResult
    rows_before: tuple[torch.Tensor, torch.Tensor]
    rows_after: tuple[torch.Tensor, torch.Tensor]
    config: FinetuneConfig


def row_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return round(float(torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=0)), 6)


# -- data ------------------------------------------------------------------------------------------

class SentenceDataset(torch.utils.data.Dataset):
    """Tokenized sentences; padding is left to the collator (dynamic) unless ``pad_to`` is set."""

    def __init__(self, tokenizer, texts: list[str], pad_to: int = 0) -> None:
        if pad_to:
            enc = tokenizer(texts, padding="max_length", max_length=pad_to, truncation=True)
        else:
            enc = tokenizer(texts)
        self.items = [{"input_ids": ids, "attention_mask": mask}
                      for ids, mask in zip(enc["input_ids"], enc["attention_mask"])]
        self.tokens = sum(sum(mask) for mask in enc["attention_mask"])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def predicted_tokens(collator, dataset) -> int:
    """How many tokens the causal-LM loss predicts over ``dataset`` (labels after the shift, padding
    and ignored positions excluded): what the Trainer counts as a batch's ``num_items_in_batch``."""
    if not len(dataset):
        return 0
    return int((collator([dataset[i] for i in range(len(dataset))])["labels"][:, 1:] != -100).sum())


def token_weighted_loss(model, tokens_per_sentence: float):
    """A ``compute_loss_func`` for the Trainer: in training, exactly the model's own loss
    (transformers' ``ForCausalLMLoss`` with the Trainer's ``num_items_in_batch``); in evaluation, the
    batch's summed cross-entropy over (its sentences × ``tokens_per_sentence``, the validation set's
    mean).

    Why: the Trainer's ``eval_loss`` is the mean over sentences of each evaluation batch's loss, and
    by default each batch's loss is the mean over its own tokens, so batches count by sentences and
    long sentences weigh less than their tokens; with several evaluation batches (a vocabulary's
    validation set) that is not the loss over the set's tokens. With this normalization the
    Trainer's mean is exactly the set's summed cross-entropy over its predicted tokens.

    Under DDP (Ray Train) evaluation keeps the Trainer's own normalization: there the Trainer also
    gathers the token counts, scales by the number of processes and drops the sampler's repeated
    sentences, and this divisor did not make the gathered mean match one process (measured: 2.5e-3
    apart against 3e-4 without it, with 8-sentence evaluation batches).
    """
    from transformers.loss.loss_utils import ForCausalLMLoss

    def loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"]
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized() \
            and torch.distributed.get_world_size() > 1
        if not model.training and not distributed:
            num_items_in_batch = labels.shape[0] * tokens_per_sentence
        return ForCausalLMLoss(logits, labels, vocab_size=logits.shape[-1], num_items_in_batch=num_items_in_batch)

    return loss


def _training_tokenizer(tokenizer):
    tok = copy.deepcopy(tokenizer)
    tok.padding_side = "right"  # positions count from the first token; labels of padding are -100
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


@torch.no_grad()
def text_losses(model, tokenizer, texts: list[str], batch_size: int = 64) -> list[tuple[float, int]]:
    """Per text: (sum of next-token cross-entropies over its real tokens, how many), batched."""
    tok = _training_tokenizer(tokenizer)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out: list[tuple[float, int]] = []
    try:
        for start in range(0, len(texts), batch_size):
            enc = tok(texts[start:start + batch_size], return_tensors="pt", padding=True).to(device)
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.float()
            labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)[:, 1:]
            loss = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), labels,
                                                     ignore_index=-100, reduction="none")
            out += [(float(row.sum()), int(n)) for row, n in zip(loss, (labels != -100).sum(dim=1))]
    finally:
        model.train(was_training)
    return out


def validation_loss(model, tokenizer, texts: list[str], batch_size: int = 64) -> float:
    """Mean next-token cross-entropy over every real token of ``texts`` (token-weighted).

    Independent of ``Trainer``: used by tests and the benchmark to compare models on equal terms.
    """
    losses = text_losses(model, tokenizer, texts, batch_size)
    return sum(s for s, _ in losses) / max(sum(n for _, n in losses), 1)


def group_losses(model, tokenizer, groups: dict[str, list[str]], batch_size: int = 64) -> dict[str, float]:
    """``validation_loss`` of each named group of texts, from one batched pass over all of them."""
    names = [name for name, texts in groups.items() for _ in texts]
    totals: dict[str, list[float]] = {name: [0.0, 0.0] for name in groups}
    for name, (loss, n) in zip(names, text_losses(model, tokenizer, [t for ts in groups.values() for t in ts],
                                                   batch_size)):
        totals[name][0] += loss
        totals[name][1] += n
    return {name: s / max(n, 1) for name, (s, n) in totals.items()}


# -- training -------------------------------------------------------------------------------------

def _mean_cos(before: list, after: list, side: int) -> float:
    return round(sum(row_cosine(b[side], a[side]) for b, a in zip(before, after)) / len(before), 6)


def record_turn(result: "FinetuneResult", rows_before: list, rows_after: list) -> None:
    """How far training turned the tokens' rows: the mean over tokens of each row's cosine before
    vs after (``rows_*``: one (input, output) pair per token), set on ``result``."""
    result.cos_input_before_after = _mean_cos(rows_before, rows_after, 0)
    result.cos_output_before_after = _mean_cos(rows_before, rows_after, 1)


def _arguments(config: FinetuneConfig, output_dir: str, eval_batch_size: int, device: str, eval_on_start: bool):
    """The Trainer's arguments for ``config`` (``eval_on_start`` off when resuming: step 0 is recorded)."""
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=output_dir, num_train_epochs=config.epochs, learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=eval_batch_size,
        gradient_accumulation_steps=config.grad_accum, lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the total steps
        weight_decay=config.weight_decay, max_grad_norm=config.max_grad_norm, optim="adamw_torch",
        eval_strategy="steps", eval_steps=config.eval_every, eval_on_start=eval_on_start,
        # The Trainer tracks the best validation loss for early stopping; our recorder keeps the best
        # weights in memory. Checkpoints, when asked for, are saved by their own callback
        # (core.train.checkpoint), and a resumed run gets early stopping's counter back.
        metric_for_best_model="eval_loss", greater_is_better=False, restore_callback_states_from_checkpoint=True,
        save_strategy="no", logging_strategy="steps", logging_steps=1, report_to="none",
        disable_tqdm=True, seed=config.seed, data_seed=config.seed, use_cpu=device == "cpu",
        dataloader_pin_memory=False, remove_unused_columns=False)


def train(peft_model, tokenizer, token_id: int | list[int], spec, config: FinetuneConfig,
          on_event: Callable[[dict], Any] | None = None,
          should_stop: Callable[[], bool] | None = None,
          eval_groups: dict[str, list[str]] | None = None, checkpoints: Checkpoints | None = None) -> FinetuneResult:
    """Fine-tune a model from ``prepare`` in place on ``spec``'s sentences; returns what happened.

    ``token_id`` may be a list (a vocabulary; ``spec`` is then anything with
    ``fine_tuning_sentences`` and ``validation_sentences``): the cosines before/after are then the
    means over the tokens. ``eval_groups``: named sets of validation sentences whose losses join
    every evaluation's step event as ``eval_loss_by`` (one per symbol of a vocabulary).
    ``checkpoints``: write a checkpoint at its interval and, with ``resume``, continue from the one
    there (``core.train.checkpoint``); the result is then that of the training never interrupted.
    """
    from transformers import DataCollatorForLanguageModeling, EarlyStoppingCallback, PrinterCallback, Trainer

    config.check_data(len(spec.fine_tuning_sentences), len(spec.validation_sentences))
    tok = _training_tokenizer(tokenizer)
    if config.pad_to_length:
        longest = max(len(ids) for ids in tok(spec.fine_tuning_sentences + spec.validation_sentences)["input_ids"])
        if longest > config.pad_to_length:
            raise fail("pad_to_length", f"is {config.pad_to_length}, shorter than the longest sentence ({longest} tokens)",
                       f"give 0 (pad each batch to its longest sentence) or at least {longest}")
    train_set = SentenceDataset(tok, spec.fine_tuning_sentences, config.pad_to_length)
    val_set = SentenceDataset(tok, spec.validation_sentences, config.pad_to_length)
    steps_per_epoch = config.steps_per_epoch(len(train_set))
    ids = [token_id] if isinstance(token_id, int) else list(token_id)
    rows_before = [token_rows(peft_model, i) for i in ids]
    extra_validation = None
    if eval_groups:
        def extra_validation(model) -> dict:
            return {"eval_loss_by": {k: round(v, 6) for k, v in group_losses(model, tokenizer, eval_groups).items()}}
    recorder = StepRecorder(on_event, should_stop, steps_per_epoch, extra_validation=extra_validation)
    resumed = restore_recorder(recorder, checkpoints) if checkpoints is not None and checkpoints.resume else None
    device = str(next(peft_model.parameters()).device)
    scratch = str(checkpoints.scratch()) if checkpoints is not None else tempfile.mkdtemp(prefix="glosslab-trainer-")
    try:
        args = _arguments(config, scratch, config.eval_batch_size or min(64, len(val_set)), device,
                          eval_on_start=resumed is None)
        callbacks = [recorder.callback]
        if checkpoints is not None and checkpoints.config.enabled:
            callbacks.append(saver(checkpoints, recorder))
        if config.early_stopping_patience:
            callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
        collator = DataCollatorForLanguageModeling(tok, mlm=False)
        loss_func = token_weighted_loss(peft_model, predicted_tokens(collator, val_set) / max(len(val_set), 1))
        with quiet():
            trainer = Trainer(model=peft_model, args=args, train_dataset=train_set, eval_dataset=val_set,
                              data_collator=collator, callbacks=callbacks, compute_loss_func=loss_func)
            trainer.remove_callback(PrinterCallback)
            if should_stop is not None and should_stop():
                raise StopRequested()
            trainer.train(resume_from_checkpoint=str(checkpoints.folder) if resumed is not None else None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _outcome(peft_model, recorder, config, ids, rows_before, steps_per_epoch, int(train_set.tokens), device)


def _outcome(peft_model, recorder: StepRecorder, config: FinetuneConfig, ids: list[int], rows_before: list,
             steps_per_epoch: int, train_tokens: int, device: str) -> FinetuneResult:
    """After training: the best step's weights put back (``restore_best``) and what happened, as numbers."""
    steps = recorder.history[-1]["step"] if recorder.history else 0
    restored = False
    if config.restore_best and recorder.best_step != steps:
        restored = recorder.restore(peft_model)
    peft_model.eval()
    rows_after = [token_rows(peft_model, i) for i in ids]
    by_step = {e["step"]: e for e in recorder.history}
    epochs_done = steps / steps_per_epoch
    final_step = next((e for e in reversed(recorder.history) if e["eval_loss"] is not None), None)
    best_step = recorder.best_step if config.restore_best else steps
    best_event = by_step.get(best_step, {})
    return FinetuneResult(
        best_step=best_step,
        best_epoch=round(best_step / steps_per_epoch, 4),
        best_eval_loss=recorder.best_loss if config.restore_best else (final_step or {}).get("eval_loss"),
        train_loss_at_best=best_event.get("loss"),
        initial_eval_loss=by_step[0]["eval_loss"],
        final_eval_loss=final_step["eval_loss"] if final_step else None,
        steps=steps, max_steps=recorder.max_steps, steps_per_epoch=steps_per_epoch,
        epochs_done=round(epochs_done, 4), train_seconds=round(recorder.train_seconds, 3),
        time_per_epoch_s=round(recorder.train_seconds / epochs_done, 3) if epochs_done else 0.0,
        stopped=recorder.stopped, restored_best=bool(restored),
        early_stopped=bool(config.early_stopping_patience) and not recorder.stopped and steps < recorder.max_steps,
        trainable_parameters=sum(p.numel() for p in peft_model.parameters() if p.requires_grad),
        train_tokens_per_epoch=train_tokens, device=device,
        compute_dtype=str(compute_dtype(config, device.split(":")[0])).replace("torch.", ""),
        cos_input_before_after=_mean_cos(rows_before, rows_after, 0),
        cos_output_before_after=_mean_cos(rows_before, rows_after, 1),
        history=recorder.history,
    )


def finetune(model, tokenizer, token_id: int, spec, config: FinetuneConfig | None = None,
             on_event: Callable[[dict], Any] | None = None,
             should_stop: Callable[[], bool] | None = None, quantized=None) -> TrainedModel:
    """QLoRA on a full-precision model that has the token (``model`` itself is not changed).

    ``quantized``: see ``prepare`` (a comparison quantizes the base once for all its members).
    """
    config = config or FinetuneConfig()
    config.check_data(len(spec.fine_tuning_sentences), len(spec.validation_sentences))
    emit = on_event or (lambda event: None)
    rows_before = token_rows(model, token_id)
    emit({"type": "phase", "phase": "quantize", "message": "Quantizing the model to 4 bits and adding LoRA"})
    peft_model = prepare(model, token_id, config, quantized=quantized)
    if should_stop is not None and should_stop():
        raise StopRequested()
    emit({"type": "phase", "phase": "train", "message": "Fine-tuning",
          "max_steps": config.epochs * config.steps_per_epoch(len(spec.fine_tuning_sentences))})
    result = train(peft_model, tokenizer, token_id, spec, config, on_event=emit, should_stop=should_stop)
    # The cosines compare with the rows as they were in the full-precision model.
    rows_after = token_rows(peft_model, token_id)
    record_turn(result, [rows_before], [rows_after])
    return TrainedModel(peft_model, tokenizer, token_id, spec.new_token, result, rows_before, rows_after, config)
