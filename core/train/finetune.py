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
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Literal

import torch

from core.spec import limits
from core.spec.errors import Collector, InputError, fail
from core.train.events import StepRecorder, StopRequested
from core.train.qlora import LORA_TARGETS, compute_dtype, prepare, quiet, token_rows

SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")
COMPUTE_DTYPES = ("auto", "float32", "bfloat16")

FIELD_HELP: dict[str, str] = {
    "learning_rate": "AdamW learning rate for the LoRA weights and the token's two rows.",
    "epochs": "Passes over the fine-tuning sentences.",
    "batch_size": "Sentences per forward pass.",
    "grad_accum": "Forward passes whose gradients add up to one optimizer step.",
    "lr_scheduler": "How the learning rate changes over training (after the warm-up).",
    "warmup_ratio": "Fraction of the optimizer steps spent warming the learning rate up from 0.",
    "weight_decay": "AdamW weight decay.",
    "max_grad_norm": "Gradients are clipped to this norm.",
    "eval_every": "Validation loss every this many optimizer steps (1 = every step).",
    "restore_best": "Keep the step with the lowest validation loss, not the last one.",
    "lora_r": "LoRA rank.",
    "lora_alpha": "LoRA alpha (scaling numerator).",
    "lora_dropout": "Dropout on the LoRA input.",
    "use_rslora": "Rank-stabilized scaling: alpha / sqrt(r) instead of alpha / r.",
    "lora_targets": "Layers that get LoRA adapters: the attention projections, or those and the MLP.",
    "seed": "Random seed (LoRA initialization, data order, dropout).",
    "compute_dtype": "Precision of the 4-bit layers' matrix products: auto = bfloat16 where the "
                     "hardware does it natively (CUDA, CPUs with AVX512-BF16), else float32.",
    "gradient_checkpointing": "Recompute activations in the backward pass: less memory, slower.",
    "pad_to_length": "0 = pad each batch to its longest sentence; N = pad every sentence to N tokens "
                     "(what the research script did; slower).",
    "eval_batch_size": "Validation sentences per forward pass; 0 = up to 64 at once (the research used 1).",
}


def _int_field(c: Collector, name: str, value: Any, lo: int, hi: int) -> Any:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # widgets send 10.0 for 10
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        c.add(name, f"{value!r} is not a whole number from {lo} to {hi}", f"give a value from {lo} to {hi}")
    return value


def _float_field(c: Collector, name: str, value: Any, lo: float, hi: float, *, positive: bool = False) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, float) and math.isfinite(value) and lo <= value <= hi and (value > 0 or not positive)
    if not ok:
        what = "a positive number" if positive else "a number"
        c.add(name, f"{value!r} is not {what} from {lo:g} to {hi:g}", f"give a value from {lo:g} to {hi:g}")
    return value


@dataclass
class FinetuneConfig:
    """Every hyperparameter of method.md Step 2, with the research's defaults. See ``FIELD_HELP``."""

    learning_rate: float = 3e-4
    epochs: int = 10
    batch_size: int = 10
    grad_accum: int = 3
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    eval_every: int = 1
    restore_best: bool = True
    lora_r: int = 8
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    use_rslora: bool = True
    lora_targets: Literal["attention", "attention_mlp"] = "attention"
    seed: int = 0
    compute_dtype: Literal["auto", "float32", "bfloat16"] = "auto"
    gradient_checkpointing: bool = False
    pad_to_length: int = 0
    eval_batch_size: int = 0

    def __post_init__(self) -> None:
        c = Collector()
        self.learning_rate = _float_field(c, "learning_rate", self.learning_rate, *limits.LEARNING_RATE, positive=True)
        self.epochs = _int_field(c, "epochs", self.epochs, *limits.EPOCHS)
        self.batch_size = _int_field(c, "batch_size", self.batch_size, *limits.BATCH_SIZE)
        self.grad_accum = _int_field(c, "grad_accum", self.grad_accum, *limits.GRAD_ACCUM)
        self.warmup_ratio = _float_field(c, "warmup_ratio", self.warmup_ratio, *limits.WARMUP_RATIO)
        self.weight_decay = _float_field(c, "weight_decay", self.weight_decay, *limits.WEIGHT_DECAY)
        self.max_grad_norm = _float_field(c, "max_grad_norm", self.max_grad_norm, *limits.MAX_GRAD_NORM, positive=True)
        self.eval_every = _int_field(c, "eval_every", self.eval_every, *limits.EVAL_EVERY)
        self.lora_r = _int_field(c, "lora_r", self.lora_r, *limits.LORA_RANK)
        self.lora_alpha = _int_field(c, "lora_alpha", self.lora_alpha, *limits.LORA_ALPHA)
        self.lora_dropout = _float_field(c, "lora_dropout", self.lora_dropout, *limits.DROPOUT)
        self.seed = _int_field(c, "seed", self.seed, *limits.SEED_VALUE)
        self.pad_to_length = _int_field(c, "pad_to_length", self.pad_to_length, *limits.PAD_TO_LENGTH)
        self.eval_batch_size = _int_field(c, "eval_batch_size", self.eval_batch_size, 0, limits.BATCH_SIZE[1])
        for name, choices in (("lr_scheduler", SCHEDULERS), ("lora_targets", tuple(LORA_TARGETS)),
                              ("compute_dtype", COMPUTE_DTYPES)):
            if getattr(self, name) not in choices:
                c.add(name, f"{getattr(self, name)!r} is not one of {', '.join(choices)}",
                      f"choose one of {', '.join(choices)}")
        for name in ("restore_best", "use_rslora", "gradient_checkpointing"):
            if not isinstance(getattr(self, name), bool):
                c.add(name, f"{getattr(self, name)!r} is not true or false", "give true or false")
        c.raise_if_any()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "FinetuneConfig":
        """From JSON or widget values; unknown keys are refused by name."""
        if not isinstance(data, dict):
            raise fail("finetune config", f"expected an object, got {type(data).__name__}", "give field: value pairs")
        known = {f.name for f in fields(cls)}
        unknown = [k for k in data if k not in known]
        if unknown:
            raise InputError([fail(str(k)[:60], "is not a fine-tuning setting",
                                   "known settings: " + ", ".join(sorted(known))).problems[0] for k in unknown])
        return cls(**data)

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


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
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


