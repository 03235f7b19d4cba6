"""One initialization, end to end: spec + strategy + base model → a model with the new token, evaluated.

``initialize`` works on deep copies: the base model and its tokenizer are shared by every run
(the web app keeps one per process), so they must never gain the token or change a weight.
Progress goes to ``on_event`` as small dicts, the one channel the CLI's progress bar and the
web page read:

    {"stage": "validate" | "copy" | "output_fit" | "input_row" | "compare" | "add_token" | "done",
     "message": str, ...}
    {"stage": "optimize", "epoch": int, "epochs": int, "train_loss": float, "val_loss": float}
    {"stage": "rank" | "generate", "message": str, "fraction": float}   (the evaluation, see ``evaluate``)
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch

from core.jsonsafe import jsonable
from core.experiment.single.evaluate import DEFAULT_MAX_NEW_TOKENS, cosine_matrix, evaluate, n_candidates
from core.model.loading import LoadedModel
from core.model.tokens import untie_embeddings
from core.spec.gloss import GlossSpec, check_spec
from core.spec.settings import check_max_new_tokens
from core.embedding.precision import precision_warning
from core.embedding.output import OutputFit, output_embedding
from core.embedding.strategies import (STRATEGIES, InitConfig, InitRows, depends_on_seed, fit_key, group,
                                      initial_rows, input_vectors)
from core.model.tokens import add_token

EventFn = Callable[[dict], None]

# Strategies whose input vectors are compared with the chosen one by cosine (item 7 of the
# evaluation): the cheap baselines (a strategy's ``baseline`` group). Computing a trained vector
# here would double the cost of a run that trains one and repeat the run itself otherwise.
COMPARE_WITH = group("baseline")


@dataclass
class InitResult:
    """A model that has the new token with its initial rows, and how it does before fine-tuning."""

    model: torch.nn.Module
    tokenizer: Any
    token_id: int
    token: str
    strategy: str
    rows: InitRows
    evaluation: dict
    seconds: float
    config: InitConfig | None = None
    spec: GlossSpec | None = None
    model_name: str = ""
    cosines: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Everything but the model: JSON-able (no tensors; non-finite numbers become None)."""
        fit = self.rows.output_fit
        inp, out = self.rows.input_row.float(), self.rows.output_row.float()
        evaluation = self.evaluation or {}
        return jsonable({
            "strategy": self.strategy,
            "strategy_label": STRATEGIES[self.strategy].label if self.strategy in STRATEGIES else self.strategy,
            "token": self.token,
            "token_id": self.token_id,
            "candidates": n_candidates(self.model, self.tokenizer),
            "model": self.model_name,
            "spec": self.spec.title if self.spec is not None else None,
            "config": self.config.to_dict() if self.config is not None else None,
            "output_fit_residual": fit.residual if fit is not None else None,
            "output_fit": fit.to_dict() if fit is not None else None,
            "details": self.rows.details,
            "input_norm": float(inp.norm()),
            "output_norm": float(out.norm()),
            "input_output_cosine": float(torch.nn.functional.cosine_similarity(inp, out, dim=0)),
            "cosines": self.cosines,
            "testing": evaluation.get("testing", []),
            "generations": evaluation.get("generations", []),
            "nearest": evaluation.get("nearest", {}),
            "quality": evaluation.get("quality", {}),
            "hidden_mse": evaluation.get("hidden_mse"),
            "seconds": round(self.seconds, 3),
        })


def copy_base(base: LoadedModel) -> tuple[torch.nn.Module, Any]:
    """A deep copy of the base model (untied, in eval mode) and of its tokenizer, to add a token to."""
    model = copy.deepcopy(base.model)
    tokenizer = copy.deepcopy(base.tokenizer)
    untie_embeddings(model)  # a no-op for models from load_model; keeps the rule for any other
    model.eval()
    return model, tokenizer


def _emit(on_event: EventFn | None, stage: str, message: str, **extra) -> None:
    if on_event is not None:
        on_event({"stage": stage, "message": message, **extra})


