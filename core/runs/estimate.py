"""How long a comparison will take on this machine, said before it starts.

A member (one strategy × seed × symbol) takes its *overhead* (initialization, the evaluations
before and after fine-tuning, generation, quantization) plus its training: epochs × its spec's
fine-tuning tokens × the *seconds per training token*. The comparison's wall time is the members'
sum over how many ran side by side. The rates come from one of two places, said in ``basis``:

* ``runs``: the stored runs of this model on this device (the newest ``RECENT`` with a result):
  each member's training seconds over the tokens it trained (its validation passes included), its
  seconds besides training, and for a comparison its members' summed seconds over its wall time;
  the medians. Comparisons are preferred to single fine-tunings, whose members ran alone.
* ``probe``: no such run yet: a short measurement on the loaded model (``probe``): forward and
  backward passes of a 4-bit copy with LoRA on a few fine-tuning sentences, a few generation steps
  before and after quantizing, one pass over a few contexts, and the quantization itself; the
  estimate then also counts each pass's fixed cost, the validation passes and the generation.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass

RECENT = 20           # stored runs read for the rates (newest first)
PROBE_SENTENCES = 4   # fine-tuning sentences in the probe's one training pass
GENERATION_BATCH = 32  # prompts generated at once (``core.experiment.single.evaluate.greedy_generate``)
REPEATS = 3           # timings of each probe step, the fastest kept


@dataclass
class Rates:
    """Seconds per training token, per member besides training, and members side by side."""

    seconds_per_token: float
    overhead: float
    side_by_side: float = 1.0
    basis: str = "runs"          # "runs" or "probe"
    runs: int = 0                # stored runs the rates come from
    # A probe's only (stored runs' members have these in their overhead and their training time):
    once: float = 0.0             # seconds once per comparison (quantizing the base)
    pass_overhead: float = 0.0    # seconds per forward and backward pass besides its tokens
    generation_step: float = 0.0  # seconds per generation step, before + after fine-tuning
    generation_call: float = 0.0  # seconds per generation call besides its steps, before + after

    def to_dict(self) -> dict:
        return asdict(self)


def _members(result: dict) -> list[dict]:
    """A stored result's members: a comparison's, or the fine-tuning itself."""
    return (result.get("members") or []) if result.get("kind") == "compare" else [result]


def _member_rates(member: dict, device: str | None) -> tuple[float, float] | None:
    """(seconds per trained token, seconds besides training) of one stored member, or None."""
    ft = member.get("finetune") or {}
    if device and not str(ft.get("device") or "").startswith(device):
        return None
    tokens = (ft.get("train_tokens_per_epoch") or 0) * (ft.get("epochs_done") or 0)
    seconds, total = ft.get("train_seconds") or 0, member.get("seconds") or 0
    if tokens <= 0 or seconds <= 0 or total < seconds:
        return None
    return seconds / tokens, total - seconds


def stored_rates(store, model_name: str, device: str | None = None) -> Rates | None:
    """The rates of this model's stored runs (comparisons first), or None when there is none."""
    found: dict[str, list] = {"compare": [], "finetune": []}
    read = 0
    for run in store.list():
        if read >= RECENT:
            break
        if run.get("kind") not in found or not run.get("has_result") or run.get("status") not in ("done", "stopped"):
            continue
        result = store.result(run["run_id"]) or {}
        read += 1
        if result.get("model") != model_name:
            continue
        members = [m for m in (_member_rates(m, device) for m in _members(result)) if m]
        if members:
            side = sum(m.get("seconds") or 0 for m in _members(result)) / result["seconds"] \
                if run["kind"] == "compare" and result.get("seconds") else 1.0
            found[run["kind"]].append((members, max(1.0, side)))
    runs = found["compare"] or found["finetune"]
    if not runs:
        return None
    members = [m for ms, _ in runs for m in ms]
    return Rates(seconds_per_token=statistics.median(m[0] for m in members),
                 overhead=statistics.median(m[1] for m in members),
                 side_by_side=statistics.median(side for _, side in runs), basis="runs", runs=len(runs))


def tokens(tokenizer, texts: list[str]) -> int:
    """Tokens of ``texts`` as fine-tuning counts them (``SentenceDataset.tokens`` without padding)."""
    return sum(len(ids) for ids in tokenizer(list(texts))["input_ids"]) if texts else 0


def _probe_seconds(rates: Rates, spec, tokenizer, ft, max_new_tokens: int) -> float:
    """A member's seconds besides its overhead and its training tokens, from a probe's rates: the
    passes' fixed costs, the validation passes, and the generation before and after fine-tuning."""
    n, n_val = len(spec.fine_tuning_sentences), len(spec.validation_sentences)
    passes = ft.epochs * math.ceil(n / ft.batch_size)
    steps = ft.epochs * ft.steps_per_epoch(n)
    evaluations = steps // max(1, ft.eval_every) + 1
    val_passes = math.ceil(n_val / (ft.eval_batch_size or min(64, max(1, n_val))))
    # A validation pass is a forward pass without the backward one: about a third of a training pass.
    validation = evaluations * (tokens(tokenizer, spec.validation_sentences) * rates.seconds_per_token
                                + val_passes * rates.pass_overhead) / 3
    calls = math.ceil(2 * len(spec.generation_prompts) / GENERATION_BATCH)
    generation = calls * (rates.generation_call + max_new_tokens * rates.generation_step)
    return passes * rates.pass_overhead + validation + generation


