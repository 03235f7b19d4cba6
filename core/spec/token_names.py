"""Token names inside text: finding another symbol's token where a spec's own should be.

A spec copied or half-replaced from another symbol's (a Bliss look-up that changed the gloss and
token but kept the lists) holds sentences with that symbol's token, ``[BLISS_29111]`` in a spec
for ``[BLISS_16228]``. What counts as a token name: a bracketed name with an underscore
(``[BLISS_29111]``, ``[MY_TOKEN]``) or an angle-bracketed one (``<bliss_1>``); words in brackets
without an underscore (``[sic]``) do not.
"""

from __future__ import annotations

import re

_TOKEN_LIKE = re.compile(r"\[[A-Za-z][A-Za-z0-9]*_[\w-]+\]|<[A-Za-z][A-Za-z0-9]*_[\w-]+>")


def token_names(text: str) -> list[str]:
    """Every token name in ``text``, once each, in order."""
    return list(dict.fromkeys(_TOKEN_LIKE.findall(text)))


def other_tokens(text: str, token: str) -> list[str]:
    """Token names in ``text`` other than ``token``."""
    return [t for t in token_names(text) if t != token]


def another_token(items: list[str], total: int, token: str) -> str:
    """How many of ``total`` items name another token than ``token``, and which (at most three)."""
    names = list(dict.fromkeys(t for item in items for t in other_tokens(item, token)))
    return (f"{len(items)} of {total} use {', '.join(names[:3])}{' …' if len(names) > 3 else ''}, "
            f"not the new token {token}")