def _training_tokenizer(tokenizer):
    tok = copy.deepcopy(tokenizer)
    tok.padding_side = "right"  # positions count from the first token; labels of padding are -100
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


@torch.no_grad()
def validation_loss(model, tokenizer, texts: list[str], batch_size: int = 64) -> float:
    """Mean next-token cross-entropy over every real token of ``texts`` (token-weighted).

    Independent of ``Trainer``: used by tests and the benchmark to compare models on equal terms.
    """
    tok = _training_tokenizer(tokenizer)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for start in range(0, len(texts), batch_size):
            enc = tok(texts[start:start + batch_size], return_tensors="pt", padding=True).to(device)
            logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.float()
            labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)[:, 1:]
            loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                                     labels.reshape(-1), ignore_index=-100, reduction="sum")
            total += float(loss)
            count += int((labels != -100).sum())
    finally:
        model.train(was_training)
    return total / max(count, 1)


# -- training -------------------------------------------------------------------------------------

def train(peft_model, tokenizer, token_id: int, spec, config: FinetuneConfig,
          on_event: Callable[[dict], Any] | None = None,
          should_stop: Callable[[], bool] | None = None) -> FinetuneResult:
    """Fine-tune a model from ``prepare`` in place on ``spec``'s sentences; returns what happened."""
    from transformers import DataCollatorForLanguageModeling, PrinterCallback, Trainer, TrainingArguments

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
    rows_before = token_rows(peft_model, token_id)
    recorder = StepRecorder(on_event, should_stop, steps_per_epoch)
    device = str(next(peft_model.parameters()).device)
    eval_bs = config.eval_batch_size or min(64, len(val_set))
    scratch = tempfile.mkdtemp(prefix="glosslab-trainer-")
    try:
        args = TrainingArguments(
            output_dir=scratch, num_train_epochs=config.epochs, learning_rate=config.learning_rate,
            per_device_train_batch_size=config.batch_size, per_device_eval_batch_size=eval_bs,
            gradient_accumulation_steps=config.grad_accum, lr_scheduler_type=config.lr_scheduler,
            warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the total steps
            weight_decay=config.weight_decay, max_grad_norm=config.max_grad_norm, optim="adamw_torch",
            eval_strategy="steps", eval_steps=config.eval_every, eval_on_start=True,
            save_strategy="no", logging_strategy="steps", logging_steps=1, report_to="none",
            disable_tqdm=True, seed=config.seed, data_seed=config.seed, use_cpu=device == "cpu",
            dataloader_pin_memory=False, remove_unused_columns=False)
        collator = DataCollatorForLanguageModeling(tok, mlm=False)
        with quiet():
            trainer = Trainer(model=peft_model, args=args, train_dataset=train_set, eval_dataset=val_set,
                              data_collator=collator, callbacks=[recorder.callback])
            trainer.remove_callback(PrinterCallback)
            if should_stop is not None and should_stop():
                raise StopRequested()
            trainer.train()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    steps = recorder.history[-1]["step"] if recorder.history else 0
    restored = False
    if config.restore_best and recorder.best_step != steps:
        restored = recorder.restore(peft_model)
    peft_model.eval()
    rows_after = token_rows(peft_model, token_id)
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
        trainable_parameters=sum(p.numel() for p in peft_model.parameters() if p.requires_grad),
        train_tokens_per_epoch=int(train_set.tokens), device=device,
        compute_dtype=str(compute_dtype(config, device.split(":")[0])).replace("torch.", ""),
        cos_input_before_after=_cos(rows_before[0], rows_after[0]),
        cos_output_before_after=_cos(rows_before[1], rows_after[1]),
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
    result.cos_input_before_after = _cos(rows_before[0], rows_after[0])
    result.cos_output_before_after = _cos(rows_before[1], rows_after[1])
    return TrainedModel(peft_model, tokenizer, token_id, spec.new_token, result, rows_before, rows_after, config)