def comparison(rates: Rates, specs: list, tokenizer, config, max_new_tokens: int) -> dict:
    """The estimate of a comparison of ``specs`` with ``config`` (a ``CompareConfig``):
    {"seconds", "members", "per_member", "at_most", **rates}; ``at_most``: early stopping may end sooner."""
    ft = config.finetune
    per_symbol = []
    for spec in specs:
        seconds = rates.overhead + ft.epochs * tokens(tokenizer, spec.fine_tuning_sentences) * rates.seconds_per_token
        if rates.basis == "probe":
            seconds += _probe_seconds(rates, spec, tokenizer, ft, max_new_tokens)
        per_symbol.append(seconds)
    members = len(config.strategies) * config.seeds
    total = rates.once + members * sum(per_symbol) / rates.side_by_side
    return {"seconds": round(total, 1), "members": members * len(specs),
            "per_member": round(statistics.fmean(per_symbol), 1),
            "at_most": bool(ft.early_stopping_patience), **rates.to_dict()}


def _timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def _marginal(small: tuple[float, int], large: tuple[float, int]) -> tuple[float, float]:
    """(seconds per unit, fixed seconds) from two timings of ``(seconds, units)``: the difference
    per unit of the larger over the smaller, and what is left of the smaller. A difference lost in
    noise (not positive) counts the larger timing as all per unit."""
    (t1, n1), (t2, n2) = small, large
    per = (t2 - t1) / (n2 - n1) if n2 > n1 and t2 > t1 else t2 / max(1, n2)
    return per, max(0.0, t1 - per * n1)


def probe(base, spec, ft_config) -> Rates:
    """Measure the rates on ``base`` (see the module docstring); ``base`` itself is not changed.
    Each rate is the difference of two timings of different sizes (so that the fixed cost of a
    pass or of a generation call is not counted per token) after a first, untimed one; each timing
    the fastest of ``REPEATS``."""
    import torch

    from core.experiment.single.pipeline import copy_base
    from core.model.tokens import add_token
    from core.train.qlora import prepare

    copied, (model, tokenizer) = _timed(lambda: copy_base(base))
    rows = [m.weight.detach().float().mean(0) for m in (model.get_input_embeddings(), model.get_output_embeddings())]
    token_id = add_token(model, tokenizer, spec.new_token, *rows)
    prompts = [spec.fill(p, spec.glosses[0]) for p in spec.generation_prompts[:2]]
    before = _generation(model, tokenizer, prompts)
    contexts = (list(spec.positive_contexts) + list(spec.negative_contexts))
    with torch.no_grad():
        batch = tokenizer(contexts[:8], return_tensors="pt", padding=True)
        passed, _ = _timed(lambda: model(**batch))
    per_context_token = passed / max(1, int(batch["attention_mask"].sum()))
    quantized, peft = _timed(lambda: prepare(model, token_id, ft_config))
    half = max(1, PROBE_SENTENCES // 2)
    _train_pass(peft, tokenizer, spec.fine_tuning_sentences[:1], 1)  # sets up kernels and buffers: not timed
    per_token, per_pass = _marginal(_train_pass(peft, tokenizer, spec.fine_tuning_sentences[:half]),
                                    _train_pass(peft, tokenizer, spec.fine_tuning_sentences[:PROBE_SENTENCES]))
    after = _generation(peft, tokenizer, prompts)
    return Rates(seconds_per_token=per_token, overhead=copied + per_context_token * tokens(tokenizer, contexts),
                 basis="probe", once=quantized, pass_overhead=per_pass, generation_step=before[0] + after[0],
                 generation_call=before[1] + after[1])


def _generation(model, tokenizer, prompts: list[str]) -> tuple[float, float]:
    """(seconds per generation step, fixed seconds per call) of greedy generation on ``model``."""
    from core.experiment.single.evaluate import greedy_generate

    greedy_generate(model, tokenizer, prompts, max_new_tokens=1)  # the first call sets things up: not timed
    one = _fastest(lambda: greedy_generate(model, tokenizer, prompts, max_new_tokens=1))
    four = _fastest(lambda: greedy_generate(model, tokenizer, prompts, max_new_tokens=4))
    return _marginal((one, 1), (four, 4))


def _fastest(fn, repeats: int = REPEATS) -> float:
    """The shortest of ``repeats`` timings of ``fn``: on a machine shared with other work, the
    slower ones measure the others' load, not this work."""
    return min(_timed(fn)[0] for _ in range(repeats))


def _train_pass(peft, tokenizer, sentences: list[str], repeats: int = REPEATS) -> tuple[float, int]:
    """Seconds of a forward and backward pass over ``sentences`` (the fastest of ``repeats``), and
    their tokens; the gradients are dropped."""
    tok = tokenizer
    if tok.pad_token is None:
        import copy

        tok = copy.deepcopy(tokenizer)
        tok.pad_token = tok.eos_token
    batch = tok(sentences, return_tensors="pt", padding=True, padding_side="right")
    device = next(peft.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    peft.train()
    seconds = _fastest(lambda: peft(**batch, labels=labels).loss.backward(), repeats)
    peft.zero_grad(set_to_none=True)
    peft.eval()
    return seconds, int(batch["attention_mask"].sum())
