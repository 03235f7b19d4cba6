"""Settings declared once: each config field carries its default, range, label and help.

A config dataclass declares a field with ``setting(...)`` (the way PEFT's ``LoraConfig`` puts
help into field metadata), and everything else is generated from that one declaration:

* validation (``validate``, called from the config's ``__post_init__``): every problem at once,
  each naming the field and the fix; whole numbers that widgets send as ``10.0`` become ``10``;
* the page's widgets (``describe``: kind, default, choices, range, label, help, advanced);
* the command line's flags (``add_arguments`` / ``from_args``): ``--learning-rate`` for
  ``learning_rate`` (plus any short spelling declared in ``flags``), help with the default and range;
* the README's settings tables (``markdown``, printed by ``python -m core settings``).

Numbers are checked in one place, ``check_value``, also used for the few values that are plain
function arguments rather than config fields (``MAX_NEW_TOKENS`` below).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any

from core.spec import limits
from core.spec.errors import Collector, InputError, fail

KEY = "glosslab"
KINDS = ("int", "float", "bool", "choice", "str", "list")


@dataclass(frozen=True)
class Setting:
    """One setting: what it is called, what it means, which values it takes."""

    default: Any
    label: str
    help: str
    kind: str
    range: tuple | None = None          # inclusive (low, high)
    choices: tuple | None = None
    positive: bool = False              # a float that must also be > 0
    advanced: bool = False              # folded away on the page
    flags: tuple[str, ...] = ()         # extra command-line spellings, e.g. ("--lr",)
    negative_flag: str | None = None    # a bool's "off" switch, e.g. "--keep-last"
    example: Any = None                 # shown in a fix when the default would read oddly

    def field(self) -> Any:
        """This setting as a dataclass field (its default, and itself as metadata)."""
        if isinstance(self.default, (list, dict)):
            return dataclasses.field(default_factory=lambda: type(self.default)(self.default), metadata={KEY: self})
        return dataclasses.field(default=self.default, metadata={KEY: self})

    def check(self, name: str, value: Any, c: Collector | None = None) -> Any:
        """``value`` checked (and whole floats made ints); problems go to ``c`` or raise at once."""
        own = c is None
        c = Collector() if own else c
        value = check_value(c, name, value, kind=self.kind, range=self.range, choices=self.choices,
                            positive=self.positive, example=self.example if self.example is not None else self.default)
        if own:
            c.raise_if_any()
        return value


def _kind(default: Any, choices: tuple | None) -> str:
    if choices is not None:
        return "choice"
    if isinstance(default, list):
        return "list"
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    return "str"


def setting(default: Any, *, label: str, help: str, range: tuple | None = None, choices: tuple | None = None,
            positive: bool = False, advanced: bool = False, flags: tuple[str, ...] = (),
            negative_flag: str | None = None, example: Any = None) -> Any:
    """A config field declared once (see the module docstring)."""
    kind = _kind(default, tuple(choices) if choices is not None else None)
    if kind == "float" and range is not None:
        range = (float(range[0]), float(range[1]))
    return Setting(default, label, help, kind, range, tuple(choices) if choices is not None else None, positive,
                   advanced, tuple(flags), negative_flag, example).field()


def choices_of(literal: Any) -> tuple:
    """The values of a ``Literal[...]`` type, for ``setting(choices=...)``."""
    return tuple(typing.get_args(literal))


# -- checking values ----------------------------------------------------------------------------

def _show(x: Any) -> str:
    """A limit as a person writes it: 2,147,483,647 and 1e-07 rather than 2.14748e+09."""
    if isinstance(x, bool):
        return "on" if x else "off"
    if isinstance(x, list):
        return ",".join(map(str, x))
    return f"{x:,}" if isinstance(x, int) else f"{x:g}" if isinstance(x, float) else str(x)


def check_value(c: Collector, name: str, value: Any, *, kind: str, range: tuple | None = None,
                choices: tuple | None = None, positive: bool = False, example: Any = None) -> Any:
    """The one number (and choice, and switch) check: add a problem naming ``name`` if ``value``
    is not acceptable; return it, with a whole float turned into an int for ``int`` settings."""
    hint = f", e.g. {_show(example)}" if example is not None and kind in ("int", "float") else ""
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # widgets send 10.0 for 10
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and range is not None:
            ok = range[0] <= value <= range[1]
        if not ok:
            where = f" from {_show(range[0])} to {_show(range[1])}" if range else ""
            c.add(name, f"{value!r} is not a whole number{where}",
                  f"give a value from {_show(range[0])} to {_show(range[1])}{hint}" if range else f"give a whole number{hint}")
    elif kind == "float":
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = isinstance(value, float) and math.isfinite(value) and (value > 0 or not positive)
        if ok and range is not None:
            ok = range[0] <= value <= range[1]
        if not ok:
            what = "a positive number" if positive else "a number"
            where = f" from {_show(range[0])} to {_show(range[1])}" if range else ""
            c.add(name, f"{value!r} is not {what}{where}",
                  f"give a value from {_show(range[0])} to {_show(range[1])}{hint}" if range else f"give {what}{hint}")
    elif kind == "bool":
        if not isinstance(value, bool):
            c.add(name, f"{value!r} is not true or false", "give true or false")
    elif kind == "choice":
        if value not in (choices or ()):
            c.add(name, f"{value!r} is not one of {', '.join(map(str, choices or ()))}",
                  f"choose one of {', '.join(map(str, choices or ()))}")
    elif kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            c.add(name, f"{value!r} is not a list of names", "give names separated by commas")
    elif not isinstance(value, str):
        c.add(name, f"{value!r} is not text", "write it as text")
    return value


# -- a config class's settings --------------------------------------------------------------------

class Config:
    """Base of a config dataclass whose fields are ``setting(...)`` declarations: validated on
    construction, read from JSON or widget values by name, written back as a dict."""

    WHAT = "settings"  # how messages name the whole config, e.g. "fine-tuning settings"

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any):
        """From JSON or widget values; unknown keys are refused by name."""
        return from_values(cls, data, cls.WHAT)


def settings_of(cls_or_obj: Any) -> dict[str, Setting]:
    """{field name: Setting} of a config dataclass, in declaration order."""
    return {f.name: f.metadata[KEY] for f in dataclasses.fields(cls_or_obj) if KEY in f.metadata}


def validate(obj: Any, c: Collector | None = None) -> Collector:
    """Check every declared setting of ``obj`` (coercing whole floats in place); raise every problem
    at once unless a collector is given (then the caller adds its own checks and raises)."""
    own = c is None
    c = Collector() if own else c
    for name, s in settings_of(obj).items():
        setattr(obj, name, s.check(name, getattr(obj, name), c))
    if own:
        c.raise_if_any()
    return c


def from_values(cls: type, values: Any, what: str) -> Any:
    """A config from JSON or widget values; unknown keys are refused by name."""
    if not isinstance(values, dict):
        raise fail(what, f"expected an object, got {type(values).__name__}", "give setting: value pairs")
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in values if k not in known]
    if unknown:
        c = Collector()
        for k in unknown:
            c.add(str(k)[:60], f"is not a setting of the {what}", "known settings: " + ", ".join(sorted(known)))
        c.raise_if_any()
    return cls(**values)


def describe(cls: type) -> list[dict]:
    """Every declared setting for the page: name, kind, default, choices, min, max, label, help, advanced."""
    out = []
    for name, s in settings_of(cls).items():
        lo, hi = s.range if s.range else (None, None)
        out.append({"name": name, "kind": s.kind, "default": s.default,
                    "choices": list(s.choices) if s.choices is not None else None, "min": lo, "max": hi,
                    "label": s.label, "help": s.help, "advanced": s.advanced})
    return out


def labels(*classes: type) -> dict[str, str]:
    """{field name: label} over several config classes (later ones win on a shared name)."""
    return {name: s.label for cls in classes for name, s in settings_of(cls).items()}


# -- the command line ---------------------------------------------------------------------------------

def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def argparse_text(text: str) -> str:
    """Text for argparse's help: argparse formats help with ``%``, so a literal ``%`` is doubled
    (``about 1 % off`` would otherwise end ``--help`` in a TypeError)."""
    return text.replace("%", "%%")


def _arg_help(s: Setting) -> str:
    facts = [f"default {_show(s.default)}"]
    if s.range:
        facts.append(f"{_show(s.range[0])} to {_show(s.range[1])}")
    return argparse_text(f"{s.help.rstrip('.')} ({'; '.join(facts)})")


def add_arguments(parser: Any, cls: type, *, skip: tuple[str, ...] = ()) -> None:
    """One flag per setting of ``cls`` (default None: an unset flag keeps the config's default)."""
    for name, s in settings_of(cls).items():
        if name not in skip:
            add_argument(parser, name, s)


def add_argument(parser: Any, name: str, s: Setting) -> None:
    """The flag of one setting (``--name-with-dashes`` and its declared spellings)."""
    if True:
        names = [flag(name), *s.flags]
        common = dict(dest=name, default=None, help=_arg_help(s))
        if s.kind == "bool":
            parser.add_argument(*names, action=argparse.BooleanOptionalAction, **common)
            if s.negative_flag:
                parser.add_argument(s.negative_flag, dest=name, action="store_false", default=None,
                                    help=argparse_text(f"the same as --no-{name.replace('_', '-')}"))
        elif s.kind == "choice":
            parser.add_argument(*names, choices=list(s.choices), **common)
        elif s.kind in ("int", "float"):
            parser.add_argument(*names, type=int if s.kind == "int" else float,
                                metavar="N" if s.kind == "int" else "X", **common)
        elif s.kind == "list":
            parser.add_argument(*names, metavar="A,B,…", **common)
        else:
            parser.add_argument(*names, metavar="TEXT", **common)


def from_args(cls: type, args: argparse.Namespace, **fixed: Any) -> Any:
    """The config for these parsed arguments: flags given override defaults; ``fixed`` overrides both."""
    given = {name: getattr(args, name) for name in settings_of(cls) if getattr(args, name, None) is not None}
    return cls(**{**given, **fixed})


# -- documentation ------------------------------------------------------------------------------------

def markdown(cls: type, *, skip: tuple[str, ...] = ()) -> str:
    """The README's table of ``cls``'s settings."""
    lines = ["| Setting | Flag | Default | Values | Meaning |", "|---|---|---|---|---|"]
    for name, s in settings_of(cls).items():
        if name in skip:
            continue
        if s.kind == "choice":
            values = ", ".join(f"`{v}`" for v in s.choices)
        elif s.kind == "bool":
            values = "on / off"
        elif s.kind == "list":
            values = "names, comma-separated"
        elif s.range:
            values = f"{_show(s.range[0])} to {_show(s.range[1])}"
        else:
            values = "text"
        flags = ", ".join(f"`{f}`" for f in (flag(name), *s.flags))
        if s.kind == "bool":
            flags += f" / `--no-{name.replace('_', '-')}`"
        if s.negative_flag:
            flags += f", `{s.negative_flag}`"
        default = f"`{_show(s.default)}`"
        lines.append(f"| {s.label} | {flags} | {default} | {values} | {s.help} |")
    return "\n".join(lines) + "\n"


# -- values that are function arguments, not config fields -------------------------------------------

MAX_NEW_TOKENS = Setting(24, "Tokens to generate", "Tokens generated greedily after each prompt.", "int",
                         range=limits.GENERATION_MAX_NEW_TOKENS)


def check_max_new_tokens(value: Any, name: str = "max_new_tokens") -> int:
    """The generation length, checked once for every caller (engine, CLI, page)."""
    return MAX_NEW_TOKENS.check(name, MAX_NEW_TOKENS.default if value is None else value)


__all__ = ["Setting", "setting", "choices_of", "check_value", "validate", "from_values", "describe", "labels",
           "add_arguments", "argparse_text", "from_args", "markdown", "MAX_NEW_TOKENS", "check_max_new_tokens",
           "InputError"]
