"""Three built-in specs by name: the vocabulary the tiny-model tests use, whatever else data/ holds."""

from __future__ import annotations

import json

from core.spec.gloss import GlossSpec, builtin_examples

THREE = ("lowness_shortness", "to_brush_teeth", "wool_shop")


def three_dicts() -> list[dict]:
    return [json.loads(builtin_examples()[name].read_text(encoding="utf-8")) for name in THREE]


def three_specs() -> list[GlossSpec]:
    return [GlossSpec.load(builtin_examples()[name]) for name in THREE]
