"""The new token's starting rows: one module per strategy, one registry, one entry point.

Every module of this package but ``base`` holds one strategy (``STRATEGY``, a ``base.Strategy``)
and is found when the package loads: adding a strategy is adding its module. The registry
``STRATEGIES`` lists them by ``order``; ``InitConfig`` is made from the shared settings below and
every strategy's own ``settings``, so a strategy's settings are declared once, in its module.

``initial_rows(model, tokenizer, spec, config)`` is the one way in for one symbol: the strategy
gives the INPUT vector; the OUTPUT vector is the calculated one (least squares,
``core.embedding.output``) unless the strategy draws it (``calculated_output`` False).
``finish_rows`` makes the rows from an input vector and a fit for one symbol of a vocabulary too
(``core.experiment.vocabulary.init`` computes the fits of all symbols in one pass).

Owns: the registry (this module), the ``Strategy`` base and shared helpers (``base``), and one
module per strategy: ``optimized``, ``average``, ``last_token``, ``random``, ``random_both``
(the research's five), ``distill``, ``adaptivocab``, ``description``, ``interpolation`` (the
field's four), ``first_token``, ``pca``, ``attention``, ``mean_resizing``.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import time
import typing
from typing import Callable

import torch

from core.embedding.output import OutputFit, output_embedding
from core.embedding.precision import Precision, resolve_precision
from core.embedding.strategies.base import InitRows, Strategy
from core.spec import limits, settings
from core.spec.settings import choices_of, setting

RandomScale = typing.Literal["matched", "unit"]


def _discover() -> dict[str, Strategy]:
    """Every strategy module of this package, by ``order`` (a module is named as its strategy).

    Found rather than listed, so that a strategy is one file; each module is imported by its own
    name inside this package only."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base" or info.name.startswith("_"):
            continue
        strategy = importlib.import_module(f"{__name__}.{info.name}").STRATEGY
        if strategy.name != info.name:
            raise ImportError(f"the strategy in {info.name}.py is named {strategy.name!r}")
        found.append(strategy)
    return {s.name: s for s in sorted(found, key=lambda s: (s.order, s.name))}


STRATEGIES: dict[str, Strategy] = _discover()


def group(name: str) -> tuple[str, ...]:
    """The strategies of a named group (``research``, ``field``, ``baseline``), in registry order."""
    return tuple(s.name for s in STRATEGIES.values() if name in s.groups)


GROUPS = ("research", "field", "baseline")
RESEARCH_STRATEGIES = group("research")


def _literal(choices: tuple) -> typing.Any:
    return typing.Literal.__getitem__(tuple(choices))


def _own_settings() -> list[tuple]:
    fields, seen = [], {}
    for strategy in STRATEGIES.values():
        for name, f in strategy.settings.items():
            if name in seen:
                raise ImportError(f"setting {name!r} is declared by both {seen[name]} and {strategy.name}")
            seen[name] = strategy.name
            s = f.metadata[settings.KEY]
            fields.append((name, _literal(s.choices) if s.choices else type(s.default), f))
    return fields


def _init_config() -> type:
    names = tuple(STRATEGIES)
    shared = [
        ("strategy", _literal(names), setting("average", label="Initialization strategy", choices=names,
                                              help="How the new token's input row starts (see the strategies "
                                                   "table).")),
        ("seed", int, setting(0, label="Random seed", range=limits.SEED_VALUE,
                              help="Seed of every random draw (random strategies, the optimization's start).")),
        ("random_scale", RandomScale, setting("matched", label="Scale of random vectors",
                                              choices=choices_of(RandomScale),
                                              help="matched: like the model's embedding rows (fair baseline); "
                                                   "unit: unit-variance noise (as in the research).")),
        ("negative_logit", float, setting(-10.0, label="Target logit for negative contexts",
                                          range=limits.NEGATIVE_LOGIT,
                                          help="The output row's logit that least squares aims for after a "
                                               "negative context.")),
    ]
    tail = [("precision", Precision, setting(
        "auto", label="Precision of the passes", choices=choices_of(Precision), advanced=True,
        help="auto: bfloat16 where the hardware multiplies it natively (a GPU, or a CPU with AVX-512 BF16 or "
             "AMX), else the model's own dtype; model: the contexts run through the model in its own dtype "
             "(float32 on a CPU), as the method states; bfloat16: the output fit's and the strategies' passes "
             "run in bfloat16 (float32 sums), about 2.5 times faster on a CPU with native bfloat16 and far "
             "slower on one without, with contextual embeddings about 1 % off.")),
            ("contrast_negatives", int, setting(
                200, label="Contrast negatives per symbol", range=limits.CONTRAST_NEGATIVES, advanced=True,
                help="A vocabulary with contrast: how many of the other symbols' positive contexts join each "
                     "symbol's negatives, drawn with the seed (0 = all of them; all when there are fewer)."))]
    cls = dataclasses.make_dataclass("InitConfig", shared + _own_settings() + tail, bases=(settings.Config,),
                                     namespace={"WHAT": "initialization settings"})
    cls.__module__ = __name__  # so that a pickled config (sent to a worker process) finds its class
    cls.__doc__ = ("How to initialise the new token's rows: the shared settings and every strategy's own. "
                   "Invalid values raise one ``InputError`` naming each field.")
    return cls


