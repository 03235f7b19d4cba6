"""QLoRA fine-tuning of a model that has the new token (method.md, Step 2).

Order matters:
1. The token is added and its rows are set on the **full-precision** model (``core.tokens``).
2. That model is saved as safetensors to a temporary folder and loaded back with bitsandbytes
   4-bit NF4 and double quantization: every linear layer of the transformer is quantized, while
   the embedding matrix and the (untied) output layer stay full precision (transformers never
   quantizes ``lm_head``, and an embedding is not a linear layer). Quantizing through a reload
   is the route transformers supports on CPU and CUDA alike.
3. LoRA adapters go on the attention projections (optionally the MLP too), rank-stabilized, and
   PEFT's ``trainable_token_indices`` makes the new token's input row *and* output row trainable
   and nothing else: each is a separate ``[1, D]`` parameter that replaces its row in the forward
   pass, so no other row of either matrix can change, not even by weight decay.
4. ``transformers.Trainer`` trains with dynamic padding (each batch padded to its longest
   sentence), evaluates the validation sentences every ``eval_every`` optimizer steps (and once
   before the first step), and a callback records every step in the event log and honours a
   cooperative stop. Only the trainable parameters of the best evaluation are kept (in memory:
   under a megabyte for the default model, instead of a checkpoint folder per step) and put back
   at the end.

CPU caveat (bitsandbytes 0.50): on a CPU with AVX512-BF16, a 4-bit layer that runs in eval mode
without gradients repacks its weights for a fast inference kernel that has no backward pass;
training after an evaluation would then silently stop gradients flowing through the frozen 4-bit
layers. ``prepare`` turns that repacking off, so evaluation and training use the same kernel
(and the validation loss is computed exactly as the training loss). A test guards this.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import shutil
import tempfile
import time
import types
import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Literal

import torch

from core import limits
from core.errors import Collector, InputError, fail
from core.events import StopRequested

# bitsandbytes warns at import, on every CPU with AVX512-BF16, that an optional kernel package from
# the hub is missing; Gloss Lab never fetches code from the hub, so the fallback it uses is expected.
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)

LORA_TARGETS: dict[str, tuple[str, ...]] = {
    "attention": ("q_proj", "k_proj", "v_proj", "o_proj"),
    "attention_mlp": ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
}
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


# -- quantization and adapters -----------------------------------------------------------------------

def pick_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def compute_dtype(config: FinetuneConfig, device: str) -> torch.dtype:
    """bfloat16 where the hardware multiplies it natively, float32 otherwise (``auto``)."""
    if config.compute_dtype != "auto":
        return getattr(torch, config.compute_dtype)
    if device == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    try:
        from bitsandbytes.functional import has_avx512bf16

        return torch.bfloat16 if has_avx512bf16() else torch.float32
    except Exception:
        return torch.float32


def _scratch_dir() -> str:
    """A temporary folder for the quantization round trip: RAM-backed /dev/shm when it has room."""
    shm = "/dev/shm"
    with contextlib.suppress(OSError):
        if os.path.isdir(shm) and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > 4 * 2**30:
            return tempfile.mkdtemp(prefix="glosslab-q-", dir=shm)
    return tempfile.mkdtemp(prefix="glosslab-q-")


@contextlib.contextmanager
def _quiet():
    """No progress bars or info messages from transformers while we save, load and train.

    Never ``redirect_stderr``: training runs in a worker thread, and swapping ``sys.stderr``
    would silence the whole process (the CLI's progress bars included) for as long.
    """
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def quantize_4bit(model, dtype: torch.dtype, device: str | None = None):
    """A 4-bit NF4 (double-quantized) copy of ``model``; embeddings and ``lm_head`` stay full precision.

    ``model`` (full precision, with the token's rows set) is not changed.
    """
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    device = device or pick_device()
    if model.config.tie_word_embeddings:
        raise fail("model", "has tied input and output embeddings", "untie them first (core.models.untie_embeddings)")
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=dtype, llm_int8_skip_modules=["lm_head"])
    folder = _scratch_dir()
    try:
        with _quiet():
            model.save_pretrained(folder, safe_serialization=True)
            qmodel = AutoModelForCausalLM.from_pretrained(
                folder, quantization_config=quant, dtype=torch.float32, device_map={"": device},
                use_safetensors=True, trust_remote_code=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _keep_training_kernel(qmodel)
    return qmodel


def _quantized_dtype(qmodel) -> torch.dtype | None:
    quant = getattr(qmodel.config, "quantization_config", None)
    dtype = getattr(quant, "bnb_4bit_compute_dtype", None)
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


def _keep_training_kernel(model) -> None:
    """Stop bitsandbytes from repacking 4-bit weights for its CPU inference kernel (see module doc)."""
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False


def prepare(model, token_id: int, config: FinetuneConfig, device: str | None = None, quantized=None):
    """Quantize a copy of ``model`` and add LoRA and the token's trainable rows: a ``PeftModel``.

    ``quantized``: a 4-bit model from ``quantize_4bit`` of a model that differs from ``model`` in
    the token's rows at most (another strategy's start, in a comparison). It is copied and given
    ``model``'s rows instead of quantizing again: the 4-bit layers do not depend on those rows.
    """
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import set_seed

    device = device or pick_device()
    dtype = compute_dtype(config, device)
    if quantized is not None and _quantized_dtype(quantized) == dtype:
        qmodel = copy.deepcopy(quantized)
        inp, out = token_rows(model, token_id)
        with torch.no_grad():
            qmodel.get_input_embeddings().weight[token_id] = inp
            qmodel.get_output_embeddings().weight[token_id] = out
    else:
        qmodel = quantize_4bit(model, dtype, device)
    # Freezes the base and casts any half-precision non-4-bit weights to float32 (ours are float32
    # already, so nothing is copied); gradient checkpointing only when asked for.
    with warnings.catch_warnings():  # peft calls a transformers method deprecated in v5
        warnings.simplefilter("ignore", FutureWarning)
        qmodel = prepare_model_for_kbit_training(qmodel, use_gradient_checkpointing=config.gradient_checkpointing)
    set_seed(config.seed)  # the LoRA A matrices are initialized randomly
    lora = LoraConfig(
        r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
        use_rslora=config.use_rslora, target_modules=list(LORA_TARGETS[config.lora_targets]),
        trainable_token_indices={"embed_tokens": [token_id], "lm_head": [token_id]},
        bias="none", task_type="CAUSAL_LM")
    with _quiet():
        peft_model = get_peft_model(qmodel, lora)
    use_row_forward(peft_model)
    return peft_model


def _row_forward(layer, x, active_adapters, *args, **kwargs):
    """``TrainableTokensLayer.forward_adapters`` without building the whole effective matrix.

    PEFT computes ``F.linear(x, W.index_copy(token_rows))`` (and the same for the embedding), so
    autograd keeps a gradient for every row of the output matrix — a [vocabulary × hidden] matrix
    product per micro-batch, about a third of a training step for the default model — and copies
    the matrix at every forward pass, generation included. Here the frozen matrix is used as it is
    and only the token's rows come from the trainable parameter: the same numbers, and gradients
    only where they are needed. Anything unusual (merged, several adapters) takes PEFT's own path.
    """
    base = layer.base_layer
    if (layer.disable_adapters or layer.merged or len(active_adapters) != 1 or args or kwargs
            or not isinstance(base, (torch.nn.Embedding, torch.nn.Linear)) or base.weight.requires_grad):
        return type(layer).forward_adapters(layer, x, active_adapters, *args, **kwargs)
    name = active_adapters[0]
    ids = layer.token_indices[name]
    rows = layer.trainable_tokens_delta[name]
    if isinstance(base, torch.nn.Embedding):
        out = torch.nn.functional.embedding(x, base.weight, base.padding_idx, base.max_norm, base.norm_type,
                                            base.scale_grad_by_freq, base.sparse)
        for j, token_id in enumerate(ids):
            out = torch.where((x == token_id).unsqueeze(-1), rows[j].to(out.dtype), out)
        scale = layer._get_embed_scale()
        return out if scale is None else out * scale.to(out.dtype)
    out = torch.nn.functional.linear(x, base.weight)  # PEFT's path has no bias either
    columns = torch.nn.functional.linear(x, rows.to(x.dtype))
    # In place: the product's backward needs only x and the weight, never its own output.
    return out.index_copy_(out.dim() - 1, torch.tensor(ids, device=out.device), columns)


def use_row_forward(peft_model) -> None:
    """Switch every trainable-token layer of ``peft_model`` to ``_row_forward`` (see there)."""
    from peft.tuners.trainable_tokens.layer import TrainableTokensLayer

    for module in peft_model.modules():
        if isinstance(module, TrainableTokensLayer):
            module.forward_adapters = types.MethodType(_row_forward, module)


def token_rows(model, token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input row, output row) as the model uses them, float32 on the CPU: for a PEFT model the
    trained rows (``trainable_tokens_delta`` holds the rows themselves, not differences)."""
    rows = []
    for layer in (model.get_input_embeddings(), model.get_output_embeddings()):
        adapter = getattr(layer, "token_adapter", None)
        if adapter is not None and adapter.active_adapters:
            name = adapter.active_adapters[0]
            index = adapter.token_indices[name].index(token_id)
            rows.append(adapter.trainable_tokens_delta[name][index].detach().float().cpu().clone())
        else:
            rows.append(layer.weight[token_id].detach().float().cpu().clone())
    return rows[0], rows[1]


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

class StepRecorder:
    """A ``TrainerCallback``: one event per optimizer step, cooperative stop, best-state capture.

    ``Trainer`` logs the training loss of a step, then (on evaluation steps) the validation loss;
    the two are merged into one ``{"type": "step", step, epoch, loss, eval_loss, learning_rate,
    grad_norm, elapsed, eta, max_steps}`` event. Step 0 is the evaluation before any training.
    """

    def __init__(self, emit: Callable[[dict], Any] | None, should_stop: Callable[[], bool] | None,
                 steps_per_epoch: int) -> None:
        from transformers import TrainerCallback

        # Subclassing at run time keeps transformers out of this module's import.
        self.callback = type("GlossLabSteps", (TrainerCallback,), {
            "on_train_begin": self._on_train_begin, "on_step_end": self._on_step_end, "on_log": self._on_log,
        })()
        self.emit = emit or (lambda event: None)
        self.should_stop = should_stop or (lambda: False)
        self.steps_per_epoch = steps_per_epoch
        self.history: list[dict] = []
        self.best_loss = math.inf
        self.best_step = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stopped = False
        self.t0 = time.perf_counter()
        self.train_seconds = 0.0
        self.max_steps = 0
        self._pending: dict | None = None
        self._eval_due = False

    def _on_train_begin(self, args, state, control, **kw):
        self.t0 = time.perf_counter()
        self.max_steps = state.max_steps

    def _on_step_end(self, args, state, control, **kw):
        if self.should_stop():
            self.stopped = True
            control.should_training_stop = True
            control.should_evaluate = True  # the last step gets a validation loss too
        self._eval_due = bool(control.should_evaluate)

    def _event(self, step: int, **values) -> dict:
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / step * (self.max_steps - step) if step else None
        return {"type": "step", "step": step, "epoch": round(step / self.steps_per_epoch, 4),
                "max_steps": self.max_steps, "loss": None, "eval_loss": None, "learning_rate": None,
                "grad_norm": None, "elapsed": round(elapsed, 3), "eta": None if eta is None else round(eta, 3),
                **values}

    def _on_log(self, args, state, control, logs=None, model=None, **kw):
        logs = logs or {}
        step = state.global_step
        if "loss" in logs:
            self._pending = self._event(step, loss=float(logs["loss"]), learning_rate=logs.get("learning_rate"),
                                        grad_norm=logs.get("grad_norm"))
            if not self._eval_due:
                self._record(self._pending)
                self._pending = None
        elif "eval_loss" in logs:
            event = self._pending if self._pending and self._pending["step"] == step else self._event(step)
            self._pending = None
            loss = float(logs["eval_loss"])
            event["eval_loss"] = loss
            if loss < self.best_loss and model is not None:
                self.best_loss, self.best_step = loss, step
                self.best_state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
            event["best_step"] = self.best_step
            self._record(event)

    def _record(self, event: dict) -> None:
        self.train_seconds = time.perf_counter() - self.t0
        self.history.append(event)
        self.emit(event)

    def restore(self, model) -> bool:
        if self.best_state is None:
            return False
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name in self.best_state:
                    param.copy_(self.best_state[name])
        return True


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
        with _quiet():
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
