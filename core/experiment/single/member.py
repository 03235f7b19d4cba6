"""One member of a comparison: a strategy with a seed, initialized, fine-tuned and evaluated.

A *member* is one strategy with one seed: initialize a fresh copy of the base (``core.experiment.single.pipeline``),
evaluate it, fine-tune it with QLoRA (``core.train.finetune``), evaluate it again.

Generation agreement (``gen_agreement``), the number behind "generations with the token read like
those with the gloss": for each generation prompt, take the model's greedy continuation after the
prompt filled with the gloss, then score that same continuation after the prompt filled with the
token instead. With ℓ the mean log-probability per token of the continuation,

    agreement = exp(ℓ(continuation | prompt with token) − ℓ(continuation | prompt with gloss))

averaged over prompts: the ratio of per-token likelihoods. 1 means the token leads the model to the
gloss's continuation exactly as readily as the gloss itself; near 0 means the token points elsewhere.
It is measured with the same model before (initialized rows, full precision) and after fine-tuning.
Unlike comparing two greedy texts word by word (``generation_similarity`` from ``core.experiment.single.evaluate``,
also reported), it is smooth: a continuation that differs in one early word does not score zero.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable

import torch

from core.embedding.strategies import STRATEGIES, InitConfig, fit_key, strategy_label
from core.experiment.analysis import results
from core.experiment.single.evaluate import DEFAULT_MAX_NEW_TOKENS, add_time, evaluate
from core.experiment.single.pipeline import InitCache, InitResult, initialize
from core.jsonsafe import jsonable
from core.train.events import StopRequested, stage_events
from core.train.finetune import FinetuneConfig, TrainedModel, finetune

Emit = Callable[[dict], Any]


# -- generation agreement ----------------------------------------------------------------------------

@torch.no_grad()
def continuation_logprob(model, tokenizer, prompts: list[str], continuations: list[str]) -> list[float | None]:
    """Mean log-probability per token of each continuation right after its prompt (None if empty)."""
    seqs, spans = [], []
    for prompt, cont in zip(prompts, continuations):
        p = tokenizer.encode(prompt, add_special_tokens=False)
        c = tokenizer.encode(cont, add_special_tokens=False) if cont.strip() else []
        seqs.append(p + c)
        spans.append((len(p), len(p) + len(c)))
    if not seqs:
        return []
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    was_training = model.training
    model.eval()
    try:
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
    finally:
        model.train(was_training)
    logprobs = torch.log_softmax(logits, dim=-1)
    out: list[float | None] = []
    for i, (start, end) in enumerate(spans):
        if end == start:
            out.append(None)
            continue
        positions = torch.arange(start - 1, end - 1, device=logprobs.device)
        targets = ids[i, start:end].to(logprobs.device)
        out.append(float(logprobs[i, positions, targets].mean()))
    return out


def generation_agreement(model, tokenizer, spec, generations: list[dict]) -> float | None:
    """Mean over prompts of exp(ℓ(gloss continuation | token prompt) − ℓ(same | gloss prompt))."""
    rows = [g for g in generations if g.get("continuation_with_gloss", "").strip()]
    if not rows:
        return None
    index = {p: i for i, p in enumerate(spec.generation_prompts)}
    prompts = [spec.generation_prompts[index[g["prompt"]]] for g in rows]
    conts = [g["continuation_with_gloss"] for g in rows]
    with_token = continuation_logprob(model, tokenizer, [spec.fill(p, spec.new_token) for p in prompts], conts)
    with_gloss = continuation_logprob(model, tokenizer, [spec.fill(p, spec.glosses[0]) for p in prompts], conts)
    ratios = [math.exp(t - g) for t, g in zip(with_token, with_gloss) if t is not None and g is not None]
    return round(sum(ratios) / len(ratios), 4) if ratios else None


# -- one member ------------------------------------------------------------------------------------

@dataclass
class Member:
    """One strategy × seed, fine-tuned and evaluated before and after."""

    strategy: str
    seed: int
    init: InitResult
    trained: TrainedModel | None
    evaluation_after: dict
    agreement_before: float | None
    agreement_after: float | None
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)  # seconds per kind of work (see ``run_member``)

    @property
    def name(self) -> str:
        return f"{self.strategy}-s{self.seed}"

    def record(self) -> results.SymbolRecord:
        """This member's symbol as the results schema's metrics read it (``results.SymbolRecord``)."""
        r = self.trained.result
        return results.SymbolRecord(
            token=self.init.token, training={f.name: getattr(r, f.name) for f in fields(r) if f.name != "history"},
            eval_loss=r.best_eval_loss, initial_eval_loss=r.initial_eval_loss,
            cos_input_before_after=r.cos_input_before_after, cos_output_before_after=r.cos_output_before_after,
            quality={"before": (self.init.evaluation or {}).get("quality") or {},
                     "after": (self.evaluation_after or {}).get("quality") or {}},
            agreement={"before": self.agreement_before, "after": self.agreement_after}, init_seconds=self.init.seconds)

    def row(self) -> dict:
        """The flat numbers of this member (one seed of a table row), as ``core.experiment.analysis.results`` declares them."""
        return {**identity(self.strategy, self.seed), **results.row_of(self.record())}

    def detail(self) -> dict:
        """Everything about this member, JSON-able (the curves are in ``finetune.history``)."""
        return jsonable({
            "name": self.name, "strategy": self.strategy, "seed": self.seed, "row": self.row(),
            "init": self.init.to_dict(), "finetune": self.trained.result.to_dict(),
            "finetune_config": self.trained.config.to_dict(),
            "evaluation_before": self.init.evaluation, "evaluation_after": self.evaluation_after,
            "rows_before": {"input": self.trained.rows_before[0], "output": self.trained.rows_before[1]},
            "rows_after": {"input": self.trained.rows_after[0], "output": self.trained.rows_after[1]},
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        })

    def release(self) -> None:
        """Drop the models (a comparison keeps only numbers between members)."""
        self.init.model = None
        if self.trained is not None:
            self.trained.model = None
        gc.collect()


def identity(strategy: str, seed: int) -> dict:
    """Who a row is of: the strategy, its seed, its label and whether its output row is calculated
    (the same for one symbol's member and for each symbol of a vocabulary's)."""
    return {"strategy": strategy, "seed": seed, "label": strategy_label(strategy),
            "calculated_output": STRATEGIES[strategy].calculated_output}


def after_fine_tuning(emit: Emit) -> Callable[[dict], None]:
    """The evaluation's progress (``evaluate``'s ``on_event``) as ``evaluate_after`` phase events."""
    return lambda event: emit({"type": "phase", "phase": "evaluate_after",
                               "message": f"Evaluating after fine-tuning: {event['message']}",
                               "fraction": event["fraction"]})


def run_member(spec, base, init_config: InitConfig, config: FinetuneConfig, *, emit: Emit | None = None,
               should_stop: Callable[[], bool] | None = None, max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
               init_result: InitResult | None = None, quantized_cache: dict | None = None,
               reuse: InitCache | None = None) -> Member:
    """Initialize (unless ``init_result`` is given), fine-tune, and evaluate one strategy.

    ``quantized_cache``: a dict shared by the members of a comparison; the first stores the 4-bit
    base with the token in it and the others start from a copy (see ``core.train.finetune.prepare``).
    ``reuse``: shared by the members of a comparison too (see ``InitCache``); None computes everything.
    The member's ``timings`` hold seconds of ``initialization`` (rows, model copies), ``evaluation``
    (ranks, nearest tokens, generation agreement), ``generation`` (greedy text), ``quantization``
    (the 4-bit base, once per comparison) and ``training`` (``finetune``: LoRA set-up and training).
    """
    from core.spec.gloss import check_spec

    emit = emit or (lambda event: None)
    start = time.perf_counter()
    timings: dict[str, float] = {}
    spec = check_spec(spec, base.tokenizer)
    config.check_data(len(spec.fine_tuning_sentences), len(spec.validation_sentences))
    agreement_before: float | None = None
    recalled = None
    if init_result is None and reuse is not None:
        started = time.perf_counter()
        recalled = reuse.recall(spec, base, init_config, max_new_tokens)
        if recalled is not None:
            add_time(timings, "initialization", started)
            init_result, agreement_before = recalled
            emit({"type": "phase", "phase": "init:reuse",
                  "message": f"Reusing the initialization and the evaluation before fine-tuning of an earlier "
                             f"seed ({init_config.strategy} does not depend on the seed)"})
    if init_result is None:
        fit = reuse.fits.get(fit_key(init_config)) if reuse is not None else None
        init_result = initialize(spec, init_config, base, on_event=stage_events(emit, should_stop),
                                 max_new_tokens=max_new_tokens, compare_with=(), output_fit=fit, timings=timings)
    spec = init_result.spec or spec
    if should_stop is not None and should_stop():
        raise StopRequested()
    if recalled is None:
        emit({"type": "phase", "phase": "agreement_before", "message": "Scoring generations before fine-tuning"})
        started = time.perf_counter()
        agreement_before = generation_agreement(init_result.model, init_result.tokenizer, spec,
                                                init_result.evaluation.get("generations", []))
        add_time(timings, "evaluation", started)
        if reuse is not None:
            reuse.remember(init_result, agreement_before, max_new_tokens)
    quantized = None
    if quantized_cache is not None:
        from core.train.qlora import compute_dtype, pick_device, quantize_4bit

        key = (init_result.token, len(init_result.tokenizer), config.compute_dtype)
        if key not in quantized_cache:
            emit({"type": "phase", "phase": "quantize_base", "message": "Quantizing the base model to 4 bits (once)"})
            started = time.perf_counter()
            quantized_cache.clear()
            quantized_cache[key] = quantize_4bit(init_result.model, compute_dtype(config, pick_device()))
            add_time(timings, "quantization", started)
        quantized = quantized_cache[key]
    started = time.perf_counter()
    trained = finetune(init_result.model, init_result.tokenizer, init_result.token_id, spec, config,
                       on_event=emit, should_stop=should_stop, quantized=quantized)
    add_time(timings, "training", started)
    emit({"type": "phase", "phase": "evaluate_after", "message": "Evaluating after fine-tuning", "fraction": 0.0})
    evaluation_after = evaluate(trained.model, trained.tokenizer, spec, trained.token_id, max_new_tokens,
                                timings=timings, on_event=after_fine_tuning(emit))
    started = time.perf_counter()
    agreement_after = generation_agreement(trained.model, trained.tokenizer, spec, evaluation_after["generations"])
    add_time(timings, "evaluation", started)
    return Member(init_config.strategy, init_config.seed, init_result, trained, evaluation_after,
                  agreement_before, agreement_after, time.perf_counter() - start, timings)
