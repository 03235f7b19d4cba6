"""Gloss specs for the page: the built-in examples, a blank spec, checking (with the loaded model's
tokenizer when there is one), warnings, uploads and downloads, and the limits on every field."""

from __future__ import annotations

from core.service.common import Downloads, problems_of
from core.service.models import Models
from core.spec import limits
from core.spec.errors import InputError, Problem
from core.spec.fields import LIST_FIELDS, SPEC_FIELDS, field_limits
from core.spec.gloss import GlossSpec, builtin_examples, load_example, readable_fields


class Specs:
    """What the Gloss tab asks of specs; ``models`` gives the tokenizer checks use."""

    fields = SPEC_FIELDS
    list_fields = LIST_FIELDS

    def __init__(self, models: Models, downloads: Downloads) -> None:
        self.models = models
        self.downloads = downloads

    @staticmethod
    def limits() -> list[list[str]]:
        return [[what, limit] for what, limit in limits.describe()]

    def field_limits(self) -> dict[str, dict]:
        """Per spec field: item counts and characters per item, for the counters beside each field."""
        return field_limits(self.fields)

    @staticmethod
    def examples() -> list[str]:
        return list(builtin_examples())

    @staticmethod
    def example(name: str) -> dict:
        return load_example(name).to_dict()

    def blank(self) -> dict:
        return {name: ([] if name in LIST_FIELDS else "") for name in self.fields}

    def check(self, data: dict, with_tokenizer: bool = True) -> list[dict]:
        """Every problem with a spec (an empty list when it is fine), tokenizer checks included
        when a model is loaded."""
        try:
            spec = GlossSpec.from_dict(data)
        except InputError as exc:
            return problems_of(exc)
        tokenizer = self.models.tokenizer() if with_tokenizer else None
        if tokenizer is not None:
            from core.spec.gloss import validate_for_tokenizer

            return [p.to_dict() for p in validate_for_tokenizer(spec, tokenizer)]
        return []

    def spec(self, data: dict) -> GlossSpec:
        """A validated spec (structure and tokenizer), or an InputError listing every problem."""
        problems = self.check(data)
        if problems:
            raise InputError([Problem(**p) for p in problems])
        return GlossSpec.from_dict(data)

    @staticmethod
    def warnings(data: dict) -> list[dict]:
        """What a valid spec holds but probably does not mean (``core.spec.gloss.spec_warnings``); [] if invalid."""
        from core.spec.gloss import spec_warnings

        try:
            return [w.to_dict() for w in spec_warnings(GlossSpec.from_dict(data))]
        except InputError:
            return []

    @staticmethod
    def parse_file(content: bytes | str) -> tuple[dict, list[dict]]:
        """Read an uploaded spec: (the fields that could be read, every problem).

        JSON only (never pickle or code). When the JSON is an object, the fields whose type is
        right are returned even if others are wrong, so the user can fix them in the page.
        """
        try:
            return GlossSpec.from_json(content).to_dict(), []
        except InputError as exc:
            return readable_fields(content), problems_of(exc)

    def download(self, data: dict) -> str:
        """Write the spec as JSON for download (validated structurally first); return the path."""
        spec = GlossSpec.from_dict(data)
        return str(spec.save(self.downloads.folder() / f"gloss_{spec.symbol_id}.json"))
