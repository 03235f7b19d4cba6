"""Text for people: user text made literal in Markdown and HTML, numbers written one way, and the
one palette every chart uses (on the page and in the reports); ``finite`` is the one number test.

User text (glosses, contexts, generations, error messages quoting them) may hold ``<script>``,
HTML or Markdown syntax. ``md`` makes it literal for any Markdown (a paragraph, a list item or a
table cell): ``<`` and ``>`` become entities (and ``&`` where it would start one), the characters
that format inline (``\\ ` * _ [ ] | ~``) are backslash-escaped, a marker that would start a
heading or a list at the beginning of a line is escaped too, and line breaks become ``<br>`` (a
table row stays one row). Plain punctuation (a
decimal point, parentheses) is left alone, so numbers and titles read as written in the raw file.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

from core.jsonsafe import finite  # noqa: F401  (the one number test, shown with the rest)

_ENTITY = re.compile(r"&(?=#?\w+;)")  # only an ampersand that would start an entity changes
_INLINE = re.compile(r"([\\`*_\[\]|~])")
_LINE_START = re.compile(r"^(\s*)(#|[+\-](?=\s|$)|\d+(?=[.)](?:\s|$)))", re.M)

# Color-blind-safe (Okabe and Ito), black last but one: every chart of the page and the reports.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]


def md(text: Any) -> str:
    """``text`` for Markdown, shown exactly as typed (see the module docstring)."""
    escaped = _ENTITY.sub("&amp;", str(text)).replace("<", "&lt;").replace(">", "&gt;")
    escaped = _INLINE.sub(r"\\\1", escaped)
    escaped = _LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)
    return escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def html_text(text: Any) -> str:
    """``text`` for HTML (attribute-safe), line breaks kept as ``<br>``."""
    return html.escape(str(text), quote=True).replace("\n", "<br>")


def num(value: Any, digits: int = 4) -> str:
    """A number for a cell: ``digits`` significant digits, whole numbers whole ('43300', not
    '4.33e+04'), '' for missing, '—' for NaN, yes/no for a switch."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "—" if math.isnan(value) else str(value)
        if value.is_integer() and abs(value) < 1e12:
            return str(int(value))
        if abs(value) >= 10 ** digits:
            return f"{value:.1f}"
        return f"{value:.{digits}g}"
    return str(value)


def setting_value(value: Any) -> str:
    """A setting's value as a person writes it (on/off as yes/no, lists comma-separated, 1e-05)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)