def initialize(spec: GlossSpec | dict, config: InitConfig | None, base: LoadedModel,
               on_event: EventFn | None = None, evaluate_after: bool = True,
               max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
               compare_with: tuple[str, ...] = COMPARE_WITH, output_fit: OutputFit | None = None,
               timings: dict[str, float] | None = None) -> InitResult:
    """Add ``spec``'s token to a copy of ``base`` with ``config.strategy``'s rows, then evaluate.

    Raises ``InputError`` (every problem at once) when the spec does not suit this tokenizer.
    ``compare_with`` names strategies whose input vectors are compared with the chosen one by
    cosine (an empty tuple skips it). ``output_fit``: the calculated output row, when already
    computed for this base and spec (see ``initial_rows``). ``timings``: seconds are added to its
    ``initialization``, ``evaluation`` and ``generation`` entries.
    """
    start = time.perf_counter()
    config = config if config is not None else InitConfig()
    max_new_tokens = check_max_new_tokens(max_new_tokens)
    _emit(on_event, "validate", "Checking the spec against the model's tokenizer")
    spec = check_spec(spec, base.tokenizer)
    strategy = STRATEGIES[config.strategy]
    strategy.check(spec, config, base.tokenizer)
    warning = precision_warning(config.precision, base.model.get_input_embeddings().weight.device.type)
    if warning:
        _emit(on_event, "warning", f"Warning: {warning}")

    _emit(on_event, "copy", "Copying the base model")
    model, tokenizer = copy_base(base)

    fitted_here = strategy.calculated_output and (output_fit is None or fit_key(output_fit) != fit_key(config))
    if fitted_here:  # its own stage, so that progress can say which of the two is running
        _emit(on_event, "output_fit", "Fitting the output row by least squares over the contexts")
        output_fit = output_embedding(model, tokenizer, spec, negative_logit=config.negative_logit,
                                      precision=config.precision)
    _emit(on_event, "input_row", f"Computing the {strategy.label} input row", strategy=config.strategy)

    def on_epoch(entry: dict) -> None:
        _emit(on_event, "optimize", f"Optimizing the input vector: epoch {entry.get('epoch'):g}", **entry)

    rows = initial_rows(model, tokenizer, spec, config, on_epoch=on_epoch, output_fit=output_fit)
    if fitted_here:  # computed just above for this initialization, not shared with an earlier one
        rows.details.pop("output_fit_shared", None)
    if warning:
        rows.details["warnings"] = [warning]

    cosines: dict = {}
    others = [name for name in compare_with if name != config.strategy]
    if others:
        # Before add_token: every strategy reads the vocabulary as the base model has it.
        _emit(on_event, "compare", "Comparing the input vector with other strategies' vectors")
        vectors = {config.strategy: rows.input_row, **input_vectors(model, tokenizer, spec, others, config)}
        cosines = cosine_matrix(vectors)

    _emit(on_event, "add_token", f"Adding {spec.new_token} to the vocabulary")
    token_id = add_token(model, tokenizer, spec.new_token, rows.input_row, rows.output_row)

    if timings is not None:
        timings["initialization"] = timings.get("initialization", 0.0) + time.perf_counter() - start
    evaluation: dict = {}
    if evaluate_after:
        evaluation = evaluate(model, tokenizer, spec, token_id, max_new_tokens, timings=timings,
                              on_event=(lambda e: _emit(on_event, e["stage"], e["message"][:1].upper() + e["message"][1:],
                                                        fraction=e["fraction"])) if on_event else None)

    seconds = time.perf_counter() - start
    _emit(on_event, "done", f"Done in {seconds:.1f} s", seconds=seconds)
    return InitResult(model=model, tokenizer=tokenizer, token_id=token_id, token=spec.new_token,
                      strategy=config.strategy, rows=rows, evaluation=evaluation, seconds=seconds,
                      config=config, spec=spec, model_name=base.name, cosines=cosines)


@dataclass
class InitCache:
    """What the members of one comparison compute once and share (``core.experiment.single.compare.run_member``).

    * ``fits``: the calculated output row by ``fit_key`` (negative logit, precision); it depends on
      the base model and the spec only, so every strategy with a calculated output row gets the same one.
    * ``before``: for a strategy whose rows do not depend on the seed (``depends_on_seed``), the
      first seed's initialization (rows, evaluation before fine-tuning, generations) and its
      generation agreement, without the model. A later seed gets a fresh copy of the base with
      those rows: the same numbers the whole initialization would give again.
    """

    fits: dict = field(default_factory=dict)
    before: dict = field(default_factory=dict)

    @staticmethod
    def key(init_config: InitConfig, max_new_tokens: int) -> tuple:
        settings_ = replace(init_config, seed=0).to_dict()
        return tuple(sorted((k, repr(v)) for k, v in settings_.items())) + (("max_new_tokens", max_new_tokens),)

    def remember(self, init_result: InitResult, agreement_before: float | None, max_new_tokens: int) -> None:
        fit = init_result.rows.output_fit
        if fit is not None:
            self.fits.setdefault(fit_key(fit), fit)
        config = init_result.config
        if config is not None and not depends_on_seed(config) and init_result.evaluation:
            self.before.setdefault(self.key(config, max_new_tokens),
                                   (replace(init_result, model=None, tokenizer=None), agreement_before))

    def recall(self, spec, base, init_config: InitConfig, max_new_tokens: int
               ) -> tuple[InitResult, float | None] | None:
        """An earlier seed's initialization with a fresh model, or None (not seed-independent, not seen)."""
        if depends_on_seed(init_config):
            return None
        found = self.before.get(self.key(init_config, max_new_tokens))
        if found is None:
            return None
        cached, agreement_before = found
        model, tokenizer = copy_base(base)
        token_id = add_token(model, tokenizer, spec.new_token, cached.rows.input_row, cached.rows.output_row)
        if token_id != cached.token_id:  # cannot happen with the same base; never reuse wrong numbers
            return None
        return replace(cached, model=model, tokenizer=tokenizer, config=init_config), agreement_before
