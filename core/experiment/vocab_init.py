"""Initialize a whole vocabulary at once: every symbol's token in one model, from one pass.

``initialize_vocabulary(vocab, config, base)`` works on a deep copy of the base (as
``core.experiment.pipeline.initialize`` does) and:

1. computes every symbol's OUTPUT row by least squares from ONE batched pass of hidden states over
   all the vocabulary's contexts (``core.embedding.output.output_embeddings``), each symbol with
   its own targets; with ``contrast`` other symbols' positive contexts join each symbol's
   negatives (those that are not its own; up to ``config.contrast_negatives`` of them, drawn with
   the seed: ``core.embedding.contrast``), so that ``[BLISS_A]`` learns to stay low where
   ``[BLISS_B]`` belongs;
2. computes every symbol's INPUT row with ``config.strategy``: ``optimized`` is batched across
   symbols (``core.embedding.optimize_many``); the sub-token strategies are a few row lookups per
   symbol and run per symbol; random draws use the seed ``config.seed + k`` for symbol ``k``, so
   that no two symbols start from the same noise;
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
from core.embedding.optimize_many import optimize_input_embeddings
from core.embedding.output import OutputFit, output_embeddings
from core.embedding.strategies import (STRATEGIES, InitConfig, InitRows, _average, _generator, _random,
                                       random_vector, _scale_details)
from core.experiment.pipeline import copy_base
from core.experiment.vocabulary import Vocabulary, check_vocabulary
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
    """Every symbol's input vector and its details, for ``config.strategy``."""
    specs = vocab.specs
    configs = [symbol_config(config, k) for k in range(len(specs))]
    if config.strategy != "optimized":
        return [STRATEGIES[config.strategy].input_vector(model, tokenizer, s, c) for s, c in zip(specs, configs)]
    start = _average if config.opt_init == "average" else _random
    starts = torch.stack([start(model, tokenizer, s, c)[0] for s, c in zip(specs, configs)])
    results = optimize_input_embeddings(model, tokenizer, specs, lr=config.opt_lr, epochs=config.opt_epochs,
                                        inits=starts, batch_size=config.opt_batch_size, on_epoch=on_epoch,
                                        precision=config.precision)
    out = []
    for k, result in enumerate(results):
        details = {"init": config.opt_init, **result.to_dict()}
        details["optimization_seconds"] = details.pop("seconds")
        if config.opt_init == "random":
            details["random_scale"] = config.random_scale
        details["cosine_to_start"] = float(torch.nn.functional.cosine_similarity(result.vector, starts[k], dim=0))
        out.append((result.vector, details))
    return out


def initial_rows_many(model, tokenizer, vocab: Vocabulary, config: InitConfig, contrast: bool = False,
                      on_event: EventFn | None = None, timings: dict | None = None) -> list[InitRows]:
    """Every symbol's starting rows (see the module docstring); ``model`` is not changed."""
    timings = timings if timings is not None else {}
    started = time.perf_counter()
    fits: list[OutputFit | None] = [None] * len(vocab)
    if config.strategy != "random_both":
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
    output_matrix = None
    for k, ((vector, details), fit) in enumerate(zip(inputs, fits)):
        details = dict(details)
        if fit is None:  # random_both: the output row is random too, with a generator of its own
            if output_matrix is None:
                output_matrix = model.get_output_embeddings().weight.detach().float().cpu()
            seed = symbol_config(config, k).seed
            output_row = random_vector(output_matrix, config.random_scale, _generator(seed + 1))
            details["output_random"] = _scale_details(output_matrix, output_row, config.random_scale)
        else:
            output_row = fit.vector.clone()
        details.update({"strategy": config.strategy, "input_norm": float(vector.norm()),
                        "output_norm": float(output_row.norm())})
        if contrast:
            details["contrast_negatives"] = fit.n_negative - len(vocab.specs[k].negative_contexts) if fit else 0
        rows.append(InitRows(input_row=vector.detach().float().cpu(), output_row=output_row.detach().float().cpu(),
                             output_fit=fit, details=details))
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
