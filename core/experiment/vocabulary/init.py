"""Initialize a whole vocabulary at once: every symbol's token in one model, from one pass.

``initialize_vocabulary(vocab, config, base)`` works on a deep copy of the base (as
``core.experiment.single.pipeline.initialize`` does) and:

1. computes every symbol's OUTPUT row by least squares from ONE batched pass of hidden states over
   all the vocabulary's contexts (``core.embedding.output.output_embeddings``), each symbol with
   its own targets; with ``contrast`` other symbols' positive contexts join each symbol's
   negatives (those that are not its own; up to ``config.contrast_negatives`` of them, drawn with
   the seed: ``core.embedding.contrast``), so that ``[BLISS_A]`` learns to stay low where
   ``[BLISS_B]`` belongs;
2. computes every symbol's INPUT row with the strategy's ``input_rows`` (batched across symbols
   where the strategy has shared work, a loop otherwise); symbol ``k`` has the seed
   ``config.seed + k``, so that no two symbols start from the same noise;
3. adds every token in ONE resize (``core.model.tokens.add_tokens``).

Without ``contrast`` the rows are those of K single-symbol initializations (symbol ``k`` with seed
``config.seed + k``), up to floating-point rounding of the larger batches; the tests check it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import torch

from core.embedding.contrast import contrast_negatives as sample_contrast
from core.embedding.output import OutputFit, output_embeddings
from core.embedding.strategies import InitConfig, InitRows, finish_rows, strategy_of
from core.experiment.single.pipeline import copy_base
from core.experiment.vocabulary.load import Vocabulary, check_vocabulary
from core.jsonsafe import jsonable
from core.model.loading import LoadedModel
from core.model.tokens import add_tokens

EventFn = Callable[[dict], None]


@dataclass
class VocabInit:
    """A model with every symbol's token and its starting rows."""

    model: torch.nn.Module
    tokenizer: Any
    vocab: Vocabulary
    token_ids: list[int]
    rows: list[InitRows]
    config: InitConfig
    contrast: bool
    seconds: float
    model_name: str = ""
    timings: dict = field(default_factory=dict)

    def symbols(self) -> list[dict]:
        """Per symbol: token, id, the output fit and the strategy's details (JSON-able)."""
        out = []
        for spec, token_id, rows in zip(self.vocab.specs, self.token_ids, self.rows):
            inp, outp = rows.input_row.float(), rows.output_row.float()
            out.append({
                "token": spec.new_token, "token_id": token_id, "symbol_id": spec.symbol_id,
                "gloss": spec.glosses[0],
                "output_fit": rows.output_fit.to_dict() if rows.output_fit is not None else None,
                "input_norm": float(inp.norm()), "output_norm": float(outp.norm()),
                "input_output_cosine": float(torch.nn.functional.cosine_similarity(inp, outp, dim=0)),
                "details": rows.details,
            })
        return jsonable(out)

    def to_dict(self) -> dict:
        return jsonable({"model": self.model_name, "strategy": self.config.strategy, "config": self.config.to_dict(),
                         "contrast": self.contrast, "symbols": self.symbols(),
                         "seconds": round(self.seconds, 3), "timings": {k: round(v, 3) for k, v in self.timings.items()}})


def _emit(on_event: EventFn | None, stage: str, message: str, **extra) -> None:
    if on_event is not None:
        on_event({"stage": stage, "message": message, **extra})


def contrast_negatives(vocab: Vocabulary, per_symbol: int = 0, seed: int = 0) -> list[list[str]]:
    """For each symbol, other symbols' positive contexts that are none of its own: up to ``per_symbol``
    of them drawn with ``seed`` (0 = all; ``core.embedding.contrast``)."""
    return sample_contrast(vocab.specs, per_symbol, seed)


def symbol_config(config: InitConfig, k: int) -> InitConfig:
    """Symbol ``k``'s settings: the vocabulary's, with the seed ``config.seed + k``."""
    return replace(config, seed=config.seed + k)


def input_rows(model, tokenizer, vocab: Vocabulary, config: InitConfig,
               on_epoch: EventFn | None = None) -> list[tuple[torch.Tensor, dict]]:
    """Every symbol's input vector and its details, for ``config.strategy`` (batched where the
    strategy offers it, e.g. ``optimized``)."""
    configs = [symbol_config(config, k) for k in range(len(vocab.specs))]
    strategy = strategy_of(config)
    for spec, c in zip(vocab.specs, configs):
        strategy.check(spec, c, tokenizer)
    return strategy.input_rows(model, tokenizer, list(vocab.specs), configs, on_epoch)


def initial_rows_many(model, tokenizer, vocab: Vocabulary, config: InitConfig, contrast: bool = False,
                      on_event: EventFn | None = None, timings: dict | None = None) -> list[InitRows]:
    """Every symbol's starting rows (see the module docstring); ``model`` is not changed."""
    timings = timings if timings is not None else {}
    started = time.perf_counter()
    fits: list[OutputFit | None] = [None] * len(vocab)
    if strategy_of(config).calculated_output:
        _emit(on_event, "output_rows", f"Fitting {len(vocab)} output rows from one pass over every context")
        extra = contrast_negatives(vocab, config.contrast_negatives, config.seed) if contrast else None
        fits = list(output_embeddings(model, tokenizer, vocab.specs, config.negative_logit, extra,
                                      precision=config.precision))
    timings["output_rows"] = time.perf_counter() - started

    started = time.perf_counter()
    _emit(on_event, "input_rows", f"Computing {len(vocab)} input rows ({config.strategy})", strategy=config.strategy)

    def on_epoch(entry: dict) -> None:
        _emit(on_event, "optimize", f"Optimizing the input vectors: epoch {entry.get('epoch')}", **entry)

    inputs = input_rows(model, tokenizer, vocab, config, on_epoch)
    timings["input_rows"] = time.perf_counter() - started
    rows = []
    for k, ((vector, details), fit) in enumerate(zip(inputs, fits)):
        row = finish_rows(model, symbol_config(config, k), vector, details, fit)
        if contrast:
            row.details["contrast_negatives"] = fit.n_negative - len(vocab.specs[k].negative_contexts) if fit else 0
        rows.append(row)
    return rows


def initialize_vocabulary(vocab: Vocabulary, config: InitConfig | None, base: LoadedModel, contrast: bool = False,
                          on_event: EventFn | None = None) -> VocabInit:
    """A copy of ``base`` with every symbol's token and rows (raises ``InputError`` on any problem)."""
    start = time.perf_counter()
    config = config if config is not None else InitConfig()
    _emit(on_event, "validate", f"Checking {len(vocab)} specs against the model's tokenizer")
    check_vocabulary(vocab, base.tokenizer)
    _emit(on_event, "copy", "Copying the base model")
    model, tokenizer = copy_base(base)
    timings: dict[str, float] = {}
    rows = initial_rows_many(model, tokenizer, vocab, config, contrast, on_event, timings)
    _emit(on_event, "add_token", f"Adding {len(vocab)} tokens in one resize")
    added = time.perf_counter()
    token_ids = add_tokens(model, tokenizer, vocab.tokens, torch.stack([r.input_row for r in rows]),
                           torch.stack([r.output_row for r in rows]))
    timings["add_tokens"] = time.perf_counter() - added
    seconds = time.perf_counter() - start
    _emit(on_event, "done", f"Initialized {len(vocab)} symbols in {seconds:.1f} s", seconds=seconds)
    return VocabInit(model=model, tokenizer=tokenizer, vocab=vocab, token_ids=token_ids, rows=rows, config=config,
                     contrast=contrast, seconds=seconds, model_name=base.name, timings=timings)