InitConfig = _init_config()


def strategy_of(config) -> Strategy:
    return STRATEGIES[config.strategy]


def strategy_label(name: str) -> str:
    """The research table's first column for a strategy ("Averaged input; calculated output")."""
    return STRATEGIES[name].table_label


def depends_on_seed(config) -> bool:
    """Whether ``initial_rows`` can give different rows for another ``config.seed``. A comparison
    initializes and evaluates a seed-independent strategy once for all its seeds."""
    return STRATEGIES[config.strategy].seeded(config)


def fit_key(of) -> tuple[float, str]:
    """What the calculated output row depends on besides the model and the spec: the negative
    contexts' target logit and the precision of the pass (``auto`` as what it resolves to)."""
    return float(of.negative_logit), resolve_precision(of.precision)


def finish_rows(model, config, vector: torch.Tensor, details: dict, fit: OutputFit | None) -> InitRows:
    """The rows from an input vector and, for a calculated output, its fit (else the strategy draws it)."""
    details = dict(details)
    strategy = STRATEGIES[config.strategy]
    if strategy.calculated_output:
        if fit is None:
            raise ValueError(f"{strategy.name} needs the calculated output row")
        output_row = fit.vector.clone()  # the fit may be shared: each member gets rows of its own
    else:
        output_row, drawn = strategy.output_row(model, config)
        details.update(drawn)
        fit = None
    details.update({"strategy": config.strategy, "input_norm": float(vector.norm()),
                    "output_norm": float(output_row.norm())})
    return InitRows(input_row=vector.detach().float().cpu(), output_row=output_row.detach().float().cpu(),
                    output_fit=fit, details=details)


def initial_rows(model, tokenizer, spec, config, on_epoch: Callable[[dict], None] | None = None,
                 output_fit: OutputFit | None = None) -> InitRows:
    """The new token's input and output rows for ``config.strategy`` (see the module docstring).

    ``on_epoch`` receives ``{"epoch", "epochs", "train_loss", "val_loss", "seconds"}`` after every
    epoch of a strategy that trains its vector; others never call it. ``output_fit``: the
    calculated output row already computed for this model, spec, ``config.negative_logit`` and
    precision (it depends on nothing else; a comparison computes it once for all its members); a
    fit for other settings is not used.
    """
    started = time.perf_counter()
    strategy = STRATEGIES[config.strategy]
    strategy.check(spec, config, tokenizer)
    vector, details = strategy.input_row(model, tokenizer, spec, config, on_epoch)
    fit = None
    if strategy.calculated_output:
        fit = output_fit
        if fit is None or fit_key(fit) != fit_key(config):
            fit = output_embedding(model, tokenizer, spec, negative_logit=config.negative_logit,
                                   precision=config.precision)
        else:
            details = {**details, "output_fit_shared": True}  # computed for an earlier member
    rows = finish_rows(model, config, vector, details, fit)
    rows.details["seconds"] = round(time.perf_counter() - started, 4)
    return rows


def check_strategies(specs: list, names, config, tokenizer=None) -> list:
    """What each spec lacks for each named strategy (``Strategy.check``), as problems; with several
    specs each field is prefixed by the spec's token."""
    from core.spec.errors import InputError, Problem

    problems = []
    for name in dict.fromkeys(names):
        sub = dataclasses.replace(config, strategy=name)
        for spec in specs:
            try:
                STRATEGIES[name].check(spec, sub, tokenizer)
            except InputError as exc:
                problems += [p if len(specs) == 1 else Problem(f"{spec.new_token} {p.field}", p.problem, p.fix)
                             for p in exc.problems if p not in problems]
    return problems


def input_vectors(model, tokenizer, spec, names, config) -> dict[str, torch.Tensor]:
    """The input vector each named strategy starts from (e.g. for a table of cosine similarities)."""
    vectors = {}
    for name in names:
        sub = dataclasses.replace(config, strategy=name)
        vectors[name] = STRATEGIES[name].input_row(model, tokenizer, spec, sub)[0].detach().float().cpu()
    return vectors


__all__ = ["STRATEGIES", "RESEARCH_STRATEGIES", "GROUPS", "InitConfig", "InitRows", "Strategy", "group",
           "strategy_of", "strategy_label", "depends_on_seed", "fit_key", "finish_rows", "initial_rows",
           "input_vectors", "check_strategies"]
