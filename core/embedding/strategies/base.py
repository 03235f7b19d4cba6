"""What every strategy is and shares: the ``Strategy`` base, the rows it gives, and the helpers
that read a gloss's sub-token rows or draw random vectors.

A strategy is one module of this package holding one ``Strategy`` subclass instance named
``STRATEGY``. The class says everything the rest of Gloss Lab needs to know about it, so that
nothing outside its module names it:

* ``name``, ``label``, ``help`` and ``row_label`` (the research table's first column);
* ``order``: where it is listed (page, command line, comparisons);
* ``groups``: the named sets it belongs to (``research``: the research's five, the default of a
  comparison; ``field``: the initializers other tools use; ``baseline``: the cheap vectors every
  initialization is compared with by cosine);
* ``settings``: its own settings, declared once with ``setting(...)`` and named with the
  strategy's prefix (``opt_lr``); they become fields of ``InitConfig`` and are grouped on the
  page under ``settings_title``;
* ``seeded(config)``: whether its rows can change with ``config.seed`` (a comparison computes a
  seed-independent strategy once for all seeds);
* ``calculated_output``: whether the output row is the least-squares fit; when it is not,
  ``output_row`` draws it;
* ``input_row(...)``: the input vector for one symbol and its JSON-able details;
  ``input_rows(...)``: for many symbols at once (a loop by default; a strategy with shared work
  overrides it).

Glosses are tokenized with their leading space (" wool shop"), as they appear after a word. With
several synonymous glosses, every sub-token strategy works per gloss and then averages across
glosses, so a gloss with more sub-tokens does not weigh more than a short one. Every random draw
uses a local ``torch.Generator`` seeded from the config: the same seed gives the same vector,
whatever else has used the global random state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import torch

from core.embedding.field_rows import gloss_rows, matrix, per_gloss  # noqa: F401  (strategies take them from here)
from core.embedding.output import OutputFit
from core.spec.errors import fail

EpochFn = Callable[[dict], None]
Row = tuple[torch.Tensor, dict]


@dataclass
class InitRows:
    """The new token's starting rows, the least-squares fit (None when the output is drawn), and
    JSON-able details."""

    input_row: torch.Tensor
    output_row: torch.Tensor
    output_fit: OutputFit | None
    details: dict = field(default_factory=dict)


class Strategy:
    """One way to start the new token's rows (see the module docstring)."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    help: ClassVar[str] = ""
    row_label: ClassVar[str] = ""
    order: ClassVar[int] = 100
    groups: ClassVar[tuple[str, ...]] = ()
    settings: ClassVar[dict[str, Any]] = {}
    settings_title: ClassVar[str] = ""
    calculated_output: ClassVar[bool] = True

    @property
    def table_label(self) -> str:
        """The research table's first column ("Averaged input; calculated output")."""
        output = "calculated output" if self.calculated_output else "random output"
        return self.row_label or f"{self.label}; {output}"

    def seeded(self, config) -> bool:
        """Whether another ``config.seed`` can give other rows (False: deterministic)."""
        return False

    def input_row(self, model, tokenizer, spec, config, on_epoch: EpochFn | None = None) -> Row:
        raise NotImplementedError

    def input_rows(self, model, tokenizer, specs: list, configs: list, on_epoch: EpochFn | None = None) -> list[Row]:
        """Every symbol's input vector and details (symbol ``k`` with ``configs[k]``)."""
        return [self.input_row(model, tokenizer, s, c) for s, c in zip(specs, configs)]

    def output_row(self, model, config) -> Row:
        """The output row of a strategy whose output is not calculated (never called otherwise)."""
        raise NotImplementedError(f"{self.name}'s output row is calculated by least squares")

    def check(self, spec, config, tokenizer=None) -> None:
        """Raise an ``InputError`` naming the field when ``spec`` lacks what this strategy needs
        (with ``tokenizer``, also what depends on the model's tokens)."""

    def describe(self) -> dict:
        """What the page and the command line show of it."""
        return {"name": self.name, "label": self.label, "help": self.help, "row_label": self.table_label,
                "calculated_output": self.calculated_output, "groups": list(self.groups),
                "settings": list(self.settings), "settings_title": self.settings_title}


# -- helpers the strategies share ---------------------------------------------------------------

def input_matrix(model) -> torch.Tensor:
    return matrix(model)


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def random_vector(matrix: torch.Tensor, scale: str, gen: torch.Generator) -> torch.Tensor:
    """Noise of the matrix's per-dimension mean and standard deviation ("matched") or N(0, 1) ("unit")."""
    noise = torch.randn(matrix.shape[1], generator=gen)
    if scale == "unit":
        return noise
    return matrix.mean(0) + matrix.std(0) * noise


def scale_details(matrix: torch.Tensor, vector: torch.Tensor, scale: str) -> dict:
    return {"scale": scale,
            "std": "per dimension of the matrix" if scale == "matched" else 1.0,
            "vector_norm": float(vector.norm()),
            "median_row_norm": float(matrix.norm(dim=1).median())}


def random_input(model, config) -> Row:
    """A random input vector of ``config.random_scale``, drawn with ``config.seed``."""
    matrix = input_matrix(model)
    vector = random_vector(matrix, config.random_scale, generator(config.seed))
    return vector, {"input_random": scale_details(matrix, vector, config.random_scale)}


def mean_of_subtokens(model, tokenizer, spec) -> torch.Tensor:
    """The mean of the gloss's sub-token input rows, averaged across glosses (a common start)."""
    return per_gloss(model, tokenizer, spec, lambda rows: rows.mean(0))


def require(field: str, present: bool, strategy: str, fix: str) -> None:
    """A strategy's check: raise naming ``field`` unless ``present``."""
    if not present:
        raise fail(field, f"is empty, and the {strategy} strategy needs it", fix)
